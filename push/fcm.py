"""Sending pushes with the real firebase-admin SDK (pinned: firebase_admin==7.7.0).

``configure()`` is the one place that knows SDK internals. firebase-admin has no supported way to send
to anything but ``https://fcm.googleapis.com``, and development and tests must send to the local server
(``push.fcm_server``) with no Google account and no network. ``configure()`` therefore:

1. initialises a named ``firebase_admin.App`` with ``projectId`` set (so tests can hold several), with
   ``credentials.Certificate(path)`` when a service-account file is configured, else ``StaticTokenCredential``
   (a fixed bearer token, never refreshed: no call to Google's token endpoint);
2. creates the app's messaging service (``firebase_admin.messaging._get_messaging_service(app)``, which
   caches it on the app) and, when ``endpoint`` is given, sets its instance attribute ``_fcm_url`` to
   ``{endpoint}/v1/projects/{project}/messages:send``. ``send``, ``send_each``,
   ``send_each_for_multicast`` and their async variants all read that attribute on every call. The class
   attribute ``_MessagingService.FCM_URL`` is deliberately left alone: it is a template read once in the
   service's constructor and shared by every app in the process;
3. mounts a ``requests`` adapter for the target on the service's session (``service._client.session``)
   that keeps the SDK's connection retries but drops its HTTP-status retries. Out of the box the SDK's
   urllib3 ``Retry`` re-sends 500 and 503 up to 4 times and, for 429/503, sleeps for the response's
   ``Retry-After`` inside the call: a one-minute ``Retry-After`` would hold the worker for minutes and the
   policy (``push.policy``) would never see the error. Retrying is the policy's job, by rescheduling.

HTTP/2 does not matter here: the synchronous ``send_each`` path uses ``requests`` (HTTP/1.1, via
google-auth's ``AuthorizedSession``), which is what ``send_multicast`` uses. Only the ``*_async``
functions use httpx with ``http2=True``, and over plain ``http://`` httpx speaks HTTP/1.1 anyway (HTTP/2
is negotiated by TLS ALPN), so they work against the local server too; they keep the SDK's own 500/503
retries, which this module does not use.

``configure()`` checks that the attributes it sets exist, so an SDK upgrade that renames them fails at
start-up with a clear message instead of silently sending to Google.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import firebase_admin
import google.auth.credentials
import requests.adapters
from firebase_admin import credentials, exceptions, messaging
from urllib3.util.retry import Retry

from push.messages import (
    MAX_MULTICAST_TOKENS,
    PushContent,
    build_multicast,
    build_multicast_message,
    build_task_message,
    wire_json,
)
from push.policy import DEFAULT_POLICY, RETRY, SENT, Decision, RetryPolicy, Rng, classify, retry_after_of

log = logging.getLogger(__name__)

GOOGLE_FCM_ORIGIN = "https://fcm.googleapis.com"
#: The bearer token sent to the local server (which checks only that there is one).
LOCAL_TOKEN = "local-fcm-token"
# where Google application-default credentials are found when no service-account file is configured
APPLICATION_DEFAULT_ENV = "GOOGLE_APPLICATION_CREDENTIALS"
#: Per-request timeout: FCM answers in well under a second; 120 s (the SDK default) would stall a worker.
DEFAULT_TIMEOUT_S = 30
# Connection errors are retried once, as the SDK does; HTTP statuses are not retried here (see above).
_TRANSPORT_RETRY = Retry(
    total=None,
    connect=1,
    read=1,
    redirect=0,
    status=0,
    other=0,
    status_forcelist=None,
    allowed_methods=None,
    respect_retry_after_header=False,
    raise_on_status=False,
)


class _FixedToken(google.auth.credentials.Credentials):
    """A google-auth credential holding one bearer token that never expires and never refreshes."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token  # expiry stays None: "never expires", so google-auth never calls refresh

    def refresh(self, request: object) -> None:
        # Called only after a 401 (AuthorizedSession retries twice). There is nothing to refresh, and the
        # 401 must reach the caller as an error rather than trigger a network call.
        return None


class StaticTokenCredential(credentials.Base):
    """A firebase-admin credential that sends a fixed ``Authorization: Bearer`` token.

    For development and tests against the local server: it never contacts Google. Google's FCM rejects
    it (401), so ``configure`` refuses it without an ``endpoint``.

    Args:
        token: The bearer token.
    """

    def __init__(self, token: str = LOCAL_TOKEN) -> None:
        self._credential = _FixedToken(token)

    def get_credential(self) -> google.auth.credentials.Credentials:
        """Returns the google-auth credential firebase-admin authorises requests with."""
        return self._credential


def send_url(endpoint: str, project_id: str) -> str:
    """Returns the HTTP v1 send URL of a project on an FCM-compatible endpoint."""
    return f"{endpoint.rstrip('/')}/v1/projects/{project_id}/messages:send"


