"""Builds the FCM messages of a task push (pure: no I/O, no clock, no SDK app).

The wire format
---------------

What ``build_task_message`` produces is sent by firebase-admin as the body of
``POST https://fcm.googleapis.com/v1/projects/{project}/messages:send`` (HTTP v1 API). For a task push::

    {
      "message": {
        "android": {
          "collapse_key": "task-4711",
          "notification": {"channel_id": "tasks"},
          "priority": "high",
          "ttl": "86400s"
        },
        "apns": {
          "headers": {
            "apns-priority": "10",
            "apns-collapse-id": "task-4711",
            "apns-push-type": "alert"
          },
          "payload": {"aps": {"sound": "default", "thread-id": "tasks"}}
        },
        "data": {"type": "task", "id": "4711", "deep_link": "fieldsales://tasks/4711"},
        "notification": {"body": "Visit Acme Ltd before Friday", "title": "New task"},
        "token": "<the device's FCM registration token>"
      }
    }

Keys appear in the order the SDK emits them; ``tests/unit/test_push_messages.py`` pins this exact body.

Notes for the mobile apps:

* ``data`` always holds the string keys ``type``, ``id`` and ``deep_link``, and may hold more string keys.
  Every value is a string (FCM rejects anything else). Apps open ``deep_link`` when the user taps the
  notification and must ignore unknown keys.
* Android shows the notification on channel ``channel_id`` (``tasks`` unless the caller chose another);
  the app must create that channel. ``collapse_key`` makes a newer push for the same thing replace an
  undelivered older one while the phone is offline; ``ttl`` drops it after 24 hours undelivered.
* iOS: ``apns-collapse-id`` (the collapse key, shortened to APNs' 64-byte limit when longer) replaces an
  older notification for the same thing on screen; ``thread-id`` groups the notifications (``tasks``).
  FCM copies the top-level ``notification`` title and body into ``aps.alert``.

The size limit FCM applies is 4096 bytes for the ``data`` keys and values together (2048 for topic
messages). The builder does not enforce it: FCM (or the local server) is the one authority, and an
oversized message comes back as ``INVALID_ARGUMENT`` which the policy classifies ``failed``. Use
``data_payload_size`` to check earlier when a caller builds data from user input.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from firebase_admin import messaging

#: Keys every push's data payload carries, so the apps can route any push the same way.
REQUIRED_DATA_KEYS = ("type", "id", "deep_link")
#: FCM's limit for the data payload (keys plus values, UTF-8 bytes) of a message to a token.
MAX_DATA_BYTES = 4096
#: APNs' limit for the ``apns-collapse-id`` header value.
MAX_APNS_COLLAPSE_ID_BYTES = 64
#: Undelivered pushes older than this are useless (the task list is fetched at app start anyway).
DEFAULT_TTL_S = 24 * 3600
DEFAULT_CHANNEL_ID = "tasks"
#: At most this many tokens in one multicast (the SDK's and FCM's limit per batch).
MAX_MULTICAST_TOKENS = 500

# Data keys FCM reserves for itself and rejects in the data payload.
_RESERVED_DATA_KEYS = frozenset({"from", "notification", "message_type"})
_RESERVED_DATA_PREFIXES = ("google", "gcm")


@dataclass(frozen=True)
class PushContent:
    """What a push says, independent of who receives it.

    Attributes:
        title: The notification title.
        body: The notification text.
        data: The data payload: ``type``, ``id``, ``deep_link`` plus optional extra string keys.
        collapse_key: Identifies the thing the push is about; a newer push with the same key replaces an
            older one (Android ``collapse_key``, iOS ``apns-collapse-id``).
        channel_id: The Android notification channel.
        thread_id: The iOS notification group; defaults to ``channel_id``.
        ttl_s: How long FCM keeps an undelivered push for Android, in seconds.
        title_loc_key, body_loc_key: Keys of the app's own string resources (Android ``strings.xml``, iOS
            ``Localizable.strings``) for the title and the body; the app shows its own text when it has the key
            and ``title``/``body`` (already in the user's language) otherwise.
        title_loc_args, body_loc_args: The keys' positional arguments (``%1$s``, ``%@``), as strings.
    """

    title: str
    body: str
    data: Mapping[str, str] = field(default_factory=dict)
    collapse_key: str = ""
    channel_id: str = DEFAULT_CHANNEL_ID
    thread_id: str | None = None
    ttl_s: int = DEFAULT_TTL_S
    title_loc_key: str | None = None
    title_loc_args: tuple[str, ...] = ()
    body_loc_key: str | None = None
    body_loc_args: tuple[str, ...] = ()


def data_payload_size(data: Mapping[str, str]) -> int:
    """Returns the size FCM counts against its data payload limit.

    Args:
        data: A data payload.

    Returns:
        The UTF-8 byte length of all keys and values together.
    """
    return sum(len(key.encode()) + len(value.encode()) for key, value in data.items())


def apns_collapse_id(collapse_key: str) -> str:
    """Returns an ``apns-collapse-id`` for a collapse key, within APNs' 64-byte limit.

    Short keys are used as they are, so Android and iOS collapse the same pushes. A longer key keeps a
    readable prefix plus a hash of the whole key: two different long keys must not collapse into one.

    Args:
        collapse_key: The collapse key.

    Returns:
        The key itself when it fits in 64 UTF-8 bytes, otherwise ``<prefix>~<16 hex digits of sha256>``.
    """
    raw = collapse_key.encode()
    if len(raw) <= MAX_APNS_COLLAPSE_ID_BYTES:
        return collapse_key
    digest = hashlib.sha256(raw).hexdigest()[:16]
    prefix = raw[: MAX_APNS_COLLAPSE_ID_BYTES - len(digest) - 1].decode(errors="ignore")
    return f"{prefix}~{digest}"


def _check_data(data: Mapping[str, str]) -> dict[str, str]:
    # Fail at build time, in the caller's stack, rather than as 500 INVALID_ARGUMENT responses later.
    missing = [key for key in REQUIRED_DATA_KEYS if key not in data]
    if missing:
        raise ValueError(f"push data lacks {', '.join(missing)}")
    for key, value in data.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ValueError(f"push data keys and values must be strings: {key!r}={value!r}")
        if key in _RESERVED_DATA_KEYS or key.startswith(_RESERVED_DATA_PREFIXES):
            raise ValueError(f"push data key {key!r} is reserved by FCM")
    # the three routing keys first: the order is what the apps' developers see in logs
    ordered = {key: data[key] for key in REQUIRED_DATA_KEYS}
    ordered.update((key, value) for key, value in data.items() if key not in ordered)
    return ordered


def _platform_parts(content: PushContent) -> dict[str, Any]:
    """The keyword arguments shared by ``Message`` and ``MulticastMessage``."""
    if not isinstance(content.title, str) or not content.title:
        raise ValueError("push title must be a non-empty string")
    if not isinstance(content.body, str):
        raise ValueError("push body must be a string")
    if not content.collapse_key:
        raise ValueError("push collapse_key must be a non-empty string")
    localised = content.title_loc_key is not None or content.body_loc_key is not None
    for args in (content.title_loc_args, content.body_loc_args):
        if not all(isinstance(arg, str) for arg in args):
            raise ValueError("push loc args must be strings")
    android_loc = (
        {
            "title_loc_key": content.title_loc_key,
            "title_loc_args": list(content.title_loc_args) or None,
            "body_loc_key": content.body_loc_key,
            "body_loc_args": list(content.body_loc_args) or None,
        }
        if localised
        else {}
    )
    # iOS: with an ``alert`` object the keys travel beside the fallback text (FCM keeps both)
    alert = (
        messaging.ApsAlert(
            title=content.title,
            body=content.body,
            title_loc_key=content.title_loc_key,
            title_loc_args=list(content.title_loc_args) or None,
            loc_key=content.body_loc_key,
            loc_args=list(content.body_loc_args) or None,
        )
        if localised
        else None
    )
    return {
        "notification": messaging.Notification(title=content.title, body=content.body),
        "data": _check_data(content.data),
        "android": messaging.AndroidConfig(
            priority="high",
            collapse_key=content.collapse_key,
            ttl=content.ttl_s,
            notification=messaging.AndroidNotification(channel_id=content.channel_id, **android_loc),
        ),
        "apns": messaging.APNSConfig(
            headers={
                "apns-priority": "10",
                "apns-collapse-id": apns_collapse_id(content.collapse_key),
                "apns-push-type": "alert",
            },
            payload=messaging.APNSPayload(
                aps=messaging.Aps(alert=alert, sound="default", thread_id=content.thread_id or content.channel_id)
            ),
        ),
    }


def _content(title, body, data, collapse_key, channel_id, thread_id, ttl_s) -> PushContent:
    return PushContent(
        title=title,
        body=body,
        data=dict(data),
        collapse_key=collapse_key,
        channel_id=channel_id,
        thread_id=thread_id,
        ttl_s=ttl_s,
    )


def build_message(token: str, content: PushContent) -> messaging.Message:
    """Builds the message of one push to one device.

    Args:
        token: The device's FCM registration token.
        content: What the push says.

    Returns:
        A ``firebase_admin.messaging.Message``.

    Raises:
        ValueError: If the content is incomplete or the data holds non-string or reserved keys/values.
    """
    if not isinstance(token, str) or not token:
        raise ValueError("token must be a non-empty string")
    message = messaging.Message(**_platform_parts(content))
    # firebase-admin 7.7 deprecates `token` for `fid` (Firebase installation IDs) and its constructor warns
    # on every token; our devices register FCM registration tokens, which FCM still accepts. Setting the
    # attribute the encoder reads skips the warning without touching the process-wide warning filters.
    message.token = token
    return message


def build_multicast_message(tokens: Sequence[str], content: PushContent) -> messaging.MulticastMessage:
    """Builds one multicast (the same push to up to 500 devices).

    Args:
        tokens: 1 to 500 FCM registration tokens.
        content: What the push says.

    Returns:
        A ``firebase_admin.messaging.MulticastMessage``.

    Raises:
        ValueError: If there are no tokens, more than 500, or the content is invalid.
    """
    tokens = list(tokens)
    if not tokens or len(tokens) > MAX_MULTICAST_TOKENS:
        raise ValueError(f"a multicast takes 1 to {MAX_MULTICAST_TOKENS} tokens, not {len(tokens)}")
    parts = _platform_parts(content)
    # The constructor warns that `tokens` is deprecated (see build_message) and validates the list, so it
    # cannot be bypassed like Message's; silenced around it as the SDK does in send_each_for_multicast.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return messaging.MulticastMessage(tokens=tokens, **parts)


def build_task_message(
    token: str,
    *,
    title: str,
    body: str,
    data: Mapping[str, str],
    collapse_key: str,
    channel_id: str = DEFAULT_CHANNEL_ID,
    thread_id: str | None = None,
    ttl_s: int = DEFAULT_TTL_S,
) -> messaging.Message:
    """Builds the push announcing a task (or a reminder) to one device.

    Args:
        token: The device's FCM registration token.
        title: The notification title.
        body: The notification text.
        data: ``type``, ``id``, ``deep_link`` and optional extra keys; all strings.
        collapse_key: Identifies the task, e.g. ``task-4711``.
        channel_id: The Android notification channel.
        thread_id: The iOS notification group (defaults to ``channel_id``).
        ttl_s: How long FCM keeps it undelivered, in seconds.

    Returns:
        A ``firebase_admin.messaging.Message`` whose wire JSON is documented in this module's docstring.
    """
    return build_message(token, _content(title, body, data, collapse_key, channel_id, thread_id, ttl_s))


def build_multicast(
    tokens: Sequence[str],
    title: str,
    body: str,
    data: Mapping[str, str],
    collapse_key: str,
    *,
    channel_id: str = DEFAULT_CHANNEL_ID,
    thread_id: str | None = None,
    ttl_s: int = DEFAULT_TTL_S,
) -> messaging.MulticastMessage:
    """Builds the same task push for up to 500 devices (see ``build_task_message``).

    Args:
        tokens: 1 to 500 FCM registration tokens.
        title: The notification title.
        body: The notification text.
        data: ``type``, ``id``, ``deep_link`` and optional extra keys; all strings.
        collapse_key: Identifies the task.
        channel_id: The Android notification channel.
        thread_id: The iOS notification group (defaults to ``channel_id``).
        ttl_s: How long FCM keeps it undelivered, in seconds.

    Returns:
        A ``firebase_admin.messaging.MulticastMessage``.
    """
    return build_multicast_message(tokens, _content(title, body, data, collapse_key, channel_id, thread_id, ttl_s))


def wire_json(message: messaging.Message, *, validate_only: bool = False) -> dict[str, Any]:
    """Returns the JSON body firebase-admin sends for a message.

    Args:
        message: A ``firebase_admin.messaging.Message``.
        validate_only: Whether it is a dry run.

    Returns:
        ``{"message": {...}}`` (plus ``"validate_only": true`` for a dry run), exactly as on the wire.
    """
    # the SDK's own encoder (a classmethod of its service; no app needed), so this cannot drift from it
    body: dict[str, Any] = {"message": messaging._MessagingService.encode_message(message)}
    if validate_only:
        body["validate_only"] = True
    return body
