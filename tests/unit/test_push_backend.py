"""Backends and configuration, without any network: RecordingBackend, make_backend, configure."""

import firebase_admin
import pytest
from firebase_admin import messaging

from push import fcm
from push.backend import FcmBackend, PushBackend, RecordingBackend, make_backend, sdk_error
from push.messages import PushContent, wire_json
from push.policy import DELETE_DEVICE, DISABLE_DEVICE, FAILED, RETRY, SENT

TOKENS = [f"token-{i}:APA91bxxxxxxxxxxxxxxxx" for i in range(4)]
CONTENT = PushContent(
    "New task", "Visit Acme", {"type": "task", "id": "1", "deep_link": "fieldsales://tasks/1"}, "task-1"
)


@pytest.fixture
def app_names():
    names = []
    yield names
    for name in names:
        try:
            firebase_admin.delete_app(firebase_admin.get_app(name))
        except ValueError:
            pass


def test_recording_backend_records_and_answers_sent():
    backend = RecordingBackend()
    outcomes = backend.send(TOKENS + [TOKENS[0]], CONTENT)

    assert [(o.token, o.status) for o in outcomes] == [(t, SENT) for t in TOKENS]  # duplicates sent once
    assert all(o.message_id for o in outcomes)
    assert [p.token for p in backend.pushes] == TOKENS
    [push] = backend.pushes_to(TOKENS[1])
    assert push.content == CONTENT and push.attempt == 1
    assert wire_json(push.message)["message"]["token"] == TOKENS[1]


def test_recording_backend_scripted_failures_go_through_the_policy():
    backend = RecordingBackend()
    backend.fail([TOKENS[0]], "UNREGISTERED")
    backend.fail([TOKENS[1]], "SENDER_ID_MISMATCH")
    backend.fail([TOKENS[2]], "UNAVAILABLE", retry_after_s=30)
    backend.fail([TOKENS[3]], "INVALID_ARGUMENT", message="Message is too big")

    outcomes = {o.token: o for o in backend.send(TOKENS, CONTENT)}

    assert outcomes[TOKENS[0]].status == DELETE_DEVICE
    assert outcomes[TOKENS[1]].status == DISABLE_DEVICE
    assert (outcomes[TOKENS[2]].status, outcomes[TOKENS[2]].error_code) == (RETRY, "UNAVAILABLE")
    assert outcomes[TOKENS[2]].retry_after_s >= 30
    assert (outcomes[TOKENS[3]].status, outcomes[TOKENS[3]].error_code) == (FAILED, "INVALID_ARGUMENT")
    assert backend.pushes == []


def test_recording_backend_failures_can_stop_after_some_attempts():
    backend = RecordingBackend()
    backend.fail([TOKENS[0]], "INTERNAL", times=1)

    assert backend.send([TOKENS[0]], CONTENT)[0].status == RETRY
    assert backend.send([TOKENS[0]], CONTENT, attempt=2)[0].status == SENT
    assert backend.pushes_to(TOKENS[0])[0].attempt == 2


def test_recording_backend_gives_up_at_max_attempts():
    backend = RecordingBackend()
    backend.fail([TOKENS[0]], "QUOTA_EXCEEDED")
    assert backend.send([TOKENS[0]], CONTENT, attempt={TOKENS[0]: 5})[0].status == FAILED


def test_recording_backend_refuses_invalid_content_like_the_real_one():
    bad = PushContent("t", "b", {"type": "task"}, "k")
    with pytest.raises(ValueError):
        RecordingBackend().send(TOKENS, bad)
    assert RecordingBackend().send([], CONTENT) == []


def test_both_backends_satisfy_the_protocol(app_names):
    app_names.append("push-test-protocol")
    app = fcm.configure("push-test-protocol", "demo", endpoint="http://127.0.0.1:1")
    assert isinstance(RecordingBackend(), PushBackend)
    assert isinstance(FcmBackend(app), PushBackend)


def test_sdk_error_builds_the_sdk_exception_types():
    assert isinstance(sdk_error("UNREGISTERED"), messaging.UnregisteredError)
    assert sdk_error("SOMETHING_NEW").code == "UNKNOWN"


def test_make_backend_by_configuration(app_names):
    assert isinstance(make_backend("recording"), RecordingBackend)
    app_names.append("push-test-make")
    backend = make_backend("fcm", project_id="demo", endpoint="http://127.0.0.1:9099", app_name="push-test-make")
    assert isinstance(backend, FcmBackend)
    with pytest.raises(ValueError, match="unknown push backend"):
        make_backend("carrier-pigeon")
    with pytest.raises(ValueError, match="project"):
        make_backend("fcm", project_id="", endpoint="http://127.0.0.1:9099")
    with pytest.raises(ValueError, match="service-account"):
        make_backend("fcm", project_id="demo", endpoint="", credentials_file="")  # Google without credentials


def test_configure_points_the_apps_messaging_service_at_the_endpoint(app_names):
    app_names.extend(["push-test-a", "push-test-b"])
    a = fcm.configure("push-test-a", "proj-a", endpoint="http://127.0.0.1:9099/")
    b = fcm.configure("push-test-b", "proj-b", endpoint="http://127.0.0.1:9100")

    assert messaging._get_messaging_service(a)._fcm_url == "http://127.0.0.1:9099/v1/projects/proj-a/messages:send"
    assert messaging._get_messaging_service(b)._fcm_url == "http://127.0.0.1:9100/v1/projects/proj-b/messages:send"
    # the class attribute (the template for every app) is untouched
    assert messaging._MessagingService.FCM_URL == "https://fcm.googleapis.com/v1/projects/{0}/messages:send"
    assert a.project_id == "proj-a" and isinstance(a.credential, fcm.StaticTokenCredential)


def test_configure_again_replaces_the_app(app_names):
    app_names.append("push-test-again")
    first = fcm.configure("push-test-again", "demo", endpoint="http://127.0.0.1:9099")
    second = fcm.configure("push-test-again", "demo", endpoint="http://127.0.0.1:9200")
    assert first is not second
    assert firebase_admin.get_app("push-test-again") is second
    assert messaging._get_messaging_service(second)._fcm_url.startswith("http://127.0.0.1:9200/")


def test_configure_disables_the_sdks_status_retries(app_names):
    app_names.append("push-test-retry")
    app = fcm.configure("push-test-retry", "demo", endpoint="http://127.0.0.1:9099")
    session = messaging._get_messaging_service(app)._client.session
    retry = session.get_adapter("http://127.0.0.1:9099/v1/projects/demo/messages:send").max_retries
    assert not retry.is_retry("POST", 503, has_retry_after=True)
    assert not retry.is_retry("POST", 429, has_retry_after=True)
    assert not retry.is_retry("POST", 500)
    assert retry.connect == 1 and retry.read == 1


def test_static_token_credential_never_refreshes():
    credential = fcm.StaticTokenCredential("abc").get_credential()
    assert credential.valid and credential.token == "abc"
    credential.refresh(None)  # no network call, no error
    headers = {}
    credential.before_request(None, "POST", "http://127.0.0.1/", headers)
    assert headers["authorization"] == "Bearer abc"


def test_chunks_of_at_most_500():
    assert [len(c) for c in fcm.chunks(list(range(1200)))] == [500, 500, 200]
    assert list(fcm.chunks([])) == []
