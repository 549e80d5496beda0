"""Keys that make two spellings of one merchant compare equal: a name key and normalised phone numbers.

No Flask and no database: the importer, the field-creation check, the migration's backfill and the
benchmark all call these same functions.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import opencc
import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType

# OpenCC's phrase-aware Traditional -> Simplified conversion (the official library's C++ core): 麥當勞 -> 麦当劳.
_TO_SIMPLIFIED = opencc.OpenCC("t2s")

# Bracketed qualifiers are branch names or landmarks: 肯德基(文三路店), 星巴克【西湖店】. NFKC has already
# folded full-width （） into ().
_BRACKETED = re.compile(r"[(\[{【〔「『〈《<][^)\]}】〕」』〉》>]*(?:[)\]}】〕」』〉》>]|$)")
# A branch word at the end: 分店, 总店, 旗舰店, 专卖店, or a bare 店 (面店 and 面 are the same shop).
_BRANCH_SUFFIX = re.compile(r"(分店|总店|旗舰店|专卖店|直营店|加盟店|店)$")
_PHONE_SPLIT = re.compile(r"[,;，；/、|]+")

# Hotlines shared by every store of a chain (400/800 numbers) say nothing about which store it is.
_SHARED_TYPES = {
    PhoneNumberType.TOLL_FREE,
    PhoneNumberType.SHARED_COST,
    PhoneNumberType.PREMIUM_RATE,
    PhoneNumberType.UAN,
    PhoneNumberType.VOICEMAIL,
}
MAX_PHONE_KEYS = 8
PHONE_KEY_LENGTH = 20


def _compact(text: str) -> str:
    return "".join(ch for ch in text if ch.isalnum())


@lru_cache(maxsize=65536)
def name_key(name: str) -> str:
    """Lower-case, simplified-script, without brackets, branch suffixes, spaces or punctuation."""
    text = unicodedata.normalize("NFKC", name or "")
    text = _TO_SIMPLIFIED.convert(text).lower()
    core = _compact(_BRACKETED.sub(" ", text))
    stripped = _BRANCH_SUFFIX.sub("", _BRANCH_SUFFIX.sub("", core))  # 清梅店分店 -> 清梅店 -> 清梅
    # "店" alone, or a name that is only a bracket, keeps what it has rather than becoming empty
    return (stripped or core or _compact(text))[:300]


@lru_cache(maxsize=65536)
def branch_key(name: str) -> str:
    """What the brackets say, normalised like the name: 肯德基(杭州火车站店) -> 杭州火车站; '' without brackets.

    Two names that both name a branch, and name different ones, are two stores of a chain.
    """
    text = _TO_SIMPLIFIED.convert(unicodedata.normalize("NFKC", name or "")).lower()
    parts = [_BRANCH_SUFFIX.sub("", _compact(m.group(0))) for m in _BRACKETED.finditer(text)]
    return "".join(parts)[:100]


def phone_keys(raw: str | None, region: str = "CN") -> list[str]:
    """Every store-specific number in ``raw`` in E.164 (``+8657187806201``), in order, without repeats.

    ``raw`` may hold several numbers separated by ``,``/``;``/``/`` in any national or international format.
    Numbers that cannot be parsed as valid for the region, and chain hotlines, give no key.
    """
    if not raw:
        return []
    keys: list[str] = []
    for piece in _PHONE_SPLIT.split(raw):
        piece = piece.strip()
        if not piece:
            continue
        try:
            number = phonenumbers.parse(piece, region)
        except phonenumbers.NumberParseException:
            continue
        if not phonenumbers.is_valid_number(number) or phonenumbers.number_type(number) in _SHARED_TYPES:
            continue
        key = phonenumbers.format_number(number, PhoneNumberFormat.E164)[:PHONE_KEY_LENGTH]
        if key not in keys:
            keys.append(key)
    return keys[:MAX_PHONE_KEYS]


def is_valid_phone(raw: str, region: str = "CN") -> bool:
    """Every number in ``raw`` is a valid number (hotlines included)."""
    pieces = [p.strip() for p in _PHONE_SPLIT.split(raw) if p.strip()]
    if not pieces:
        return False
    for piece in pieces:
        try:
            if not phonenumbers.is_valid_number(phonenumbers.parse(piece, region)):
                return False
        except phonenumbers.NumberParseException:
            return False
    return True


def valid_region(region: str) -> bool:
    return region in phonenumbers.SUPPORTED_REGIONS
