"""Optional error reporting to Sentry (sentry-sdk) from the API, the RQ workers and cron: on when ``SENTRY_DSN``
is set.

Events carry the request id as the tag ``request_id`` (the request's, or for a job the id of the request
that caused it), so an event leads to the JSON log lines of the same request. No personal data leaves: the
SDK's own defaults send no IP addresses, cookies, user or request bodies (``send_default_pii=False``) and drop
the ``Authorization`` header; sentry-sdk's ``EventScrubber`` blanks values under sensitive keys (ours added:
phones, tokens) anywhere in the event; and since a phone number or a token can also sit inside free text (an
exception message, a query string, a log line, a local variable), every string is searched for phone-like
digit runs, JWTs, bearer tokens and FCM registration tokens, which are replaced. That last pass is our own
code: the SDK scrubs by key only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import sentry_sdk
from sentry_sdk.integrations.flask import FlaskIntegration
from sentry_sdk.integrations.rq import RqIntegration
from sentry_sdk.scrubber import DEFAULT_DENYLIST, EventScrubber

from app.web import request_id

FILTERED = "[Filtered]"
# keys whose values are never sent, on top of the SDK's list (password, secret, token, auth, session, ...)
SENSITIVE_KEYS = [
    "phone",
    "phones",
    "mobile",
    "contact_phone",
    "store_phone",
    "access_token",
    "refresh_token",
    "fcm_token",
    "device_token",
    "authorization",
    "jwt",
    "secret_key",
    "jwt_secret_key",
    "metrics_token",
    "sentry_dsn",
]
# Free text: 9 to 15 digits (optionally +, spaces or dashes between: +86 138-1234-5678), so that dates
# (8 digits) and ordinary ids survive; "password=x"-style pairs; JWTs; "Bearer x"; FCM registration tokens
# (name:APA91b...).
PATTERNS = [
    re.compile(r"(?i)\b(password|passwd|secret|token)=\S+"),
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+"),
    re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"),
    re.compile(r"[A-Za-z0-9_-]+:APA91b[A-Za-z0-9_-]+"),
    re.compile(r"(?<![\w.])\+?\d(?:[ -]?\d){8,14}(?![\w.])"),
]


def scrub_text(text: str) -> str:
    for pattern in PATTERNS:
        text = pattern.sub(FILTERED, text)
    return text


def _scrub_values(value: Any) -> Any:
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {key: _scrub_values(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub_values(item) for item in value]
    return value


def before_send(event: dict[str, Any], _hint: dict[str, Any]) -> dict[str, Any]:
    """Tag the request id and scrub by value (phones, tokens); the SDK's scrubber has blanked keys already."""
    current = request_id.current()
    if current:
        event.setdefault("tags", {})["request_id"] = current
    return _scrub_values(event)


def before_breadcrumb(crumb: dict[str, Any], _hint: dict[str, Any]) -> dict[str, Any]:
    return _scrub_values(crumb)


def init(config: Mapping[str, Any]) -> bool:
    """Start reporting when ``SENTRY_DSN`` is set (``create_app`` calls it: the API, ``flask worker`` and
    ``flask cron`` all create the app); returns whether it did."""
    dsn = config.get("SENTRY_DSN")
    if not dsn:
        return False
    sentry_sdk.init(
        dsn=dsn,
        environment=config.get("SENTRY_ENVIRONMENT") or config.get("ENV") or "development",
        event_scrubber=EventScrubber(denylist=[*DEFAULT_DENYLIST, *SENSITIVE_KEYS], recursive=True),
        # local variables of stack frames are sent (scrubbed above): they are what makes an error readable
        include_local_variables=True,
        traces_sample_rate=float(config.get("SENTRY_TRACES_SAMPLE_RATE") or 0.0),
        integrations=[FlaskIntegration(), RqIntegration()],
        before_send=before_send,
        before_send_transaction=before_send,
        before_breadcrumb=before_breadcrumb,
        # gzip whatever else is installed (the SDK picks brotli when some other package brought it in)
        _experiments={"transport_compression_algo": "gzip"},
    )
    return True
