"""Where pushes go: the ``PushBackend`` protocol and its two implementations, chosen by configuration.

* ``FcmBackend``: the real firebase-admin SDK, to Google or (development) the local server.
* ``RecordingBackend``: in memory, no HTTP at all; for fast tests of the code that decides whom to push.
  It can be told to fail some tokens with any FCM error code and answers through the same policy, so
  callers see exactly the ``Outcome``s FCM would have produced.

Both return one ``push.fcm.Outcome`` per distinct token, in the order given.
"""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import firebase_admin
from firebase_admin import exceptions, messaging

from push.fcm import Outcome, configure, outcome_of, send_multicast
from push.messages import PushContent, build_message
from push.policy import DEFAULT_POLICY, RetryPolicy, Rng, classify

FCM = "fcm"
RECORDING = "recording"


@runtime_checkable
class PushBackend(Protocol):
    """Sends one push to a set of devices."""

    def send(
        self, tokens: Iterable[str], content: PushContent, *, attempt: int | Mapping[str, int] = 1
    ) -> list[Outcome]:
        """Sends ``content`` to each token.

        Args:
            tokens: Registration tokens (duplicates are sent once).
            content: What the push says.
            attempt: The 1-based attempt number, for all tokens or per token.

        Returns:
            One ``Outcome`` per distinct token, in the order given.
        """
        ...


class FcmBackend:
    """Sends through firebase-admin (``push.fcm.send_multicast``).

    Args:
        app: A firebase-admin App from ``push.fcm.configure``.
        policy: The retry numbers.
        rng: Source of jitter (defaults to the ``random`` module).
    """

    def __init__(self, app: firebase_admin.App, *, policy: RetryPolicy = DEFAULT_POLICY, rng: Rng | None = None):
        self.app = app
        self.policy = policy
        self.rng = rng

    def send(
        self, tokens: Iterable[str], content: PushContent, *, attempt: int | Mapping[str, int] = 1
    ) -> list[Outcome]:
        """See ``PushBackend.send``."""
        return send_multicast(self.app, tokens, content, attempt=attempt, rng=self.rng, policy=self.policy)


# The exception firebase-admin raises for each FCM error code, so scripted failures go through the same
# classification as real ones.
_SDK_EXCEPTIONS: dict[str, type[exceptions.FirebaseError]] = {
    "UNREGISTERED": messaging.UnregisteredError,
    "SENDER_ID_MISMATCH": messaging.SenderIdMismatchError,
    "QUOTA_EXCEEDED": messaging.QuotaExceededError,
    "THIRD_PARTY_AUTH_ERROR": messaging.ThirdPartyAuthError,
    "INVALID_ARGUMENT": exceptions.InvalidArgumentError,
    "UNAVAILABLE": exceptions.UnavailableError,
    "INTERNAL": exceptions.InternalError,
    "UNAUTHENTICATED": exceptions.UnauthenticatedError,
}


def sdk_error(code: str, message: str | None = None) -> exceptions.FirebaseError:
    """Returns the exception firebase-admin raises for an FCM error code (without an HTTP response).

    Args:
        code: An FCM error code, e.g. ``UNREGISTERED``.
        message: The error message; for ``INVALID_ARGUMENT`` it decides whether the token is blamed
            (FCM's "The registration token is not a valid FCM registration token") or the message.

    Returns:
        An instance of the SDK's exception class for the code (``UnknownError`` for unknown codes).
    """
    exc_type = _SDK_EXCEPTIONS.get(code, exceptions.UnknownError)
    return exc_type(message or code)


@dataclass(frozen=True)
class RecordedPush:
    """One push the ``RecordingBackend`` accepted.

    Attributes:
        token: The device's registration token.
        content: What the push said.
        attempt: The attempt number the caller gave.
        message_id: The fake FCM message name returned.
        message: The ``firebase_admin.messaging.Message`` FCM would have received.
    """

    token: str
    content: PushContent
    attempt: int
    message_id: str
    message: messaging.Message


@dataclass
class _Failure:
    code: str
    message: str | None
    retry_after_s: float | None
    remaining: int | None  # None: fail forever


