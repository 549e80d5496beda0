"""The local FCM server: FCM's validation and error shapes, fault injection, records (over real HTTP)."""

import copy

import httpx
import pytest

from push.fcm_server import FCM_ERROR_TYPE, FcmEmulator, LocalFCMServer

TOKEN = "dQw4w9WgXcQ:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx"
AUTH = {"Authorization": "Bearer local-fcm-token"}
SEND = "/v1/projects/demo/messages:send"
MESSAGE = {
    "token": TOKEN,
    "notification": {"title": "New task", "body": "Visit Acme"},
    "data": {"type": "task", "id": "1", "deep_link": "fieldsales://tasks/1"},
    "android": {"collapse_key": "task-1", "priority": "high", "ttl": "86400s", "notification": {"channel_id": "tasks"}},
    "apns": {
        "headers": {"apns-priority": "10", "apns-collapse-id": "task-1", "apns-push-type": "alert"},
        "payload": {"aps": {"sound": "default", "thread-id": "tasks"}},
    },
}


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture(scope="module")
def clock():
    return Clock()


@pytest.fixture(scope="module")
def server(clock):
    with LocalFCMServer(emulator=FcmEmulator(clock=clock)) as running:
        yield running


@pytest.fixture
def client(server):
    server.emulator.reset()
    with httpx.Client(base_url=server.url, timeout=5) as http:
        yield http


def send(client, message=None, *, headers=AUTH, **body):
    return client.post(SEND, json={"message": MESSAGE if message is None else message, **body}, headers=headers)


def with_changes(**changes):
    message = copy.deepcopy(MESSAGE)
    for key, value in changes.items():
        if value is None:
            message.pop(key, None)
        else:
            message[key] = value
    return message


def assert_fcm_error(response, http_status, status, code):
    assert response.status_code == http_status, response.text
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (http_status, status)
    assert {"@type": FCM_ERROR_TYPE, "errorCode": code} in error["details"]
    return error


def test_accepts_a_task_push_and_records_it(client, server):
    response = send(client)

    assert response.status_code == 200
    name = response.json()["name"]
    assert name.startswith("projects/demo/messages/")
    [record] = client.get("/messages").json()["messages"]
    assert record["name"] == name and record["token"] == TOKEN and record["project"] == "demo"
    assert record["message"] == MESSAGE
    assert record["received_at"].endswith("+00:00")


def test_missing_or_empty_bearer_token_is_401_unauthenticated(client):
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer"}):
        response = send(client, headers=headers)
        assert response.status_code == 401
        error = response.json()["error"]
        assert error["status"] == "UNAUTHENTICATED"
        assert all(detail["@type"] != FCM_ERROR_TYPE for detail in error["details"])  # FCM never saw it
    assert client.get("/messages").json()["count"] == 0


