"""The pool clocks: when a private lead drops back to the public pool, and why.

A claimed lead drops at the earliest of: the term end (claim + term_days + extensions), no verified visit
by the owner for no_visit_days (counted from the claim or the last such visit), and no signing within
no_sign_days of the claim (moved by extensions too). Partners never drop. The time a manager's lock held
the clocks (``paused_seconds``) moves every clock like an extension does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class DropClock:
    drops_at: datetime
    reason: str  # "term_end" | "no_visit" | "no_signing"


def drop_clock(
    claimed_at: datetime,
    last_visit_at: datetime | None,
    extended_days: int,
    rules: dict[str, Any],
    paused_seconds: int = 0,
) -> DropClock:
    extension = timedelta(days=extended_days, seconds=paused_seconds)
    candidates = [
        (claimed_at + timedelta(days=rules["term_days"]) + extension, "term_end"),
        (max(claimed_at, last_visit_at or claimed_at) + timedelta(days=rules["no_visit_days"]) + extension, "no_visit"),
        (claimed_at + timedelta(days=rules["no_sign_days"]) + extension, "no_signing"),
    ]
    drops_at, reason = min(candidates, key=lambda item: item[0])
    return DropClock(drops_at, reason)