class RecordingBackend:
    """Keeps pushes in memory instead of sending them (thread-safe).

    Args:
        policy: The retry numbers.
        rng: Source of jitter (defaults to a ``random.Random(0)``: tests are reproducible).
    """

    def __init__(self, *, policy: RetryPolicy = DEFAULT_POLICY, rng: Rng | None = None) -> None:
        self.policy = policy
        self.rng = rng if rng is not None else random.Random(0)
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._failures: dict[str, _Failure] = {}
        self.pushes: list[RecordedPush] = []

    def fail(
        self,
        tokens: Iterable[str],
        code: str,
        *,
        message: str | None = None,
        retry_after_s: float | None = None,
        times: int | None = None,
    ) -> None:
        """Makes pushes to these tokens fail as FCM would.

        Args:
            tokens: Registration tokens.
            code: The FCM error code, e.g. ``UNREGISTERED`` or ``UNAVAILABLE``.
            message: The error message (see ``sdk_error``).
            retry_after_s: The Retry-After FCM announces, if any.
            times: Fail only this many attempts per token, then succeed; None: always.
        """
        with self._lock:
            for token in tokens:
                self._failures[token] = _Failure(code, message, retry_after_s, times)

    def clear(self) -> None:
        """Forgets recorded pushes and scripted failures."""
        with self._lock:
            self.pushes.clear()
            self._failures.clear()

    def pushes_to(self, token: str) -> list[RecordedPush]:
        """Returns the pushes recorded for one token, oldest first."""
        with self._lock:
            return [push for push in self.pushes if push.token == token]

    def send(
        self, tokens: Iterable[str], content: PushContent, *, attempt: int | Mapping[str, int] = 1
    ) -> list[Outcome]:
        """See ``PushBackend.send``; raises ``ValueError`` for invalid content, as ``FcmBackend`` does."""
        unique = list(dict.fromkeys(tokens))
        if not unique:
            return []
        # the real SDK message: invalid content fails here exactly as it would in production
        build_message(unique[0], content)
        outcomes = []
        with self._lock:
            for token in unique:
                n = attempt.get(token, 1) if isinstance(attempt, Mapping) else int(attempt)
                failure = self._failures.get(token)
                if failure is not None and failure.remaining != 0:
                    if failure.remaining is not None:
                        failure.remaining -= 1
                    decision = classify(
                        sdk_error(failure.code, failure.message),
                        n,
                        self.rng,
                        policy=self.policy,
                        retry_after_s=failure.retry_after_s,
                    )
                    outcomes.append(outcome_of(token, decision))
                    continue
                message_id = f"projects/recording/messages/{next(self._ids)}"
                self.pushes.append(RecordedPush(token, content, n, message_id, build_message(token, content)))
                outcomes.append(outcome_of(token, classify(None), message_id))
        return outcomes


def make_backend(
    kind: str = FCM,
    *,
    project_id: str = "",
    endpoint: str | None = None,
    credentials_file: str | None = None,
    app_name: str = "fieldsales-push",
    policy: RetryPolicy = DEFAULT_POLICY,
) -> PushBackend:
    """Builds the backend the configuration asks for.

    Args:
        kind: ``fcm`` or ``recording``.
        project_id: The Firebase project ID (``fcm``).
        endpoint: Base URL of the local FCM server; empty or None sends to Google (``fcm``).
        credentials_file: A service-account file; empty or None uses a static local token (``fcm``).
        app_name: Name of the firebase-admin App (``fcm``).
        policy: The retry numbers.

    Returns:
        A ``PushBackend``.

    Raises:
        ValueError: For an unknown kind, or ``fcm`` without a project or without any target credentials.
    """
    if kind == RECORDING:
        return RecordingBackend(policy=policy)
    if kind != FCM:
        raise ValueError(f"unknown push backend {kind!r} (expected {FCM!r} or {RECORDING!r})")
    if not project_id:
        raise ValueError("the fcm push backend needs a Firebase project ID")
    app = configure(app_name, project_id, endpoint or None, credentials_file=credentials_file or None)
    return FcmBackend(app, policy=policy)
