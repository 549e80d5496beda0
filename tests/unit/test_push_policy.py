"""The delivery policy: every FCM error code, backoff, jitter, Retry-After, attempts.

Exceptions are produced by firebase-admin's own error handling from responses shaped by the local server,
so these tests also pin that the server's error bodies become the SDK exceptions FCM's would.
"""

import email.utils
import json
import random

import pytest
import requests
from firebase_admin import _utils, exceptions, messaging

from push.fcm_server import error_body
from push.policy import (
    DELETE_DEVICE,
    DISABLE_DEVICE,
    FAILED,
    RETRY,
    SENT,
    Decision,
    RetryPolicy,
    backoff_s,
    classify,
    error_code_of,
    is_token_error,
    quota_backoff_s,
    retry_after_of,
)


def sdk_exception(status, body, headers=None):
    """The exception firebase-admin's send_each attaches to a SendResponse for this HTTP answer."""
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode()
    response.headers.update(headers or {})
    error = requests.exceptions.HTTPError(response=response)
    return _utils.handle_platform_error_from_requests(error, messaging._MessagingService._build_fcm_error_requests)


def fcm_error(code, message=None, field=None, retry_after=None):
    status, body = error_body(code, message, field)
    return sdk_exception(status, body, {"Retry-After": str(retry_after)} if retry_after is not None else None)


class Fixed:
    """An rng stub: returns the given fraction of the interval, and records the intervals asked for."""

    def __init__(self, fraction):
        self.fraction = fraction
        self.calls = []

    def uniform(self, a, b):
        self.calls.append((a, b))
        return a + (b - a) * self.fraction


@pytest.mark.parametrize(
    "code, exc_type",
    [
        ("UNREGISTERED", messaging.UnregisteredError),
        ("SENDER_ID_MISMATCH", messaging.SenderIdMismatchError),
        ("QUOTA_EXCEEDED", messaging.QuotaExceededError),
        ("THIRD_PARTY_AUTH_ERROR", messaging.ThirdPartyAuthError),
        ("INVALID_ARGUMENT", exceptions.InvalidArgumentError),
        ("UNAVAILABLE", exceptions.UnavailableError),
        ("INTERNAL", exceptions.InternalError),
    ],
)
def test_server_error_bodies_become_the_sdk_exceptions_of_fcm(code, exc_type):
    exc = fcm_error(code)
    assert type(exc) is exc_type
    assert error_code_of(exc) == code


@pytest.mark.parametrize(
    "exc, action, code",
    [
        (None, SENT, None),
        (fcm_error("UNREGISTERED"), DELETE_DEVICE, "UNREGISTERED"),
        (
            fcm_error(
                "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token", "message.token"
            ),
            DELETE_DEVICE,
            "INVALID_ARGUMENT",
        ),
        (fcm_error("INVALID_ARGUMENT", "Message is too big"), FAILED, "INVALID_ARGUMENT"),
        (
            fcm_error(
                "INVALID_ARGUMENT",
                "Invalid value at 'message.data[0].value' (TYPE_STRING), 12",
                "message.data[0].value",
            ),
            FAILED,
            "INVALID_ARGUMENT",
        ),
        (fcm_error("SENDER_ID_MISMATCH"), DISABLE_DEVICE, "SENDER_ID_MISMATCH"),
        (fcm_error("QUOTA_EXCEEDED"), RETRY, "QUOTA_EXCEEDED"),
        (fcm_error("UNAVAILABLE"), RETRY, "UNAVAILABLE"),
        (fcm_error("INTERNAL"), RETRY, "INTERNAL"),
        (fcm_error("THIRD_PARTY_AUTH_ERROR"), FAILED, "THIRD_PARTY_AUTH_ERROR"),
        (
            sdk_exception(401, {"error": {"code": 401, "message": "no", "status": "UNAUTHENTICATED"}}),
            FAILED,
            "UNAUTHENTICATED",
        ),
        (
            sdk_exception(404, {"error": {"code": 404, "message": "no such project", "status": "NOT_FOUND"}}),
            FAILED,
            "NOT_FOUND",
        ),
        (exceptions.UnknownError("boom"), FAILED, "UNKNOWN"),
        (RuntimeError("not from the SDK"), FAILED, "UNKNOWN"),
    ],
)
def test_policy_table(exc, action, code):
    decision = classify(exc, 1, random.Random(1))
    assert (decision.action, decision.error_code) == (action, code)
    assert (decision.delay_s > 0) == (action == RETRY)


def test_a_real_fcm_invalid_token_answer_without_field_violation_is_about_the_token():
    # FCM's documented answer carries only the FcmError detail; the message names the token
    exc = sdk_exception(
        400,
        {
            "error": {
                "code": 400,
                "message": "The registration token is not a valid FCM registration token",
                "status": "INVALID_ARGUMENT",
                "details": [
                    {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "INVALID_ARGUMENT"}
                ],
            }
        },
    )
    assert is_token_error(exc)
    assert classify(exc).action == DELETE_DEVICE


def test_sdk_exceptions_without_a_response_are_classified_by_type():
    assert classify(messaging.UnregisteredError("gone")).action == DELETE_DEVICE
    assert classify(messaging.SenderIdMismatchError("x")).action == DISABLE_DEVICE
    assert (
        classify(exceptions.InvalidArgumentError("The registration token is not a valid FCM registration token")).action
        == DELETE_DEVICE
    )
    assert classify(exceptions.InvalidArgumentError("Message is too big")).action == FAILED
    # a refused connection (UnavailableError) and a timeout (DeadlineExceededError) are transient
    assert classify(exceptions.UnavailableError("Failed to establish a connection")).action == RETRY
    assert classify(exceptions.DeadlineExceededError("Timed out")).action == RETRY


