"""Job functions that tests enqueue through the outbox."""

from __future__ import annotations

from app import redis_conn

REMEMBERED = "test:remembered"


def remember(value: str) -> None:
    redis_conn.client().rpush(REMEMBERED, value)


def explode(value: str) -> None:
    raise RuntimeError(f"job failed for {value}")


def remember_request_id(value: str) -> None:
    from app.web import request_id

    redis_conn.client().rpush(REMEMBERED, f"{value}:{request_id.current()}")
