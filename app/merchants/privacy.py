"""Masking of personal data for callers who may not see it in full."""

from __future__ import annotations

import re

import phonenumbers

_DIGIT = re.compile(r"\d")


def _country_code_digits(phone: str) -> int:
    if not phone.lstrip().startswith("+"):
        return 0
    try:
        return len(str(phonenumbers.parse(phone, None).country_code))
    except phonenumbers.NumberParseException:
        return 0


def mask_phone(phone: str) -> str:
    """Keep the country code, the first three and the last four digits: ``138****5678``, ``+86 138 **** 5678``.

    Separators stay where they were, so the masked number still reads like a number. Numbers with fewer
    than eight national digits keep only their last two.
    """
    prefix = _country_code_digits(phone)
    digits = len(_DIGIT.findall(phone))
    keep_head, keep_tail = (prefix + 3, 4) if digits - prefix >= 8 else (prefix, 2)
    out, seen = [], 0
    for char in phone:
        if char.isdigit():
            seen += 1
            out.append(char if seen <= keep_head or seen > digits - keep_tail else "*")
        else:
            out.append(char)
    return "".join(out)
