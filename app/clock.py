"""The one place that tells the time, so pool clocks and offline windows can be tested."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)
