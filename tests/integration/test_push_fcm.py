"""The real firebase-admin SDK against the local FCM server (in-process, ephemeral port, no network).

Faults are injected and ended through the server's control API; nothing here sleeps.
"""

import random

import firebase_admin
import httpx
import pytest
from firebase_admin import messaging

from push import fcm
from push.backend import FcmBackend
from push.fcm_server import LocalFCMServer
from push.messages import PushContent, build_task_message, wire_json
from push.policy import DELETE_DEVICE, DISABLE_DEVICE, FAILED, RETRY, SENT

PROJECT = "fieldsales-test"
DATA = {"type": "task", "id": "4711", "deep_link": "fieldsales://tasks/4711"}
CONTENT = PushContent("New task", "Visit Acme Ltd before Friday", DATA, "task-4711")


def tokens(count, prefix="tok"):
    return [f"{prefix}{i:05d}:APA91bH" + "x" * 140 for i in range(count)]


@pytest.fixture(scope="module")
def server():
    with LocalFCMServer() as running:
        yield running


@pytest.fixture(scope="module")
def app(server):
    configured = fcm.configure("push-integration", PROJECT, endpoint=server.url)
    yield configured
    firebase_admin.delete_app(configured)


@pytest.fixture
def control(server):
    server.emulator.reset()
    with httpx.Client(base_url=server.url, timeout=5) as client:
        yield client


def by_token(outcomes):
    return {outcome.token: outcome for outcome in outcomes}


def test_multicast_of_1200_goes_out_in_chunks_of_500_and_arrives_intact(app, control, monkeypatch):
    batch_sizes = []
    real_send = messaging.send_each_for_multicast

    def spy(multicast, dry_run=False, app=None):
        batch_sizes.append(len(multicast.tokens))
        return real_send(multicast, dry_run=dry_run, app=app)

    monkeypatch.setattr(fcm.messaging, "send_each_for_multicast", spy)
    targets = tokens(1200)

    outcomes = fcm.send_multicast(app, targets, CONTENT)

    assert batch_sizes == [500, 500, 200]
    assert [o.token for o in outcomes] == targets
    assert {o.status for o in outcomes} == {SENT}
    recorded = control.get("/messages").json()
    assert recorded["count"] == 1200
    assert sorted(m["token"] for m in recorded["messages"]) == sorted(targets)
    names = {m["token"]: m["name"] for m in recorded["messages"]}
    assert all(o.message_id == names[o.token] for o in outcomes)
    # the payload on the wire is exactly the documented task push, for every token
    for message in recorded["messages"]:
        assert (
            message["message"]
            == wire_json(
                build_task_message(
                    message["token"], title=CONTENT.title, body=CONTENT.body, data=DATA, collapse_key="task-4711"
                )
            )["message"]
        )
        assert message["project"] == PROJECT
    stats = control.get("/stats").json()
    assert stats["requests"] == 1200 and set(stats["attempts"].values()) == {1}


def test_unregistered_tokens_are_deleted(app, control):
    targets = tokens(6, "unreg")
    control.post("/control/unregistered", json={"tokens": targets[:2]})

    outcomes = by_token(fcm.send_multicast(app, targets, CONTENT))

    assert [outcomes[t].status for t in targets] == [DELETE_DEVICE] * 2 + [SENT] * 4
    assert outcomes[targets[0]].error_code == "UNREGISTERED" and outcomes[targets[0]].message_id is None
    assert control.get("/messages").json()["count"] == 4


def test_sender_id_mismatch_disables_the_device(app, control):
    targets = tokens(3, "other-project")
    control.post("/control/sender-mismatch", json={"tokens": [targets[1]]})

    outcomes = by_token(fcm.send_multicast(app, targets, CONTENT))

    assert outcomes[targets[1]].status == DISABLE_DEVICE
    assert outcomes[targets[1]].error_code == "SENDER_ID_MISMATCH"
    assert outcomes[targets[0]].status == outcomes[targets[2]].status == SENT


def test_malformed_token_is_deleted(app, control):
    [outcome] = fcm.send_multicast(app, ["not a token!"], CONTENT)
    assert (outcome.status, outcome.error_code) == (DELETE_DEVICE, "INVALID_ARGUMENT")