@pytest.mark.parametrize(
    "token",
    [
        "short:APA91b",  # under 20 characters
        "x" * 4097,  # too long
        "dQw4w9WgXcQ:APA91bHun4MxP5egoKMwt2KZ FBaFUH",  # space
        "dQw4w9WgXcQ:APA91bHun4MxP5egoKMwt2KZ/FBaFUH",  # not base64url
        "",
    ],
)
def test_malformed_token_is_invalid_argument_about_the_token(client, token):
    error = assert_fcm_error(send(client, with_changes(token=token)), 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT")
    assert error["message"] == "The registration token is not a valid FCM registration token"
    assert error["details"][1]["fieldViolations"][0]["field"] == "message.token"


@pytest.mark.parametrize("token", ["a" * 20, "x" * 4096, "fGx3-_:.APA91bH" + "Z" * 150])
def test_plausible_tokens_are_accepted(client, token):
    assert send(client, with_changes(token=token)).status_code == 200


def test_exactly_one_target(client):
    both = assert_fcm_error(send(client, with_changes(topic="news")), 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT")
    assert "oneof field 'target' is already set" in both["message"]
    none = assert_fcm_error(send(client, with_changes(token=None)), 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT")
    assert none["message"] == "Recipient of the message is not set."
    assert send(client, with_changes(token=None, topic="news")).status_code == 200
    assert send(client, with_changes(token=None, condition="'a' in topics")).status_code == 200
    assert send(client, with_changes(token=None, fid="cAbCdEfGhIjKlMnOpQrStU")).status_code == 200
    assert_fcm_error(
        send(client, with_changes(token=None, topic="bad topic")), 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT"
    )


def test_unknown_message_field_is_invalid_argument(client):
    error = assert_fcm_error(send(client, with_changes(priority="high")), 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT")
    assert error["message"] == (
        "Invalid JSON payload received. Unknown name \"priority\" at 'message': Cannot find field."
    )
    assert_fcm_error(
        client.post(SEND, json={"message": MESSAGE, "dry_run": True}, headers=AUTH),
        400,
        "INVALID_ARGUMENT",
        "INVALID_ARGUMENT",
    )


def test_non_string_data_value_is_invalid_argument(client):
    error = assert_fcm_error(
        send(client, with_changes(data={"type": "task", "id": 1})), 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT"
    )
    assert error["message"] == "Invalid value at 'message.data[1].value' (TYPE_STRING), 1"
    assert error["details"][1]["fieldViolations"][0]["field"] == "message.data[1].value"


def test_reserved_data_key_is_invalid_argument(client):
    for key in ("from", "google.c.a", "gcm.x"):
        assert_fcm_error(send(client, with_changes(data={key: "1"})), 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT")


@pytest.mark.parametrize("notification", [{"title": 1}, {"body": ["b"]}, {"subtitle": "s"}, "hello"])
def test_notification_title_and_body_are_strings(client, notification):
    assert_fcm_error(send(client, with_changes(notification=notification)), 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT")


@pytest.mark.parametrize(
    "android",
    [
        {"priority": "urgent"},
        {"ttl": "3600"},
        {"ttl": 3600},
        {"ttl": "2419201s"},
        {"collapse_key": 7},
        {"notification": {"channel_id": 1}},
        {"notification": {"chanel_id": "tasks"}},
        {"data": {"a": 1}},
        {"colour": "red"},
    ],
)
def test_android_config_is_validated(client, android):
    assert_fcm_error(send(client, with_changes(android=android)), 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT")


@pytest.mark.parametrize(
    "android",
    [
        {"priority": "normal", "ttl": "0s"},
        {"priority": "HIGH", "ttl": "3600.5s"},
        {"ttl": "2419200s"},
    ],
)
def test_android_config_accepts_fcm_values(client, android):
    assert send(client, with_changes(android=android)).status_code == 200


@pytest.mark.parametrize(
    "apns",
    [
        {"headers": {"apns-priority": "7"}},
        {"headers": {"apns-priority": 10}},
        {"headers": {"apns-collapse-id": "x" * 65}},
        {"headers": {"apns-push-type": "shout"}},
        {"payload": {"aps": "alert"}},
        {"payload": {"aps": {"badge": "1"}}},
        {"payload": {"aps": {"thread-id": 5}}},
        {"payload": {"aps": {"sound": 1}}},
        {"priority": "10"},
    ],
)
def test_apns_config_is_validated(client, apns):
    assert_fcm_error(send(client, with_changes(apns=apns)), 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT")


def test_apns_priority_5_is_accepted(client):
    apns = {"headers": {"apns-priority": "5"}, "payload": {"aps": {}}}
    assert send(client, with_changes(apns=apns)).status_code == 200


def data_of_size(size):
    # one key "k" and a value making keys + values exactly `size` bytes
    return {"k": "v" * (size - 1)}


def test_data_payload_of_exactly_4096_bytes_is_accepted(client):
    assert send(client, with_changes(data=data_of_size(4096))).status_code == 200


def test_data_payload_over_4096_bytes_is_too_big(client):
    error = assert_fcm_error(
        send(client, with_changes(data=data_of_size(4097))), 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT"
    )
    assert error["message"] == "Message is too big"
    assert len(error["details"]) == 1  # no field violation: the message, not the token, is at fault


def test_data_size_counts_utf8_bytes_of_keys_and_values(client):
    # 2 + 2 * 2047 = 4096 bytes in 2049 characters
    assert send(client, with_changes(data={"kk": "é" * 2047})).status_code == 200
    assert send(client, with_changes(data={"ké": "é" * 2047})).status_code == 400


def test_android_data_is_limited_on_its_own(client):
    android = {"data": data_of_size(4097)}
    assert send(client, with_changes(android=android)).json()["error"]["message"] == "Message is too big"


def test_topic_messages_are_limited_to_2048_bytes(client):
    topic = with_changes(token=None, topic="news", data=data_of_size(2048))
    assert send(client, topic).status_code == 200
    topic["data"] = data_of_size(2049)
    assert send(client, topic).status_code == 400


def test_malformed_json_and_missing_message(client):
    response = client.post(SEND, content=b"{not json", headers={**AUTH, "Content-Type": "application/json"})
    assert_fcm_error(response, 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT")
    assert_fcm_error(client.post(SEND, json={}, headers=AUTH), 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT")
    assert_fcm_error(
        client.post(SEND, json={"message": MESSAGE, "validate_only": "yes"}, headers=AUTH),
        400,
        "INVALID_ARGUMENT",
        "INVALID_ARGUMENT",
    )


def test_validate_only_validates_without_recording(client):
    response = send(client, validate_only=True)
    assert response.json() == {"name": "projects/demo/messages/fake_message_id"}
    assert send(client, with_changes(data={"n": 1}), validate_only=True).status_code == 400
    assert client.get("/messages").json()["count"] == 0


@pytest.mark.parametrize(
    "path, code, http_status, status",
    [
        ("/control/unregistered", "UNREGISTERED", 404, "NOT_FOUND"),
        ("/control/sender-mismatch", "SENDER_ID_MISMATCH", 403, "PERMISSION_DENIED"),
        ("/control/third-party-auth-error", "THIRD_PARTY_AUTH_ERROR", 401, "UNAUTHENTICATED"),
    ],
)
def test_token_faults(client, path, code, http_status, status):
    other = "other-token:APA91b-xxxxxxxxxxxx"
    assert client.post(path, json={"tokens": [TOKEN]}).status_code == 200

    assert_fcm_error(send(client), http_status, status, code)
    assert send(client, with_changes(token=other)).status_code == 200
    client.post("/control/reset")
    assert send(client).status_code == 200


def test_an_invalid_message_to_an_unregistered_token_is_invalid_argument(client):
    # FCM validates the request before it looks the token up
    client.post("/control/unregistered", json={"tokens": [TOKEN]})
    assert send(client, with_changes(data={"n": 1})).status_code == 400


@pytest.mark.parametrize(
    "status, code, canonical",
    [
        (503, "UNAVAILABLE", "UNAVAILABLE"),
        (500, "INTERNAL", "INTERNAL"),
        (429, "QUOTA_EXCEEDED", "RESOURCE_EXHAUSTED"),
    ],
)
def test_outage_with_retry_after_until_ended(client, status, code, canonical):
    assert client.post("/control/outage", json={"status": status, "retry_after": 5}).status_code == 200

    response = send(client)
    assert_fcm_error(response, status, canonical, code)
    assert response.headers["Retry-After"] == "5"
    assert client.get("/control").json()["outage"]["status"] == status

    client.delete("/control/outage")
    assert send(client).status_code == 200


def test_outage_without_retry_after_sends_no_header(client):
    client.post("/control/outage", json={"status": 503})
    response = send(client)
    assert response.status_code == 503 and "Retry-After" not in response.headers


def test_outage_ends_by_itself_after_its_seconds(client, clock):
    client.post("/control/outage", json={"status": 503, "seconds": 10, "retry_after": 5})
    assert send(client).status_code == 503
    clock.now += 9.9
    assert send(client).status_code == 503
    clock.now += 0.1
    assert send(client).status_code == 200
    assert client.get("/control").json()["outage"] is None


def test_outage_limited_to_some_tokens(client):
    client.post("/control/outage", json={"status": 500, "tokens": [TOKEN]})
    assert send(client).status_code == 500
    assert send(client, with_changes(token="other-token:APA91b-xxxxxxxxxxxx")).status_code == 200


def test_outage_answers_before_validation(client):
    client.post("/control/outage", json={"status": 503})
    assert send(client, with_changes(data={"n": 1})).status_code == 503


@pytest.mark.parametrize(
    "path, body",
    [
        ("/control/outage", {"status": 404}),
        ("/control/unregistered", {"tokens": "not-a-list"}),
        ("/control/unregistered", {}),
    ],
)
def test_bad_control_requests_are_400(client, path, body):
    assert client.post(path, json=body).status_code == 400


def test_messages_are_listed_newest_last_filtered_and_cleared(client):
    tokens = [f"token-{i}:APA91bxxxxxxxxxxxx" for i in range(3)]
    for token in tokens + [tokens[0]]:
        assert send(client, with_changes(token=token)).status_code == 200

    listed = client.get("/messages").json()
    assert listed["count"] == 4
    assert [m["token"] for m in listed["messages"]] == tokens + [tokens[0]]
    assert [m["token"] for m in client.get("/messages", params={"token": tokens[0]}).json()["messages"]] == [
        tokens[0]
    ] * 2
    assert [m["token"] for m in client.get("/messages", params={"limit": 2}).json()["messages"]] == [
        tokens[2],
        tokens[0],
    ]
    assert client.delete("/messages").status_code == 200
    assert client.get("/messages").json()["count"] == 0


def test_stats_count_every_attempt_per_token(client):
    client.post("/control/unregistered", json={"tokens": [TOKEN]})
    send(client)
    send(client)
    send(client, with_changes(token="other-token:APA91b-xxxxxxxxxxxx"))
    send(client, headers={})  # unauthenticated attempts count too

    stats = client.get("/stats").json()
    assert stats["requests"] == 4 and stats["accepted"] == 1 and stats["rejected"] == 3
    assert stats["by_code"] == {"UNREGISTERED": 2, "OK": 1, "UNAUTHENTICATED": 1}
    assert stats["attempts"] == {TOKEN: 3, "other-token:APA91b-xxxxxxxxxxxx": 1}
    assert client.get("/stats", params={"token": TOKEN}).json()["attempts"] == {TOKEN: 3}


def test_reset_forgets_faults_records_and_stats(client):
    client.post("/control/unregistered", json={"tokens": [TOKEN]})
    client.post("/control/outage", json={"status": 503})
    client.post("/control/reset")
    assert client.get("/control").json() == {"token_errors": {}, "outage": None}
    assert client.get("/stats").json()["requests"] == 0


def test_unknown_routes_and_methods(client):
    assert client.get("/nope").status_code == 404
    assert client.get(SEND).status_code == 405
    assert client.get("/healthz").json() == {"ok": True}


def test_keeps_connections_alive(client):
    # firebase-admin's pooled connections must be reusable, or every push costs a TCP handshake
    response = send(client)
    assert response.http_version == "HTTP/1.1"
    assert response.headers.get("Connection", "").lower() != "close"


def test_ephemeral_ports_and_clean_stop():
    with LocalFCMServer() as first, LocalFCMServer() as second:
        assert first.port != second.port
        assert httpx.get(f"{first.url}/healthz").status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{first.url}/healthz", timeout=1)
