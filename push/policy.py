"""What to do after each attempt to push to one device: the delivery policy (pure, no network).

FCM result (``FcmError.errorCode``)          action             delay before the next attempt
-------------------------------------------  -----------------  ------------------------------------------
success                                      ``sent``           -
``UNREGISTERED``                             ``delete_device``  - (app uninstalled or token expired)
``INVALID_ARGUMENT`` about the token         ``delete_device``  - (a malformed token never works)
``INVALID_ARGUMENT`` about the message       ``failed``         - (our bug or an oversized payload: the
                                                                token is fine, keep the device)
``SENDER_ID_MISMATCH``                       ``disable_device`` - (another Firebase project's token: keep
                                                                the row for investigation, stop sending)
``QUOTA_EXCEEDED`` (or a bare 429)           ``retry``          uniform(60, 60 * 2**(n-1)) s, and at least
                                                                Retry-After
``UNAVAILABLE``, ``INTERNAL``,               ``retry``          full jitter uniform(0, 10 * 2**(n-1)) s,
``DEADLINE_EXCEEDED``, connection failure                       and at least Retry-After
a retryable code when n == max_attempts (5)  ``failed``         -
anything else (``THIRD_PARTY_AUTH_ERROR``,   ``failed``         -
``UNAUTHENTICATED``, ``UNKNOWN``, ...)

``n`` is the 1-based number of the attempt that just failed; every delay is capped at one hour. The
factors follow FCM's guidance: exponential backoff with jitter for 5xx, honouring ``Retry-After``, and at
least one minute for quota errors (the quota refills per minute, retrying sooner just fails again).
Timeouts are retried like 5xx: a duplicate push is harmless (the collapse key replaces it on the phone),
a lost one is not.
"""

from __future__ import annotations

import email.utils
import json
import random
import time
from dataclasses import dataclass
from typing import Any, Protocol

from firebase_admin import exceptions, messaging

SENT = "sent"
DELETE_DEVICE = "delete_device"
DISABLE_DEVICE = "disable_device"
RETRY = "retry"
FAILED = "failed"
ACTIONS = (SENT, DELETE_DEVICE, DISABLE_DEVICE, RETRY, FAILED)

FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"

# The SDK raises these for the FcmError codes it knows; used when a response body is not at hand.
_SDK_ERROR_CODES: tuple[tuple[type[Exception], str], ...] = (
    (messaging.UnregisteredError, "UNREGISTERED"),
    (messaging.SenderIdMismatchError, "SENDER_ID_MISMATCH"),
    (messaging.QuotaExceededError, "QUOTA_EXCEEDED"),
    (messaging.ThirdPartyAuthError, "THIRD_PARTY_AUTH_ERROR"),
)
# Transient: the same request may succeed later.
_BACKOFF_CODES = frozenset({"UNAVAILABLE", "INTERNAL", "DEADLINE_EXCEEDED"})
# Fields whose violation means the token, not the message, is bad.
_TOKEN_FIELDS = frozenset({"message.token", "message.fid", "token", "fid"})


class Rng(Protocol):
    """The part of ``random.Random`` the policy uses (so tests can pass a stub)."""

    def uniform(self, a: float, b: float) -> float: ...


@dataclass(frozen=True)
class RetryPolicy:
    """The numbers of the policy.

    Attributes:
        base_s: Backoff ceiling after the first failure of a transient error.
        factor: Growth of the ceiling per attempt.
        cap_s: No delay is longer, whatever Retry-After says.
        max_attempts: Attempts per device and push, the first included; a retryable failure of the last
            one is ``failed``.
        quota_min_s: The least delay after ``QUOTA_EXCEEDED``.
    """

    base_s: float = 10.0
    factor: float = 2.0
    cap_s: float = 3600.0
    max_attempts: int = 5
    quota_min_s: float = 60.0


DEFAULT_POLICY = RetryPolicy()


@dataclass(frozen=True)
class Decision:
    """What to do with one device after one attempt.

    Attributes:
        action: One of ``sent``, ``delete_device``, ``disable_device``, ``retry``, ``failed``.
        delay_s: Seconds to wait before retrying (0 unless ``retry``).
        error_code: The FCM error code behind the decision (None on success).
    """

    action: str
    delay_s: float = 0.0
    error_code: str | None = None


def _error_body(exc: BaseException) -> dict[str, Any]:
    """The ``error`` object of the HTTP response behind an SDK exception, or {}."""
    response = getattr(exc, "http_response", None)
    if response is None:
        return {}
    try:
        body = json.loads(response.content)
    except (TypeError, ValueError, AttributeError):
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _details(error: dict[str, Any]) -> list[dict[str, Any]]:
    details = error.get("details")
    return [d for d in details if isinstance(d, dict)] if isinstance(details, list) else []


