from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.leads.rules import drop_clock
from app.tenants.models import DEFAULT_SETTINGS

RULES = DEFAULT_SETTINGS["pool"]
CLAIMED = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_unvisited_lead_drops_after_the_no_visit_window():
    clock = drop_clock(CLAIMED, None, 0, RULES)
    assert clock == drop_clock(CLAIMED, CLAIMED - timedelta(days=3), 0, RULES)  # a visit before the claim is ignored
    assert (clock.drops_at, clock.reason) == (CLAIMED + timedelta(days=15), "no_visit")


def test_visits_push_the_no_visit_clock_until_the_signing_deadline():
    clock = drop_clock(CLAIMED, CLAIMED + timedelta(days=10), 0, RULES)
    assert (clock.drops_at, clock.reason) == (CLAIMED + timedelta(days=25), "no_visit")
    clock = drop_clock(CLAIMED, CLAIMED + timedelta(days=20), 0, RULES)
    assert (clock.drops_at, clock.reason) == (CLAIMED + timedelta(days=30), "no_signing")


def test_term_end_fires_when_it_is_earliest():
    rules = {**RULES, "no_sign_days": 60}
    clock = drop_clock(CLAIMED, CLAIMED + timedelta(days=40), 0, rules)
    assert (clock.drops_at, clock.reason) == (CLAIMED + timedelta(days=45), "term_end")


def test_extensions_move_every_clock():
    clock = drop_clock(CLAIMED, None, 15, RULES)
    assert clock.drops_at == CLAIMED + timedelta(days=30)
