"""Answer checks of visit forms, without a database: types, show_if chains, and cleaning."""

from __future__ import annotations

import math

from app.tenants.visit_forms import BUILT_IN, COMPETITOR_FORM, validate_answers

FORM = {
    "key": "f",
    "version": 1,
    "fields": [
        {"key": "kinds", "label": "Kinds", "type": "multi_choice", "options": ["tea", "coffee"]},
        {"key": "coffee_brand", "label": "Brand", "type": "text", "show_if": {"field": "kinds", "equals": "coffee"}},
        {"key": "any_kind_note", "label": "Note", "type": "text", "required": True, "show_if": {"field": "kinds"}},
        {"key": "price", "label": "Price", "type": "number"},
    ],
}


def test_show_if_on_a_multi_choice_means_contains_and_without_equals_means_answered():
    cleaned, errors = validate_answers(
        FORM, {"kinds": ["tea", "coffee"], "coffee_brand": "Lavazza", "any_kind_note": "x"}
    )
    assert errors == {} and cleaned["coffee_brand"] == "Lavazza"
    _, errors = validate_answers(FORM, {"kinds": ["tea"], "coffee_brand": "Lavazza", "any_kind_note": "x"})
    assert errors == {"coffee_brand": ["Not asked unless kinds is answered so."]}
    # nothing chosen: the note is not asked, so not required
    assert validate_answers(FORM, {"kinds": []}) == ({}, {})
    assert validate_answers(FORM, {"kinds": ["tea"]})[1] == {"any_kind_note": ["Required."]}


def test_numbers_must_be_finite():
    assert validate_answers(FORM, {"price": math.inf})[1] == {"price": ["A number."]}
    assert validate_answers(FORM, {"price": 2.5}) == ({"price": 2.5}, {})


def test_an_invalid_controlling_answer_is_reported_once():
    _, errors = validate_answers(FORM, {"kinds": "coffee", "coffee_brand": "x"})
    assert errors == {"kinds": ["A list of: tea, coffee."]}


def test_the_built_in_competitor_form():
    form = BUILT_IN[COMPETITOR_FORM]
    assert validate_answers(form, {"platform": " Meituan ", "online": False}) == (
        {"platform": "Meituan", "online": False},
        {},
    )
    assert validate_answers(form, {"online": True})[1] == {"platform": ["Required."]}
