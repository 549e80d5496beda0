import pytest

from app.merchants.privacy import mask_phone


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812345678", "138****5678"),
        ("+86 138 1234 5678", "+86 138 **** 5678"),
        ("+358 40 1234567", "+358 40 1**4567"),
        ("0571-87654321", "057*-****4321"),
        ("12345", "***45"),
        ("+1 (415) 555-2671", "+1 (415) ***-2671"),
        ("", ""),
    ],
)
def test_mask_phone(phone, masked):
    assert mask_phone(phone) == masked
