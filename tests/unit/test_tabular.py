from __future__ import annotations

import pytest

from app.tabular import spreadsheet_safe


@pytest.mark.parametrize(
    "payload", ['=HYPERLINK("http://x.example","click")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]
)
def test_formulas_are_neutralised_for_spreadsheets(payload):
    assert spreadsheet_safe(payload) == "'" + payload


@pytest.mark.parametrize("value", ["老王面馆", "a=b", -12.5, 3, None, ""])
def test_other_values_pass_unchanged(value):
    assert spreadsheet_safe(value) == value