def configure(
    app_name: str,
    project_id: str,
    endpoint: str | None = None,
    *,
    credentials_file: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    pool_size: int = 100,
) -> firebase_admin.App:
    """Initialises a firebase-admin App for sending pushes, optionally to a non-Google endpoint.

    Calling it again with the same ``app_name`` replaces that app (the SDK cannot reconfigure one).

    Args:
        app_name: Name of the firebase-admin App (``firebase_admin.get_app(app_name)`` finds it).
        project_id: The Firebase project ID.
        endpoint: Base URL of an FCM-compatible server, e.g. ``http://127.0.0.1:9099`` (the local server);
            None sends to Google.
        credentials_file: A service-account JSON file; without one, ``StaticTokenCredential`` is used,
            which only an ``endpoint`` accepts.
        timeout_s: Per-request timeout in seconds.
        pool_size: Connections kept open to the endpoint (``send_each`` sends up to 500 requests at once;
            the rest wait for a free connection rather than opening new ones).

    Returns:
        The App, with its messaging service pointed at the endpoint.

    Raises:
        ValueError: Sending to Google without a credentials file or application-default credentials
            (``GOOGLE_APPLICATION_CREDENTIALS``).
        RuntimeError: The installed firebase-admin lacks the attributes this function sets.
    """
    if credentials_file:
        credential = credentials.Certificate(credentials_file)
    elif endpoint is not None:
        credential = StaticTokenCredential()
    elif os.environ.get(APPLICATION_DEFAULT_ENV):
        # Google's application-default credentials (a key file, or workload identity's configuration file)
        credential = credentials.ApplicationDefault()
    else:
        raise ValueError(
            f"sending to Google FCM needs a service-account file (credentials_file) or {APPLICATION_DEFAULT_ENV}"
        )
    try:
        firebase_admin.delete_app(firebase_admin.get_app(app_name))
    except ValueError:
        pass  # no such app yet
    app = firebase_admin.initialize_app(credential, {"projectId": project_id, "httpTimeout": timeout_s}, name=app_name)

    service = messaging._get_messaging_service(app)
    session = getattr(getattr(service, "_client", None), "session", None)
    if not hasattr(service, "_fcm_url") or session is None:
        raise RuntimeError(
            f"firebase-admin {firebase_admin.__version__} changed its messaging service; "
            f"update push.fcm.configure (written for 7.7.0)"
        )
    target = GOOGLE_FCM_ORIGIN
    if endpoint is not None:
        service._fcm_url = send_url(endpoint, project_id)
        target = endpoint.rstrip("/")
    # requests picks the longest matching mount prefix, so this wins over the SDK's own adapters.
    # pool_block: with 500 sender threads, waiting for one of pool_size connections beats opening (and
    # throwing away) hundreds of sockets per batch
    session.mount(
        target,
        requests.adapters.HTTPAdapter(
            pool_connections=1, pool_maxsize=pool_size, pool_block=endpoint is not None, max_retries=_TRANSPORT_RETRY
        ),
    )
    log.info("push: app %s sends to %s", app_name, service._fcm_url)
    return app


@dataclass(frozen=True)
class Outcome:
    """The result of one attempt to push to one device.

    Attributes:
        token: The device's registration token.
        status: ``sent``, ``delete_device``, ``disable_device``, ``retry`` or ``failed``.
        message_id: FCM's message name when sent.
        error_code: The FCM error code when not sent.
        retry_after_s: Seconds to wait before the next attempt when ``retry``.
    """

    token: str
    status: str
    message_id: str | None = None
    error_code: str | None = None
    retry_after_s: float | None = None


def outcome_of(token: str, decision: Decision, message_id: str | None = None) -> Outcome:
    """Builds the ``Outcome`` of one token from its policy decision."""
    return Outcome(
        token,
        decision.action,
        message_id if decision.action == SENT else None,
        decision.error_code,
        decision.delay_s if decision.action == RETRY else None,
    )


def chunks(items: Sequence[str], size: int = MAX_MULTICAST_TOKENS) -> Iterable[Sequence[str]]:
    """Splits a sequence into consecutive slices of at most ``size`` items."""
    return (items[start : start + size] for start in range(0, len(items), size))


def send_multicast(
    app: firebase_admin.App,
    tokens: Iterable[str],
    content: PushContent,
    *,
    attempt: int | Mapping[str, int] = 1,
    rng: Rng | None = None,
    policy: RetryPolicy = DEFAULT_POLICY,
    dry_run: bool = False,
) -> list[Outcome]:
    """Sends one push to many devices and classifies each device's result.

    Tokens are de-duplicated (a phone must not get the same push twice) and sent with
    ``messaging.send_each_for_multicast`` in batches of at most 500.

    Args:
        app: An App from ``configure``.
        tokens: Registration tokens.
        content: What the push says.
        attempt: The 1-based attempt number, for all tokens or per token (missing tokens: 1); drives the
            backoff and the give-up point.
        rng: Source of jitter (defaults to the ``random`` module).
        policy: The retry numbers.
        dry_run: Ask FCM to validate only.

    Returns:
        One ``Outcome`` per distinct token, in the order given.

    Raises:
        ValueError: If the content is invalid (a programming error: nothing was sent).
    """
    unique = list(dict.fromkeys(tokens))
    rng = rng if rng is not None else random
    attempts = attempt if isinstance(attempt, Mapping) else None
    outcomes: list[Outcome] = []
    for batch in chunks(unique):
        multicast = build_multicast_message(batch, content)
        try:
            responses = messaging.send_each_for_multicast(multicast, dry_run=dry_run, app=app).responses
        except exceptions.FirebaseError as exc:
            # the SDK failed the batch as a whole (e.g. its thread pool broke): every token shares the error
            responses = [messaging.SendResponse(None, exc)] * len(batch)
        for token, response in zip(batch, responses):
            n = attempts.get(token, 1) if attempts is not None else int(attempt)
            decision = classify(response.exception, n, rng, policy=policy)
            outcomes.append(outcome_of(token, decision, response.message_id))
            if response.exception is not None and decision.action != RETRY:
                log.info("push to %s…: %s (%s)", token[:12], decision.action, decision.error_code)
    return outcomes


# the builders and the policy live in their own pure modules; re-exported so callers need only push.fcm
__all__ = [
    "Decision",
    "Outcome",
    "PushContent",
    "StaticTokenCredential",
    "build_multicast",
    "build_task_message",
    "chunks",
    "classify",
    "configure",
    "outcome_of",
    "retry_after_of",
    "send_multicast",
    "send_url",
    "wire_json",
]