def error_code_of(exc: BaseException | None) -> str | None:
    """Returns the FCM error code of a failed send.

    The ``FcmError`` detail of the response body wins (it is what FCM documents); then the SDK's exception
    class; then the canonical status the SDK derived (``UNAVAILABLE``, ``INTERNAL``, ...). A bare 429 is
    reported as ``QUOTA_EXCEEDED``.

    Args:
        exc: The exception of a ``SendResponse`` (or None).

    Returns:
        An FCM error code such as ``UNREGISTERED``, ``UNKNOWN`` for exceptions that carry none, or None
        when ``exc`` is None.
    """
    if exc is None:
        return None
    for detail in _details(_error_body(exc)):
        if detail.get("@type") == FCM_ERROR_TYPE and isinstance(detail.get("errorCode"), str):
            return detail["errorCode"]
    for exc_type, code in _SDK_ERROR_CODES:
        if isinstance(exc, exc_type):
            return code
    if isinstance(exc, exceptions.FirebaseError):
        return "QUOTA_EXCEEDED" if exc.code == exceptions.RESOURCE_EXHAUSTED else exc.code
    return "UNKNOWN"


def is_token_error(exc: BaseException) -> bool:
    """Tells whether an ``INVALID_ARGUMENT`` is about the registration token rather than the message.

    FCM answers a malformed token with the message "The registration token is not a valid FCM
    registration token"; a field violation naming ``message.token`` means the same.

    Args:
        exc: An SDK exception.

    Returns:
        True if the token itself is invalid.
    """
    error = _error_body(exc)
    for detail in _details(error):
        if detail.get("@type") == BAD_REQUEST_TYPE:
            for violation in detail.get("fieldViolations") or []:
                if isinstance(violation, dict) and violation.get("field") in _TOKEN_FIELDS:
                    return True
    message = str(error.get("message") or exc).lower()
    return "registration token" in message


def retry_after_of(exc: BaseException | None, now: float | None = None) -> float | None:
    """Returns the Retry-After of the response behind an SDK exception, in seconds.

    Args:
        exc: An SDK exception (its ``http_response`` is a requests or httpx response).
        now: The current Unix time, for an HTTP-date value (defaults to the clock).

    Returns:
        Seconds (never negative), or None when there is no usable header.
    """
    response = getattr(exc, "http_response", None)
    headers = getattr(response, "headers", None)
    value = headers.get("Retry-After") if headers is not None else None
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def backoff_s(attempt: int, rng: Rng, policy: RetryPolicy = DEFAULT_POLICY) -> float:
    """Returns a full-jitter exponential backoff delay.

    Args:
        attempt: The 1-based number of the attempt that failed.
        rng: Source of randomness.
        policy: The numbers.

    Returns:
        A delay uniformly drawn from ``[0, min(cap, base * factor**(attempt-1))]``.
    """
    ceiling = min(policy.cap_s, policy.base_s * policy.factor ** max(0, attempt - 1))
    return rng.uniform(0.0, ceiling)


def quota_backoff_s(attempt: int, rng: Rng, policy: RetryPolicy = DEFAULT_POLICY) -> float:
    """Returns the delay after ``QUOTA_EXCEEDED``: exponential, jittered, never under the minimum.

    Args:
        attempt: The 1-based number of the attempt that failed.
        rng: Source of randomness.
        policy: The numbers.

    Returns:
        A delay drawn from ``[quota_min, min(cap, quota_min * factor**(attempt-1))]``.
    """
    ceiling = min(policy.cap_s, policy.quota_min_s * policy.factor ** max(0, attempt - 1))
    return rng.uniform(policy.quota_min_s, max(policy.quota_min_s, ceiling))


def classify(
    exc: BaseException | None,
    attempt: int = 1,
    rng: Rng | None = None,
    *,
    policy: RetryPolicy = DEFAULT_POLICY,
    retry_after_s: float | None = None,
) -> Decision:
    """Decides what to do with a device after one attempt to push to it.

    Args:
        exc: The ``SendResponse.exception`` of the attempt, None on success.
        attempt: The 1-based number of this attempt for this device and push.
        rng: Source of randomness for the jitter (defaults to the ``random`` module).
        policy: The numbers.
        retry_after_s: Overrides the Retry-After read from the exception's response (for tests).

    Returns:
        The decision; see the table in the module docstring.
    """
    if exc is None:
        return Decision(SENT)
    rng = rng if rng is not None else random
    code = error_code_of(exc)
    if code == "UNREGISTERED":
        return Decision(DELETE_DEVICE, error_code=code)
    if code == "SENDER_ID_MISMATCH":
        return Decision(DISABLE_DEVICE, error_code=code)
    if code == "INVALID_ARGUMENT":
        return Decision(DELETE_DEVICE if is_token_error(exc) else FAILED, error_code=code)
    if code == "QUOTA_EXCEEDED":
        delay = quota_backoff_s(attempt, rng, policy)
    elif code in _BACKOFF_CODES:
        delay = backoff_s(attempt, rng, policy)
    else:
        return Decision(FAILED, error_code=code)
    if attempt >= policy.max_attempts:
        return Decision(FAILED, error_code=code)
    server_says = retry_after_s if retry_after_s is not None else retry_after_of(exc)
    if server_says is not None:
        delay = max(delay, server_says)
    return Decision(RETRY, min(delay, policy.cap_s), code)
