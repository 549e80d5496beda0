"""The edge check of decoded input (app/api.py ``hostile_value``): NUL, lone surrogates, non-finite
numbers, nesting depth."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.api import (
    DEPTH_MESSAGE,
    MAX_JSON_DEPTH,
    NON_FINITE_MESSAGE,
    NUL_MESSAGE,
    SURROGATE_MESSAGE,
    hostile_value,
)
from tests.strategies import deeply_nested_json, lone_surrogates, with_lone_surrogate

QUICK = settings(max_examples=100, derandomize=True, database=None, deadline=None)


def nested(depth: int, leaf: object = 1) -> object:
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"a": value}
    return value


def test_depth_up_to_the_limit_is_fine_and_one_more_is_refused():
    assert hostile_value(nested(MAX_JSON_DEPTH)) is None
    assert hostile_value(nested(MAX_JSON_DEPTH + 1)) == DEPTH_MESSAGE
    assert hostile_value({"query": ["a"], "cursor": ["b"]}) is None  # query arguments: a dict of lists


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("plain", None),
        ("Kahvila \U0001f600 杭州", None),  # a surrogate pair in JSON is one character here: fine
        ("a\x00b", NUL_MESSAGE),
        ("a\ud800b", SURROGATE_MESSAGE),
        ("\udfff", SURROGATE_MESSAGE),
        ({"k\ud83d": 1}, SURROGATE_MESSAGE),
        ({"k": [1, {"x": "\ud800"}]}, SURROGATE_MESSAGE),
        (["ok", "\x00"], NUL_MESSAGE),
        ({"path": 7, "n": None, "f": 1.5, "b": True, "big": 10**400}, None),
        ({"x": [float("nan")]}, NON_FINITE_MESSAGE),
        (float("inf"), NON_FINITE_MESSAGE),
        ({"x": -float("inf")}, NON_FINITE_MESSAGE),
    ],
)
def test_text_reasons(value, reason):
    assert hostile_value(value) == reason


@settings(max_examples=20, derandomize=True, database=None, deadline=None)
@given(deeply_nested_json(max_depth=400))  # below Python's recursion limit: json.loads parses it
def test_every_deep_body_of_the_strategy_is_refused(text):
    assert hostile_value(json.loads(text)) == DEPTH_MESSAGE


@QUICK
@given(st.data(), st.recursive(st.none() | st.integers() | st.text(), lambda inner: st.lists(inner, max_size=3)))
def test_every_surrogate_body_of_the_strategy_is_refused(data, body):
    text = data.draw(with_lone_surrogate(body))
    assert hostile_value(json.loads(text)) == SURROGATE_MESSAGE


@QUICK
@given(st.text(), lone_surrogates(), st.text())
def test_a_lone_surrogate_anywhere_in_a_string_is_found(before, surrogate, after):
    text = (before + surrogate + after).replace("\x00", "")
    assert hostile_value({"field": text}) == SURROGATE_MESSAGE