def test_bare_429_counts_as_quota_exceeded():
    exc = sdk_exception(429, {"error": {"code": 429, "message": "slow down", "status": "RESOURCE_EXHAUSTED"}})
    decision = classify(exc, 1, Fixed(0.0))
    assert (decision.action, decision.error_code) == (RETRY, "QUOTA_EXCEEDED")
    assert decision.delay_s >= 60


@pytest.mark.parametrize("code", ["UNAVAILABLE", "INTERNAL"])
def test_backoff_ceiling_doubles_from_10s_and_caps_at_an_hour(code):
    top = Fixed(1.0)
    delays = [classify(fcm_error(code), n, top, policy=RetryPolicy(max_attempts=20)).delay_s for n in range(1, 13)]
    assert delays[:6] == [10, 20, 40, 80, 160, 320]
    assert delays[-1] == 3600
    assert max(delays) == 3600


def test_backoff_is_full_jitter_between_zero_and_the_ceiling():
    rng = random.Random(7)
    for attempt in range(1, 5):
        ceiling = 10 * 2 ** (attempt - 1)
        delays = [backoff_s(attempt, rng) for _ in range(400)]
        assert all(0 <= d <= ceiling for d in delays)
        # jitter spreads the retries over the whole interval (thundering herd)
        assert min(delays) < ceiling * 0.1 and max(delays) > ceiling * 0.9
    stub = Fixed(0.5)
    backoff_s(3, stub)
    assert stub.calls == [(0.0, 40.0)]


def test_retry_after_is_a_floor_for_transient_errors():
    decision = classify(fcm_error("UNAVAILABLE", retry_after=30), 1, Fixed(1.0))
    assert decision == Decision(RETRY, 30.0, "UNAVAILABLE")
    # a larger backoff wins over a smaller Retry-After
    assert classify(fcm_error("UNAVAILABLE", retry_after=5), 4, Fixed(1.0)).delay_s == 80


def test_retry_after_is_capped_at_an_hour():
    assert classify(fcm_error("UNAVAILABLE", retry_after=86400), 1, Fixed(0.0)).delay_s == 3600


def test_quota_exceeded_waits_at_least_a_minute_and_grows():
    low, high = Fixed(0.0), Fixed(1.0)
    assert classify(fcm_error("QUOTA_EXCEEDED"), 1, high).delay_s == 60
    for attempt in range(1, 5):
        assert classify(fcm_error("QUOTA_EXCEEDED"), attempt, low).delay_s >= 60
    assert [quota_backoff_s(n, high) for n in (1, 2, 3)] == [60, 120, 240]
    rng = random.Random(3)
    assert all(60 <= quota_backoff_s(3, rng) <= 240 for _ in range(200))


def test_quota_exceeded_honours_a_larger_retry_after():
    assert classify(fcm_error("QUOTA_EXCEEDED", retry_after=300), 1, Fixed(0.0)).delay_s == 300
    assert classify(fcm_error("QUOTA_EXCEEDED", retry_after=10), 1, Fixed(0.0)).delay_s == 60


@pytest.mark.parametrize("code", ["UNAVAILABLE", "INTERNAL", "QUOTA_EXCEEDED"])
def test_the_last_attempt_fails_for_good(code):
    exc = fcm_error(code, retry_after=5)
    assert classify(exc, 4, Fixed(0.5)).action == RETRY
    assert classify(exc, 5, Fixed(0.5)) == Decision(FAILED, 0.0, code)
    assert classify(exc, 2, Fixed(0.5), policy=RetryPolicy(max_attempts=2)).action == FAILED


def test_non_retryable_errors_ignore_attempts_and_retry_after():
    assert classify(fcm_error("UNREGISTERED", retry_after=30), 9).action == DELETE_DEVICE


def test_retry_after_parsing():
    assert retry_after_of(fcm_error("UNAVAILABLE", retry_after=7)) == 7.0
    assert retry_after_of(fcm_error("UNAVAILABLE")) is None
    assert retry_after_of(messaging.UnregisteredError("no response")) is None
    assert retry_after_of(None) is None
    date = email.utils.formatdate(1_000_120, usegmt=True)
    exc = sdk_exception(503, error_body("UNAVAILABLE")[1], {"Retry-After": date})
    assert retry_after_of(exc, now=1_000_000) == 120
    assert retry_after_of(exc, now=2_000_000) == 0  # a date in the past: retry now
    garbage = sdk_exception(503, error_body("UNAVAILABLE")[1], {"Retry-After": "soon"})
    assert retry_after_of(garbage) is None


def test_explicit_retry_after_overrides_the_response():
    assert classify(messaging.QuotaExceededError("q"), 1, Fixed(0.0), retry_after_s=600).delay_s == 600


def test_error_code_prefers_the_fcm_detail_over_the_http_status():
    exc = sdk_exception(404, error_body("UNREGISTERED")[1])
    assert exc.code == "NOT_FOUND"  # the canonical status the SDK keeps
    assert error_code_of(exc) == "UNREGISTERED"
    assert error_code_of(None) is None