def test_outage_with_retry_after_is_retried_later_and_then_succeeds(app, control):
    targets = tokens(20, "outage")
    control.post("/control/outage", json={"status": 503, "seconds": 600, "retry_after": 30})

    during = fcm.send_multicast(app, targets, CONTENT, rng=random.Random(1))

    assert {(o.status, o.error_code) for o in during} == {(RETRY, "UNAVAILABLE")}
    assert all(30 <= o.retry_after_s <= 3600 for o in during)
    # one request per token: the SDK did not retry (and sleep through Retry-After) inside the call
    assert set(control.get("/stats").json()["attempts"].values()) == {1}
    assert control.get("/messages").json()["count"] == 0

    control.delete("/control/outage")
    after = fcm.send_multicast(app, [o.token for o in during if o.status == RETRY], CONTENT, attempt=2)

    assert {o.status for o in after} == {SENT}
    assert sorted(m["token"] for m in control.get("/messages").json()["messages"]) == sorted(targets)


def test_internal_errors_back_off_until_the_last_attempt_fails(app, control):
    targets = tokens(2, "internal")
    control.post("/control/outage", json={"status": 500})

    first = fcm.send_multicast(app, targets, CONTENT, attempt=1, rng=random.Random(2))
    last = fcm.send_multicast(app, targets, CONTENT, attempt=5)

    assert {(o.status, o.error_code) for o in first} == {(RETRY, "INTERNAL")}
    assert all(0 <= o.retry_after_s <= 10 for o in first)
    assert {(o.status, o.error_code) for o in last} == {(FAILED, "INTERNAL")}


@pytest.mark.parametrize("retry_after, at_least", [(None, 60), (5, 60), (120, 120)])
def test_quota_exceeded_is_retried_after_at_least_a_minute(app, control, retry_after, at_least):
    control.post("/control/outage", json={"status": 429, "retry_after": retry_after})

    outcomes = fcm.send_multicast(app, tokens(3, "quota"), CONTENT, rng=random.Random(3))

    assert {(o.status, o.error_code) for o in outcomes} == {(RETRY, "QUOTA_EXCEEDED")}
    assert all(o.retry_after_s >= at_least for o in outcomes)


def test_oversized_data_fails_the_message_but_keeps_the_device(app, control):
    target = tokens(1, "big")
    too_big = PushContent("New task", "b", {**DATA, "note": "n" * 4096}, "task-4711")

    [outcome] = fcm.send_multicast(app, target, too_big)

    assert (outcome.status, outcome.error_code) == (FAILED, "INVALID_ARGUMENT")
    assert control.get("/messages").json()["count"] == 0


def test_data_of_exactly_4096_bytes_is_delivered(app, control):
    used = sum(len(k) + len(v) for k, v in DATA.items()) + len("note")
    exact = PushContent("New task", "b", {**DATA, "note": "n" * (4096 - used)}, "task-4711")

    [outcome] = fcm.send_multicast(app, tokens(1, "exact"), exact)

    assert outcome.status == SENT


def test_third_party_auth_error_fails(app, control):
    target = tokens(1, "apns")
    control.post("/control/third-party-auth-error", json={"tokens": target})

    [outcome] = fcm.send_multicast(app, target, CONTENT)

    assert (outcome.status, outcome.error_code) == (FAILED, "THIRD_PARTY_AUTH_ERROR")


def test_fcm_backend_and_dry_run(app, control):
    outcomes = FcmBackend(app).send(tokens(2, "backend"), CONTENT)
    assert {o.status for o in outcomes} == {SENT}

    [dry] = fcm.send_multicast(app, tokens(1, "dry"), CONTENT, dry_run=True)
    assert dry.status == SENT and dry.message_id == f"projects/{PROJECT}/messages/fake_message_id"
    assert control.get("/messages").json()["count"] == 2


def test_two_named_apps_send_to_their_own_servers(app, control, server):
    with LocalFCMServer() as other:
        second = fcm.configure("push-integration-second", "second-project", endpoint=other.url)
        try:
            fcm.send_multicast(second, tokens(1, "second"), CONTENT)
            fcm.send_multicast(app, tokens(1, "first"), CONTENT)
        finally:
            firebase_admin.delete_app(second)
        assert [m["project"] for m in other.emulator.messages()] == ["second-project"]
    assert [m["project"] for m in server.emulator.messages()] == [PROJECT]


def test_an_unreachable_server_is_a_transient_failure(control):
    with LocalFCMServer() as doomed:
        url = doomed.url
    gone = fcm.configure("push-integration-gone", PROJECT, endpoint=url, timeout_s=2)
    try:
        [outcome] = fcm.send_multicast(gone, tokens(1, "gone"), CONTENT)
    finally:
        firebase_admin.delete_app(gone)
    assert (outcome.status, outcome.error_code) == (RETRY, "UNAVAILABLE")
