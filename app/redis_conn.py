"""Redis connections for cache, rate limits and RQ. Redis is never on the critical path of a request."""

from __future__ import annotations

from functools import cache

import redis
from flask import current_app
from rq import Queue

# How long RQ keeps a failed job for an operator to look at (and retry) before it expires.
FAILED_JOB_TTL_S = 7 * 24 * 3600


@cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=1.0, health_check_interval=30)


def client(url: str | None = None) -> redis.Redis:
    return _client(url or current_app.config["REDIS_URL"])


def queue(name: str = "default", url: str | None = None) -> Queue:
    return Queue(name, connection=client(url))
