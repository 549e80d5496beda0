"""Signed cursors (app/pagination.py): only cursors this service issued decode, and only to values the database
can bind; everything else is ``InvalidCursor`` (400), never another exception."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st

from app import pagination
from app.errors import InvalidCursor
from app.pagination import BIGINT_MAX, BIGINT_MIN, decode_cursor, encode_cursor
from tests.strategies import b64, cursor_values, fingerprints, forged_cursors, signed_cursors

SECRET = "unit-test-secret-unit-test-secret-0123456789"
QUICK = settings(max_examples=100, derandomize=True, database=None, deadline=None)
# the key kinds of every list that pages (grep decode_cursor)
KEY_KINDS = [(float, int), (datetime, int), (int,), (str, str, str)]


@pytest.fixture(autouse=True)
def app_context() -> Iterator[None]:
    app = Flask(__name__)
    app.config["SECRET_KEY"] = SECRET
    with app.app_context():
        yield


def _values(kind: type) -> st.SearchStrategy:
    return {
        int: st.integers(min_value=BIGINT_MIN, max_value=BIGINT_MAX),
        float: st.floats(allow_nan=False, allow_infinity=False),
        str: st.text(),
        datetime: st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat),
    }[kind]


@st.composite
def genuine_keys(draw: st.DrawFn) -> tuple[tuple[type, ...], list]:
    kinds = draw(st.sampled_from(KEY_KINDS))
    return kinds, [draw(_values(kind)) for kind in kinds]


@QUICK
@given(genuine_keys(), fingerprints())
def test_a_cursor_issued_here_decodes_to_its_key(kinds_and_key, query_key):
    kinds, key = kinds_and_key
    token = encode_cursor(key, query_key)
    assert len(token) <= 300 or str in kinds  # the endpoints' cursor parameters are at most 300 characters
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    decoded = decode_cursor(token, query_key, kinds)
    expected = [datetime.fromisoformat(v) if kind is datetime else v for kind, v in zip(kinds, key, strict=True)]
    assert decoded == expected


@QUICK
@given(forged_cursors(), fingerprints(), st.sampled_from(KEY_KINDS))
def test_a_forged_cursor_is_always_invalid_cursor(token, query_key, kinds):
    with pytest.raises(InvalidCursor):
        decode_cursor(token, query_key, kinds)


def _assert_bindable(kinds: tuple[type, ...], values: list) -> None:
    for kind, value in zip(kinds, values, strict=True):
        assert type(value) is kind
        if kind is int:
            assert BIGINT_MIN <= value <= BIGINT_MAX
        elif kind is float:
            assert math.isfinite(value)
        elif kind is datetime:
            assert value.tzinfo is not None


@QUICK
@given(st.data(), st.sampled_from(KEY_KINDS))
def test_hostile_values_under_a_genuine_signature_decode_only_to_bindable_values(data, kinds):
    """Past the signature and the fingerprint: every value is checked against its kind."""
    values = data.draw(st.lists(cursor_values(), min_size=len(kinds), max_size=len(kinds)))
    token = pagination.sign(b'{"k":[' + ",".join(values).encode() + b'],"f":"q"}')
    try:
        decoded = decode_cursor(token, "q", kinds)
    except InvalidCursor as error:
        assert error.status == 400 and error.errors["query"]["cursor"]
        return
    _assert_bindable(kinds, decoded)


@QUICK
@given(st.data(), fingerprints(), st.sampled_from(KEY_KINDS))
def test_any_genuinely_signed_payload_is_a_key_or_invalid_cursor(data, query_key, kinds):
    token = data.draw(signed_cursors(pagination.sign))
    try:
        decoded = decode_cursor(token, query_key, kinds)
    except InvalidCursor:
        return
    _assert_bindable(kinds, decoded)


@QUICK
@given(genuine_keys(), st.data())
def test_any_edit_of_a_cursor_is_refused(kinds_and_key, data):
    kinds, key = kinds_and_key
    token = encode_cursor(key, "0123456789ab")
    at = data.draw(st.integers(min_value=0, max_value=len(token) - 1))
    other = data.draw(st.sampled_from("Aa0_-Zz9").filter(lambda c: c != token[at]))
    edits = [token[:at] + other + token[at + 1 :], token[:at] + token[at + 1 :], token[:at] + other + token[at:]]
    for edited in edits:
        with pytest.raises(InvalidCursor):
            decode_cursor(edited, "0123456789ab", kinds)


def test_unsigned_cursors_of_before_and_cursors_under_another_secret_are_refused():
    payload = b'{"k":[250.26,17],"f":"af1366e5d249"}'
    token = pagination.sign(payload)
    assert decode_cursor(token, "af1366e5d249", (float, int)) == [250.26, 17]
    with pytest.raises(InvalidCursor):
        decode_cursor(b64(payload), "af1366e5d249", (float, int))  # the unsigned format before signing
    other = Flask(__name__)
    other.config["SECRET_KEY"] = SECRET + "-rotated"
    with other.app_context():
        with pytest.raises(InvalidCursor):
            decode_cursor(token, "af1366e5d249", (float, int))


@pytest.mark.parametrize(
    ("key", "kinds"),
    [
        (f"[1.0,{2**63}]", (float, int)),
        (f"[1.0,{-(2**63) - 1}]", (float, int)),
        (f"[1.0,{2**64}]", (float, int)),  # beyond 64 bits orjson reads a float
        ("[1e400,1]", (float, int)),
        ("[1.0,true]", (float, int)),
        ('["not-a-date",1]', (datetime, int)),
        ('["2024-05-01T08:00:00",1]', (datetime, int)),  # no offset
        ('["2024-05-01T08:00:00+00:00"]', (datetime, int)),
        ("[1,2,3]", (str, str, str)),
        ('"k"', (int,)),
    ],
)
def test_out_of_range_values_under_a_genuine_signature_are_invalid_cursor(key, kinds):
    token = pagination.sign(b'{"k":' + key.encode() + b',"f":"x"}')
    with pytest.raises(InvalidCursor):
        decode_cursor(token, "x", kinds)


def test_a_cursor_of_another_query_says_so():
    with pytest.raises(InvalidCursor) as refused:
        decode_cursor(encode_cursor([1], "one"), "two", (int,))
    assert "different query" in refused.value.errors["query"]["cursor"][0]


def test_invalid_cursor_is_a_400():
    assert InvalidCursor.status == 400 and InvalidCursor.error_code == "INVALID_CURSOR"
