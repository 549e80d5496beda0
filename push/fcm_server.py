"""A local FCM-compatible HTTP server: the development push target, with fault injection.

Run it::

    python -m push.fcm_server [--host 127.0.0.1] [--port 9099] [--verbose]

or in-process (tests)::

    with LocalFCMServer() as server:          # an ephemeral port on 127.0.0.1, served by a thread
        push.fcm.configure("test", "demo-project", endpoint=server.url)
        ...
        server.emulator.messages()            # or GET {server.url}/messages

Send API (what firebase-admin calls)
------------------------------------
``POST /v1/projects/{project}/messages:send`` with ``{"message": {...}, "validate_only": false}`` and an
``Authorization: Bearer <anything>`` header. It answers ``{"name": "projects/{project}/messages/{id}"}``
or an error shaped like Google's, which the SDK turns into the same exceptions as FCM's::

    {"error": {"code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND",
               "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                            "errorCode": "UNREGISTERED"}]}}

=========================  ====  ======================  ================================================
FcmError ``errorCode``     HTTP  ``status``              when
=========================  ====  ======================  ================================================
``INVALID_ARGUMENT``       400   ``INVALID_ARGUMENT``    the validation below fails (field errors add a
                                                         ``google.rpc.BadRequest`` detail)
``THIRD_PARTY_AUTH_ERROR`` 401   ``UNAUTHENTICATED``     injected per token
``SENDER_ID_MISMATCH``     403   ``PERMISSION_DENIED``   injected per token
``UNREGISTERED``           404   ``NOT_FOUND``           injected per token
``QUOTA_EXCEEDED``         429   ``RESOURCE_EXHAUSTED``  injected outage with status 429
``INTERNAL``               500   ``INTERNAL``            injected outage with status 500
``UNAVAILABLE``            503   ``UNAVAILABLE``         injected outage with status 503
(none)                     401   ``UNAUTHENTICATED``     no ``Authorization: Bearer`` header
=========================  ====  ======================  ================================================

Checks, in this order: the bearer token (401), an injected outage (the service is down: it validates
nothing), the validation below (400), then the per-token faults (FCM validates a request before it looks
the token up).

Validation, as FCM does it (``INVALID_ARGUMENT``):

* the request body has only ``message`` and ``validate_only``; the message only the fields of FCM's
  ``Message`` resource (``name data notification android webpush apns fcm_options`` and one target);
* exactly one target among ``token``, ``topic``, ``condition`` (and ``fid``, the installation-ID target
  firebase-admin 7.7 added);
* the token rule: 20 to 4096 characters from ``A-Z a-z 0-9 _ - : .``. Real registration tokens are about
  150-200 characters of base64url around a ``:``; the rule is deliberately the one the API applies when
  a phone registers its token, so any token the API stored is deliverable here and a token rejected here
  could never have been stored. A ``fid`` is 22 base64url characters starting with c, d, e or f; a topic
  name matches ``[a-zA-Z0-9-_.~%]+``;
* ``data`` (and ``android.data``, ``webpush.data``) map strings to strings, and no key is reserved by FCM
  (``from``, ``notification``, ``message_type``, ``google*``, ``gcm*``);
* ``notification`` has string ``title``/``body``/``image``;
* ``android``: ``priority`` is ``normal`` or ``high``, ``ttl`` a duration such as ``"3600s"`` of at most
  4 weeks, ``collapse_key`` a string, ``notification`` holds only AndroidNotification fields and a
  string ``channel_id``;
* ``apns``: ``headers`` map strings to strings, ``apns-priority`` is ``"5"`` or ``"10"``,
  ``apns-collapse-id`` at most 64 bytes, ``apns-push-type`` an APNs push type; ``payload.aps`` is an
  object with well-typed ``alert``, ``badge``, ``sound``, ``thread-id``, ``category``;
* the data payload (keys plus values, UTF-8 bytes; ``android.data`` counted separately as it replaces
  ``data`` on Android) is at most 4096 bytes (2048 for topic messages): otherwise "Message is too big".

Fault injection and inspection (JSON; no auth)
----------------------------------------------
==============================================  =========================================================
``POST /control/unregistered {"tokens": []}``   404 UNREGISTERED for those tokens (cumulative)
``POST /control/sender-mismatch {"tokens"}``    403 SENDER_ID_MISMATCH for those tokens
``POST /control/third-party-auth-error {...}``  401 THIRD_PARTY_AUTH_ERROR for those tokens
``POST /control/outage``                        ``{"status": 503|500|429, "seconds": 10, "retry_after": 5,
                                                "tokens": null}``: every send (or only those tokens')
                                                fails so for ``seconds`` (null: until ended), with a
                                                ``Retry-After`` header when ``retry_after`` is given
``DELETE /control/outage``                      ends the outage now
``POST /control/reset``                         forgets faults, recorded messages and statistics
``GET /control``                                the current faults
``GET /messages[?token=..&limit=N]``            ``{"count": n, "messages": [{"name", "project", "token",
                                                "topic", "condition", "fid", "message",
                                                "received_at"}]}``: accepted messages (not dry runs),
                                                newest last; ``received_at`` is ISO 8601 UTC
``DELETE /messages``                            forgets the recorded messages
``GET /stats[?token=..]``                       ``{"requests", "accepted", "rejected", "by_code",
                                                "attempts": {token: n}}``: every send request, accepted
                                                or not, counted per token
``GET /healthz``                                ``{"ok": true}``
==============================================  =========================================================

The transport is the standard library's threading HTTP server with HTTP/1.1 keep-alive (one thread per
connection): firebase-admin's ``send_each`` sends up to 500 requests at once from a thread pool over
pooled connections, and reusing them is what keeps 15,000 messages fast. (Werkzeug's development server
closes every connection after one response.)
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import math
import re
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger(__name__)

FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
ERROR_INFO_TYPE = "type.googleapis.com/google.rpc.ErrorInfo"

TOKEN_RE = re.compile(r"[A-Za-z0-9_:.\-]{20,4096}")
FID_RE = re.compile(r"[cdef][A-Za-z0-9_\-]{21}")
TOPIC_RE = re.compile(r"[a-zA-Z0-9\-_.~%]{1,900}")
TTL_RE = re.compile(r"(\d+)(\.\d{1,9})?s")
MAX_DATA_BYTES = 4096
MAX_TOPIC_DATA_BYTES = 2048
MAX_TTL_S = 28 * 24 * 3600
MAX_APNS_COLLAPSE_ID_BYTES = 64

_SEND_PATH = re.compile(r"/v1/projects/([^/]+)/messages:send")
_BODY_FIELDS = frozenset({"message", "validate_only"})
_TARGETS = ("token", "topic", "condition", "fid")
_MESSAGE_FIELDS = frozenset({"name", "data", "notification", "android", "webpush", "apns", "fcm_options", *_TARGETS})
_RESERVED_DATA_KEYS = frozenset({"from", "notification", "message_type"})
_ANDROID_FIELDS = frozenset(
    {
        "collapse_key",
        "priority",
        "ttl",
        "restricted_package_name",
        "data",
        "notification",
        "fcm_options",
        "direct_boot_ok",
        "bandwidth_constrained_ok",
        "restricted_satellite_ok",
    }
)
_ANDROID_NOTIFICATION_STRINGS = frozenset(
    {
        "title",
        "body",
        "icon",
        "color",
        "sound",
        "tag",
        "click_action",
        "body_loc_key",
        "title_loc_key",
        "channel_id",
        "image",
        "ticker",
        "event_time",
        "notification_priority",
        "visibility",
        "proxy",
    }
)
_ANDROID_NOTIFICATION_FIELDS = _ANDROID_NOTIFICATION_STRINGS | {
    "body_loc_args",
    "title_loc_args",
    "sticky",
    "local_only",
    "vibrate_timings",
    "default_vibrate_timings",
    "default_sound",
    "default_light_settings",
    "light_settings",
    "notification_count",
}
_APNS_FIELDS = frozenset({"headers", "payload", "fcm_options", "live_activity_token"})
_APNS_PUSH_TYPES = frozenset(
    {
        "alert",
        "background",
        "location",
        "voip",
        "complication",
        "fileprovider",
        "mdm",
        "liveactivity",
        "pushtotalk",
        "widgets",
        "controls",
    }
)
_WEBPUSH_FIELDS = frozenset({"headers", "data", "notification", "fcm_options"})

# The Google front end's answer to a request without credentials (no FcmError detail: FCM never saw it).
_NO_AUTH_MESSAGE = (
    "Request is missing required authentication credential. Expected OAuth 2 access token, login "
    "cookie or other valid authentication credential."
)

# errorCode -> (HTTP status, canonical status, message as FCM words it)
FCM_ERRORS: dict[str, tuple[int, str, str]] = {
    "INVALID_ARGUMENT": (400, "INVALID_ARGUMENT", "Request contains an invalid argument."),
    "THIRD_PARTY_AUTH_ERROR": (401, "UNAUTHENTICATED", "Auth error from APNS or Web Push Service"),
    "SENDER_ID_MISMATCH": (403, "PERMISSION_DENIED", "SenderId mismatch"),
    "UNREGISTERED": (404, "NOT_FOUND", "Requested entity was not found."),
    "QUOTA_EXCEEDED": (429, "RESOURCE_EXHAUSTED", "Quota exceeded for sending messages."),
    "INTERNAL": (500, "INTERNAL", "Internal error encountered."),
    "UNAVAILABLE": (503, "UNAVAILABLE", "The service is currently unavailable."),
}
OUTAGE_CODES = {503: "UNAVAILABLE", 500: "INTERNAL", 429: "QUOTA_EXCEEDED"}

Response = tuple[int, dict[str, str], bytes]


class InvalidArgument(Exception):
    """A request FCM would reject with 400 INVALID_ARGUMENT.

    Args:
        message: The error message (FCM's wording where known).
        field: The offending field path (adds a ``google.rpc.BadRequest`` detail), if any.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def error_body(code: str, message: str | None = None, field: str | None = None) -> tuple[int, dict[str, Any]]:
    """Builds an FCM error response body.

    Args:
        code: The FcmError ``errorCode`` (a key of ``FCM_ERRORS``).
        message: Overrides FCM's default message for the code.
        field: A field path; adds a ``google.rpc.BadRequest`` field violation.

    Returns:
        The HTTP status and the JSON body ``{"error": {...}}``.
    """
    http_status, status, default_message = FCM_ERRORS[code]
    details: list[dict[str, Any]] = [{"@type": FCM_ERROR_TYPE, "errorCode": code}]
    if field is not None:
        details.append(
            {
                "@type": BAD_REQUEST_TYPE,
                "fieldViolations": [{"field": field, "description": message or default_message}],
            }
        )
    return http_status, {
        "error": {"code": http_status, "message": message or default_message, "status": status, "details": details}
    }


def data_payload_size(data: Mapping[str, str]) -> int:
    """Returns the UTF-8 byte length of a data payload's keys and values (what FCM's limit counts)."""
    return sum(len(key.encode()) + len(value.encode()) for key, value in data.items())


# --- validation: each function raises InvalidArgument for the first problem it finds ---


def _unknown(path: str, name: str) -> InvalidArgument:
    return InvalidArgument(
        f"Invalid JSON payload received. Unknown name \"{name}\" at '{path}': Cannot find field.", path
    )


def _object(value: Any, path: str, allowed: Iterable[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidArgument(
            f"Invalid value at '{path}' (type.googleapis.com/google.protobuf.Struct), {json.dumps(value)}", path
        )
    for name in value:
        if name not in allowed:
            raise _unknown(path, name)
    return value


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise InvalidArgument(f"Invalid value at '{path}' (TYPE_STRING), {json.dumps(value)}", path)
    return value


def _boolean(value: Any, path: str) -> None:
    if not isinstance(value, bool):
        raise InvalidArgument(f"Invalid value at '{path}' (TYPE_BOOL), {json.dumps(value)}", path)


def _integer(value: Any, path: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"Invalid value at '{path}' (TYPE_INT32), {json.dumps(value)}", path)


def _string_list(value: Any, path: str) -> None:
    if not isinstance(value, list):
        raise InvalidArgument(f"Invalid value at '{path}' (TYPE_STRING), {json.dumps(value)}", path)
    for index, item in enumerate(value):
        _string(item, f"{path}[{index}]")


def _string_map(value: Any, path: str, *, data: bool = False) -> dict[str, str]:
    if not isinstance(value, dict):
        raise InvalidArgument(f"Invalid value at '{path}' (map<string, string>), {json.dumps(value)}", path)
    for index, (key, item) in enumerate(value.items()):
        # FCM reports map entries by position, e.g. message.data[0].value
        _string(item, f"{path}[{index}].value")
        if data and (key in _RESERVED_DATA_KEYS or key.startswith(("google", "gcm"))):
            raise InvalidArgument(f"Invalid data payload key: {key!r} is reserved.", f"{path}[{index}].key")
    return value


def _validate_notification(value: Any) -> None:
    for name, item in _object(value, "message.notification", ("title", "body", "image")).items():
        _string(item, f"message.notification.{name}")


def _validate_android(value: Any) -> None:
    android = _object(value, "message.android", _ANDROID_FIELDS)
    for name in ("collapse_key", "restricted_package_name"):
        if name in android:
            _string(android[name], f"message.android.{name}")
    if "priority" in android:
        priority = _string(android["priority"], "message.android.priority")
        # the SDK sends "high"/"normal", the proto enum is HIGH/NORMAL; FCM takes either
        if priority.lower() not in ("normal", "high"):
            raise InvalidArgument(
                f"Invalid value at 'message.android.priority' "
                f"(type.googleapis.com/google.firebase.fcm.v1.AndroidMessagePriority), "
                f'"{priority}"',
                "message.android.priority",
            )
    if "ttl" in android:
        ttl = _string(android["ttl"], "message.android.ttl")
        match = TTL_RE.fullmatch(ttl)
        if not match:
            raise InvalidArgument(
                f"Invalid value at 'message.android.ttl' (type.googleapis.com/google.protobuf.Duration), \"{ttl}\"",
                "message.android.ttl",
            )
        if int(match.group(1)) > MAX_TTL_S:
            raise InvalidArgument(
                "Android TTL exceeds the maximum allowed value of 2419200s (4 weeks).", "message.android.ttl"
            )
    if "data" in android:
        _string_map(android["data"], "message.android.data", data=True)
    if "notification" in android:
        notification = _object(android["notification"], "message.android.notification", _ANDROID_NOTIFICATION_FIELDS)
        for name, item in notification.items():
            path = f"message.android.notification.{name}"
            if name in _ANDROID_NOTIFICATION_STRINGS:
                _string(item, path)
            elif name in ("body_loc_args", "title_loc_args", "vibrate_timings"):
                _string_list(item, path)
            elif name == "notification_count":
                _integer(item, path)
            elif name != "light_settings":
                _boolean(item, path)
    if "fcm_options" in android:
        for name, item in _object(android["fcm_options"], "message.android.fcm_options", ("analytics_label",)).items():
            _string(item, f"message.android.fcm_options.{name}")
    for name in ("direct_boot_ok", "bandwidth_constrained_ok", "restricted_satellite_ok"):
        if name in android:
            _boolean(android[name], f"message.android.{name}")


def _validate_aps(value: Any) -> None:
    if not isinstance(value, dict):
        raise InvalidArgument("apns.payload.aps must be a JSON object.", "message.apns.payload.aps")
    for name in ("thread-id", "category", "target-content-id", "interruption-level"):
        if name in value:
            _string(value[name], f"message.apns.payload.aps.{name}")
    for name in ("badge", "content-available", "mutable-content"):
        if name in value:
            _integer(value[name], f"message.apns.payload.aps.{name}")
    for name in ("alert", "sound"):
        if name in value and not isinstance(value[name], (str, dict)):
            raise InvalidArgument(
                f"apns.payload.aps.{name} must be a string or a JSON object.", f"message.apns.payload.aps.{name}"
            )


def _validate_apns(value: Any) -> None:
    apns = _object(value, "message.apns", _APNS_FIELDS)
    if "headers" in apns:
        headers = _string_map(apns["headers"], "message.apns.headers")
        lowered = {key.lower(): item for key, item in headers.items()}
        if "apns-priority" in lowered and lowered["apns-priority"] not in ("5", "10"):
            raise InvalidArgument(
                f'Invalid APNs priority {lowered["apns-priority"]!r}: must be "5" or "10".', "message.apns.headers"
            )
        if len(lowered.get("apns-collapse-id", "").encode()) > MAX_APNS_COLLAPSE_ID_BYTES:
            raise InvalidArgument("apns-collapse-id must not exceed 64 bytes.", "message.apns.headers")
        if "apns-push-type" in lowered and lowered["apns-push-type"] not in _APNS_PUSH_TYPES:
            raise InvalidArgument(f"Invalid apns-push-type {lowered['apns-push-type']!r}.", "message.apns.headers")
        if "apns-expiration" in lowered and not lowered["apns-expiration"].isdigit():
            raise InvalidArgument("apns-expiration must be a UNIX epoch date in seconds.", "message.apns.headers")
    if "payload" in apns:
        payload = apns["payload"]
        if not isinstance(payload, dict):
            raise InvalidArgument("apns.payload must be a JSON object.", "message.apns.payload")
        if "aps" in payload:
            _validate_aps(payload["aps"])
    if "fcm_options" in apns:
        for name, item in _object(
            apns["fcm_options"], "message.apns.fcm_options", ("analytics_label", "image")
        ).items():
            _string(item, f"message.apns.fcm_options.{name}")
    if "live_activity_token" in apns:
        _string(apns["live_activity_token"], "message.apns.live_activity_token")


def _validate_webpush(value: Any) -> None:
    webpush = _object(value, "message.webpush", _WEBPUSH_FIELDS)
    if "headers" in webpush:
        _string_map(webpush["headers"], "message.webpush.headers")
    if "data" in webpush:
        _string_map(webpush["data"], "message.webpush.data", data=True)
    for name in ("notification", "fcm_options"):
        if name in webpush and not isinstance(webpush[name], dict):
            raise InvalidArgument(f"webpush.{name} must be a JSON object.", f"message.webpush.{name}")


def validate_send_request(body: Any) -> tuple[dict[str, Any], str, str, bool]:
    """Validates the body of a ``messages:send`` request as FCM does.

    Args:
        body: The parsed JSON body.

    Returns:
        The message, its target kind (``token``/``topic``/``condition``/``fid``), the target, and whether
        it is a dry run (``validate_only``).

    Raises:
        InvalidArgument: For the first problem found.
    """
    if not isinstance(body, dict):
        raise InvalidArgument("Invalid JSON payload received. Expected an object.")
    for name in body:
        if name not in _BODY_FIELDS:
            raise _unknown("", name)
    validate_only = body.get("validate_only", False)
    if not isinstance(validate_only, bool):
        raise InvalidArgument(
            f"Invalid value at 'validate_only' (TYPE_BOOL), {json.dumps(validate_only)}", "validate_only"
        )
    if "message" not in body:
        raise InvalidArgument("Request contains an invalid argument.", "message")
    message = _object(body["message"], "message", _MESSAGE_FIELDS)
    targets = [name for name in _TARGETS if name in message]
    if not targets:
        raise InvalidArgument("Recipient of the message is not set.", "message")
    if len(targets) > 1:
        raise InvalidArgument(
            f"Invalid value at 'message' (oneof), oneof field 'target' is already set. Cannot set '{targets[1]}'",
            "message",
        )
    kind = targets[0]
    target = _string(message[kind], f"message.{kind}")
    if "name" in message:
        _string(message["name"], "message.name")
    if "data" in message:
        _string_map(message["data"], "message.data", data=True)
    if "notification" in message:
        _validate_notification(message["notification"])
    if "android" in message:
        _validate_android(message["android"])
    if "apns" in message:
        _validate_apns(message["apns"])
    if "webpush" in message:
        _validate_webpush(message["webpush"])
    if "fcm_options" in message:
        for name, item in _object(message["fcm_options"], "message.fcm_options", ("analytics_label",)).items():
            _string(item, f"message.fcm_options.{name}")

    if kind == "token" and not TOKEN_RE.fullmatch(target):
        raise InvalidArgument("The registration token is not a valid FCM registration token", "message.token")
    if kind == "fid" and not FID_RE.fullmatch(target):
        raise InvalidArgument("The Firebase installation ID is not valid", "message.fid")
    if kind == "topic" and not TOPIC_RE.fullmatch(target):
        raise InvalidArgument(f"Invalid topic name: {target!r}", "message.topic")
    if kind == "condition" and not target.strip():
        raise InvalidArgument("Invalid condition expression.", "message.condition")

    limit = MAX_TOPIC_DATA_BYTES if kind == "topic" else MAX_DATA_BYTES
    sizes = [data_payload_size(message.get("data", {}))]
    if isinstance(message.get("android"), dict) and "data" in message["android"]:
        sizes.append(data_payload_size(message["android"]["data"]))
    if max(sizes) > limit:
        # FcmError INVALID_ARGUMENT and no field: it is the message, not the token
        raise InvalidArgument("Message is too big")
    return message, kind, target, validate_only


@dataclass(frozen=True)
class Outage:
    """An injected outage.

    Attributes:
        status: 503 (UNAVAILABLE), 500 (INTERNAL) or 429 (QUOTA_EXCEEDED).
        until: ``clock()`` value when it ends, or None until ended explicitly.
        retry_after: The ``Retry-After`` header value in seconds, or None for no header.
        tokens: Only sends to these tokens fail; None: every send.
    """

    status: int
    until: float | None
    retry_after: int | None
    tokens: frozenset[str] | None


class FcmEmulator:
    """The state and HTTP semantics of the local server, without any socket (thread-safe).

    Args:
        clock: Monotonic clock for outage ends (a stub in tests that need no sleeping).
    """

    def __init__(self, clock=time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.reset()

    # --- faults and records, callable in-process as well as over HTTP ---

    def reset(self) -> None:
        """Forgets faults, recorded messages and statistics."""
        with self._lock:
            self._token_faults: dict[str, str] = {}
            self._outage: Outage | None = None
            self._messages: list[dict[str, Any]] = []
            self._attempts: Counter[str] = Counter()
            self._by_code: Counter[str] = Counter()
            self._requests = 0

    def fail_tokens(self, tokens: Iterable[str], code: str) -> int:
        """Makes sends to these tokens fail with an FcmError code (cumulative).

        Args:
            tokens: Registration tokens.
            code: ``UNREGISTERED``, ``SENDER_ID_MISMATCH`` or ``THIRD_PARTY_AUTH_ERROR``.

        Returns:
            How many tokens now fail with this code.
        """
        with self._lock:
            for token in tokens:
                self._token_faults[token] = code
            return sum(1 for c in self._token_faults.values() if c == code)

    def start_outage(
        self,
        status: int = 503,
        seconds: float | None = None,
        retry_after: float | None = None,
        tokens: Iterable[str] | None = None,
    ) -> Outage:
        """Makes sends fail with a 5xx or 429 for a while.

        Args:
            status: 503, 500 or 429.
            seconds: How long; None until ``end_outage``.
            retry_after: ``Retry-After`` seconds to announce (rounded up), or None.
            tokens: Limit the outage to these tokens.

        Returns:
            The outage.
        """
        if status not in OUTAGE_CODES:
            raise ValueError(f"outage status must be one of {sorted(OUTAGE_CODES)}")
        outage = Outage(
            status,
            None if seconds is None else self._clock() + float(seconds),
            None if retry_after is None else math.ceil(retry_after),
            None if tokens is None else frozenset(tokens),
        )
        with self._lock:
            self._outage = outage
        return outage

    def end_outage(self) -> None:
        """Ends the outage now."""
        with self._lock:
            self._outage = None

    def messages(self, token: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Returns the accepted messages, newest last (optionally for one token, the last ``limit``)."""
        with self._lock:
            found = [m for m in self._messages if m["token"] == token] if token is not None else list(self._messages)
        return found[-limit:] if limit else found

    def clear_messages(self) -> None:
        """Forgets the recorded messages."""
        with self._lock:
            self._messages.clear()

    def stats(self, token: str | None = None) -> dict[str, Any]:
        """Returns request counts; ``attempts`` counts every send request per token, accepted or not."""
        with self._lock:
            attempts = {token: self._attempts[token]} if token is not None else dict(self._attempts)
            return {
                "requests": self._requests,
                "accepted": self._by_code["OK"],
                "rejected": self._requests - self._by_code["OK"],
                "by_code": dict(self._by_code),
                "attempts": attempts,
            }

    def faults(self) -> dict[str, Any]:
        """Returns the current faults (for ``GET /control``)."""
        with self._lock:
            outage = self._active_outage()
            by_code: dict[str, list[str]] = {}
            for token, code in self._token_faults.items():
                by_code.setdefault(code, []).append(token)
        return {
            "token_errors": by_code,
            "outage": None
            if outage is None
            else {
                "status": outage.status,
                "retry_after": outage.retry_after,
                "seconds_left": None if outage.until is None else max(0.0, outage.until - self._clock()),
                "tokens": None if outage.tokens is None else sorted(outage.tokens),
            },
        }

    def _active_outage(self) -> Outage | None:
        # called with the lock held; an expired outage ends itself
        outage = self._outage
        if outage is not None and outage.until is not None and self._clock() >= outage.until:
            self._outage = outage = None
        return outage

    # --- HTTP ---

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Response:
        """Answers one HTTP request.

        Args:
            method: The HTTP method.
            path: The request target (path and query string).
            headers: The request headers (case-insensitive mapping).
            body: The request body.

        Returns:
            Status, response headers and body.
        """
        url = urlsplit(path)
        query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        match = _SEND_PATH.fullmatch(url.path)
        if match:
            if method != "POST":
                return _json(405, {"error": {"code": 405, "message": "Method not allowed", "status": "UNIMPLEMENTED"}})
            return self._send(match.group(1), headers, body)
        route = (method, url.path)
        try:
            return self._control(route, query, body)
        except (ValueError, TypeError, KeyError) as exc:
            return _json(400, {"error": f"bad control request: {exc}"})

    def _control(self, route: tuple[str, str], query: dict[str, str], body: bytes) -> Response:
        token_faults = {
            "/control/unregistered": "UNREGISTERED",
            "/control/sender-mismatch": "SENDER_ID_MISMATCH",
            "/control/third-party-auth-error": "THIRD_PARTY_AUTH_ERROR",
        }
        method, path = route
        if method == "POST" and path in token_faults:
            tokens = _json_body(body)["tokens"]
            if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
                raise ValueError("tokens must be a list of strings")
            return _json(200, {token_faults[path].lower(): self.fail_tokens(tokens, token_faults[path])})
        if route == ("POST", "/control/outage"):
            spec = _json_body(body)
            outage = self.start_outage(
                int(spec.get("status", 503)), spec.get("seconds"), spec.get("retry_after"), spec.get("tokens")
            )
            return _json(200, {"status": outage.status, "retry_after": outage.retry_after})
        if route == ("DELETE", "/control/outage"):
            self.end_outage()
            return _json(200, {"outage": None})
        if route == ("POST", "/control/reset"):
            self.reset()
            return _json(200, {"reset": True})
        if route == ("GET", "/control"):
            return _json(200, self.faults())
        if route == ("GET", "/messages"):
            found = self.messages(query.get("token"), int(query["limit"]) if "limit" in query else None)
            return _json(200, {"count": len(found), "messages": found})
        if route == ("DELETE", "/messages"):
            self.clear_messages()
            return _json(200, {"count": 0})
        if route == ("GET", "/stats"):
            return _json(200, self.stats(query.get("token")))
        if route == ("GET", "/healthz"):
            return _json(200, {"ok": True})
        return _json(404, {"error": {"code": 404, "message": f"No route for {method} {path}", "status": "NOT_FOUND"}})

    def _send(self, project: str, headers: Mapping[str, str], raw: bytes) -> Response:
        try:
            body, bad_json = json.loads(raw), None
        except ValueError as exc:
            body, bad_json = None, exc
        message = body.get("message") if isinstance(body, dict) else None
        token = message.get("token") if isinstance(message, dict) else None
        token = token if isinstance(token, str) else None
        with self._lock:
            # every attempt counts, whatever the answer: tests assert how often the sender tried
            self._requests += 1
            if token is not None:
                self._attempts[token] += 1
            outage = self._active_outage()

        auth = headers.get("Authorization") or ""
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            return self._answer(None, "UNAUTHENTICATED", *_no_auth())
        if bad_json is not None:
            return self._answer(
                None, "INVALID_ARGUMENT", *error_body("INVALID_ARGUMENT", f"Invalid JSON payload received. {bad_json}")
            )
        # an outage answers before validation: the real service is down, it validates nothing
        if outage is not None and (outage.tokens is None or token in outage.tokens):
            code = OUTAGE_CODES[outage.status]
            extra = {} if outage.retry_after is None else {"Retry-After": str(outage.retry_after)}
            return self._answer(None, code, *error_body(code), extra)
        try:
            message, kind, target, validate_only = validate_send_request(body)
        except InvalidArgument as exc:
            return self._answer(None, "INVALID_ARGUMENT", *error_body("INVALID_ARGUMENT", exc.message, exc.field))
        if kind == "token":
            with self._lock:
                fault = self._token_faults.get(target)
            if fault is not None:
                return self._answer(None, fault, *error_body(fault))
        if validate_only:
            # FCM's dry-run answer; nothing is delivered, so nothing is recorded
            return self._answer(None, "OK", 200, {"name": f"projects/{project}/messages/fake_message_id"})
        name = f"projects/{project}/messages/0:{time.time_ns() // 1000}%{next(self._ids):016x}"
        record = {
            "name": name,
            "project": project,
            "token": message.get("token"),
            "topic": message.get("topic"),
            "condition": message.get("condition"),
            "fid": message.get("fid"),
            "message": message,
            "received_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        }
        return self._answer(record, "OK", 200, {"name": name})

    def _answer(
        self,
        record: dict[str, Any] | None,
        code: str,
        status: int,
        body: dict[str, Any],
        extra_headers: dict[str, str] | None = None,
    ) -> Response:
        with self._lock:
            self._by_code[code] += 1
            if record is not None:
                self._messages.append(record)
        return _json(status, body, extra_headers)


def _no_auth() -> tuple[int, dict[str, Any]]:
    return 401, {
        "error": {
            "code": 401,
            "message": _NO_AUTH_MESSAGE,
            "status": "UNAUTHENTICATED",
            "details": [
                {
                    "@type": ERROR_INFO_TYPE,
                    "reason": "CREDENTIALS_MISSING",
                    "domain": "googleapis.com",
                    "metadata": {
                        "service": "fcm.googleapis.com",
                        "method": "google.firebase.fcm.v1.FcmService.SendMessage",
                    },
                }
            ],
        }
    }


def _json_body(body: bytes) -> dict[str, Any]:
    value = json.loads(body or b"{}")
    if not isinstance(value, dict):
        raise ValueError("expected a JSON object")
    return value


def _json(status: int, body: Any, extra_headers: dict[str, str] | None = None) -> Response:
    headers = {"Content-Type": "application/json; charset=UTF-8"}
    if extra_headers:
        headers.update(extra_headers)
    return status, headers, json.dumps(body).encode()


class _Handler(BaseHTTPRequestHandler):
    """Feeds requests to the server's emulator; HTTP/1.1 so clients keep their connections."""

    protocol_version = "HTTP/1.1"
    # headers and body leave in two writes; with Nagle's algorithm the second waits for the client's
    # delayed ACK (40 ms per request on Linux)
    disable_nagle_algorithm = True
    # an idle kept-alive connection frees its thread after this long
    timeout = 60
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            status, headers, payload = self.server.emulator.handle(self.command, self.path, self.headers, body)
        except Exception:  # a bug here must look like FCM's 500, not a dropped connection
            log.exception("local FCM server failed on %s %s", self.command, self.path)
            status, body_json = error_body("INTERNAL")
            status, headers, payload = _json(status, body_json)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_DELETE = do_PUT = _serve

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)


class _Server(ThreadingHTTPServer):
    # firebase-admin opens up to 500 connections at once; the default backlog (5) would drop SYNs and
    # stall clients for a second per retransmission
    request_queue_size = 1024
    daemon_threads = True

    def __init__(self, address: tuple[str, int], emulator: FcmEmulator, verbose: bool) -> None:
        self.emulator = emulator
        self.verbose = verbose
        super().__init__(address, _Handler)


class LocalFCMServer:
    """The local FCM server, in a background thread (tests) or the foreground (``serve_forever``).

    Args:
        host: Interface to listen on.
        port: TCP port; 0 picks a free one.
        emulator: Shared state; a new one by default.
        verbose: Log every request to stderr.
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, emulator: FcmEmulator | None = None, verbose: bool = False
    ) -> None:
        self.emulator = emulator or FcmEmulator()
        self._server = _Server((host, port), self.emulator, verbose)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port."""
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:9099`` (the value for ``configure(endpoint=...)``)."""
        host = self._server.server_address[0]
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def start(self) -> LocalFCMServer:
        """Serves in a daemon thread; returns self."""
        if self._thread is None:
            # a short poll interval makes stop() quick (shutdown waits for the next poll)
            self._thread = threading.Thread(
                target=self._server.serve_forever, args=(0.05,), name="local-fcm", daemon=True
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serves in the calling thread until interrupted."""
        self._server.serve_forever()

    def stop(self) -> None:
        """Stops serving and closes the listening socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> LocalFCMServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    """Command line entry point: ``python -m push.fcm_server``."""
    parser = argparse.ArgumentParser(description="Local FCM-compatible push server (HTTP v1 send API).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9099)
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    server = LocalFCMServer(args.host, args.port, verbose=args.verbose)
    # scripts/run stops its children with SIGTERM: leave through the finally below, with exit status 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"local FCM server on {server.url} (send: {server.url}/v1/projects/<project>/messages:send)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server._server.server_close()


if __name__ == "__main__":
    main()
