"""Building task pushes: the exact JSON firebase-admin puts on the wire."""

import warnings

import pytest
from firebase_admin import messaging

from push.messages import (
    MAX_DATA_BYTES,
    PushContent,
    apns_collapse_id,
    build_message,
    build_multicast,
    build_task_message,
    data_payload_size,
    wire_json,
)

TOKEN = "dQw4w9WgXcQ:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx"
DATA = {"type": "task", "id": "4711", "deep_link": "fieldsales://tasks/4711"}


def task_message(**overrides):
    args = {"title": "New task", "body": "Visit Acme Ltd before Friday", "data": DATA, "collapse_key": "task-4711"}
    args.update(overrides)
    return build_task_message(TOKEN, **args)


def test_task_push_wire_json_is_exactly_the_documented_body():
    body = wire_json(task_message())

    assert body == {
        "message": {
            "android": {
                "collapse_key": "task-4711",
                "notification": {"channel_id": "tasks"},
                "priority": "high",
                "ttl": "86400s",
            },
            "apns": {
                "headers": {"apns-priority": "10", "apns-collapse-id": "task-4711", "apns-push-type": "alert"},
                "payload": {"aps": {"sound": "default", "thread-id": "tasks"}},
            },
            "data": {"type": "task", "id": "4711", "deep_link": "fieldsales://tasks/4711"},
            "notification": {"body": "Visit Acme Ltd before Friday", "title": "New task"},
            "token": TOKEN,
        }
    }
    # the key order the module docstring shows (what the mobile guide copies)
    assert list(body["message"]) == ["android", "apns", "data", "notification", "token"]


def test_dry_run_adds_validate_only():
    assert wire_json(task_message(), validate_only=True)["validate_only"] is True


def test_options_reach_the_wire():
    body = wire_json(
        task_message(
            channel_id="reminders", thread_id="visits", ttl_s=3600, data={**DATA, "type": "reminder", "merchant": "m-1"}
        )
    )["message"]

    assert body["android"]["notification"] == {"channel_id": "reminders"}
    assert body["android"]["ttl"] == "3600s"
    assert body["apns"]["payload"]["aps"]["thread-id"] == "visits"
    assert body["data"] == {"type": "reminder", "id": "4711", "deep_link": "fieldsales://tasks/4711", "merchant": "m-1"}


def test_data_routing_keys_come_first_whatever_the_callers_order():
    message = task_message(data={"extra": "1", "deep_link": "x://y", "id": "9", "type": "task"})
    assert list(message.data) == ["type", "id", "deep_link", "extra"]


@pytest.mark.parametrize(
    "data, error",
    [
        ({"type": "task", "id": "1"}, "lacks deep_link"),
        ({**DATA, "count": 3}, "must be strings"),
        ({**DATA, "from": "x"}, "reserved"),
        ({**DATA, "google.sent_time": "1"}, "reserved"),
        ({**DATA, "gcm.n.e": "1"}, "reserved"),
    ],
)
def test_bad_data_is_refused_before_sending(data, error):
    with pytest.raises(ValueError, match=error):
        task_message(data=data)


@pytest.mark.parametrize("overrides", [{"title": ""}, {"body": None}, {"collapse_key": ""}])
def test_incomplete_content_is_refused(overrides):
    with pytest.raises(ValueError):
        task_message(**overrides)


def test_empty_token_is_refused():
    with pytest.raises(ValueError):
        build_message("", PushContent("t", "b", DATA, "k"))


def test_multicast_carries_the_same_parts_for_every_token():
    tokens = [f"{TOKEN}{i}" for i in range(3)]
    multicast = build_multicast(tokens, "New task", "Visit Acme Ltd before Friday", DATA, "task-4711")

    assert isinstance(multicast, messaging.MulticastMessage)
    assert multicast.tokens == tokens
    single = wire_json(task_message())["message"]
    assert messaging._MessagingService.encode_message(
        messaging.Message(
            data=multicast.data,
            notification=multicast.notification,
            android=multicast.android,
            apns=multicast.apns,
            fid="x",
        )
    ) == {**{k: v for k, v in single.items() if k != "token"}, "fid": "x"}


@pytest.mark.parametrize("count", [0, 501])
def test_multicast_takes_1_to_500_tokens(count):
    with pytest.raises(ValueError, match="1 to 500"):
        build_multicast([TOKEN] * count, "t", "b", DATA, "k")


def test_builders_emit_no_deprecation_warning_for_registration_tokens():
    # firebase-admin 7.7 deprecates `token` for `fid`; registration tokens are still what phones send us
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        task_message()
        build_multicast([TOKEN], "t", "b", DATA, "k")


def test_apns_collapse_id_fits_64_bytes():
    assert apns_collapse_id("task-4711") == "task-4711"
    exact = "k" * 64
    assert apns_collapse_id(exact) == exact

    long_a, long_b = "a" * 65, "a" * 64 + "b"
    assert len(apns_collapse_id(long_a).encode()) <= 64
    assert apns_collapse_id(long_a) != apns_collapse_id(long_b)  # no accidental collapsing
    assert apns_collapse_id(long_a).startswith("a" * 40)

    multibyte = apns_collapse_id("é" * 40)  # 80 bytes: cut on a character boundary
    assert len(multibyte.encode()) <= 64
    assert multibyte.startswith("é")


def test_long_collapse_key_is_kept_for_android_and_shortened_for_apns():
    key = "task-" + "x" * 100
    body = wire_json(task_message(collapse_key=key))["message"]
    assert body["android"]["collapse_key"] == key
    assert body["apns"]["headers"]["apns-collapse-id"] == apns_collapse_id(key)


def test_data_payload_size_counts_utf8_keys_and_values():
    assert data_payload_size({"ab": "cd"}) == 4
    assert data_payload_size({"k": "é"}) == 3
    assert MAX_DATA_BYTES == 4096
