"""Who sees a merchant's phone numbers in full, the masking for everyone else, and the audit of reveals.

One rule for every response that carries a merchant's or a contact's phones (detail, contact writes):
``can_see_phones``; every response that shows them in full records the reveal (``record_reveal``).
"""

from __future__ import annotations

import re
from typing import Any

import phonenumbers
from redis.exceptions import RedisError

from app import clock, db, redis_conn
from app.audit import service as audit
from app.org.models import Role, User

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


def can_see_phones(caller: User, caller_path: str | None, lead: Any) -> bool:
    """Full phone numbers: the lead's owner, the owner's managers, ops and admins."""
    if caller.role in (Role.OPS, Role.ADMIN):
        return True
    if lead.owner_id is None:
        return False
    if lead.owner_id == caller.id:
        return True
    if caller.role != Role.MANAGER:
        return False
    in_subtree = bool(caller_path and lead.owner_path and lead.owner_path.startswith(caller_path))
    return lead.owner_manager_id == caller.id or in_subtree


REVEAL_LOGGED_TTL_S = 26 * 3600


def record_reveal(
    caller: User, tenant_id: int, merchant_id: int, *, contact_ids: list[int], merchant_phone: bool
) -> None:
    """Full phone numbers shown are personal data disclosed: audited, in the request's unit of work.

    Once per person, merchant, set of numbers and day: a BD reopens their merchants all day long, and a
    durable write on every read would double the cost of the page. Redis remembers what was logged (set
    after the commit, so a failed commit is logged again); without Redis every reveal is logged.
    """
    contacts = contact_ids
    if not contacts and not merchant_phone:
        return
    key = (
        f"audit:reveal:{tenant_id}:{caller.id}:{merchant_id}:{clock.now().date().isoformat()}:"
        f"{int(merchant_phone)}:{','.join(map(str, contacts))}"
    )
    try:
        client = redis_conn.client()
        if client.exists(key):
            return
    except RedisError:
        client = None
    audit.record_audit(
        audit.PHONES_REVEALED,
        actor=caller,
        subject_type="merchant",
        subject_id=merchant_id,
        after={"merchant_phone": merchant_phone, "contact_ids": contacts},
        tenant_id=tenant_id,
    )
    if client is not None:
        db.on_commit(lambda: client.set(key, 1, ex=REVEAL_LOGGED_TTL_S))
