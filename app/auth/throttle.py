"""Login throttling: repeated failures for one username, or from one IP, lock further attempts for a while;
and ``count_or_refuse``, the same counters for any endpoint open to the public (self-onboarding).

Counters live in Redis. If Redis is down the throttle is skipped: logins keep working.
"""

from __future__ import annotations

import logging

from flask import current_app
from redis.exceptions import RedisError

from app import redis_conn
from app.errors import LoginLocked, RateLimited

log = logging.getLogger(__name__)

IP_FAILURE_FACTOR = 4  # an office NAT shares one IP among many BDs


def _keys(username: str, tenant_slug: str | None, ip: str | None) -> list[tuple[str, int]]:
    limit = current_app.config["LOGIN_MAX_FAILURES"]
    keys = [(f"login-fail:user:{tenant_slug or '*'}:{username.lower()}", limit)]
    if ip:
        keys.append((f"login-fail:ip:{ip}", limit * IP_FAILURE_FACTOR))
    return keys


def check(username: str, tenant_slug: str | None, ip: str | None) -> None:
    try:
        client = redis_conn.client()
        for key, limit in _keys(username, tenant_slug, ip):
            failures = int(client.get(key) or 0)
            if failures >= limit:
                ttl = client.ttl(key)
                raise LoginLocked(ttl if ttl > 0 else current_app.config["LOGIN_LOCKOUT_SECONDS"])
    except RedisError as exc:
        log.warning("login throttle skipped, redis unavailable: %s", exc)


def record_failure(username: str, tenant_slug: str | None, ip: str | None) -> None:
    window = current_app.config["LOGIN_LOCKOUT_SECONDS"]
    try:
        pipe = redis_conn.client().pipeline()
        for key, _limit in _keys(username, tenant_slug, ip):
            pipe.incr(key)
            pipe.expire(key, window)
        pipe.execute()
    except RedisError as exc:
        log.warning("login failure not counted, redis unavailable: %s", exc)


def reset(username: str, tenant_slug: str | None) -> None:
    try:
        redis_conn.client().delete(f"login-fail:user:{tenant_slug or '*'}:{username.lower()}")
    except RedisError:
        pass


def count_or_refuse(limits: list[tuple[str, int, int]], *, message: str) -> None:
    """Count one attempt under each ``(key, limit, window_seconds)``; refuse (429) once any key has seen more
    than its limit within its window. Fixed windows that start at the first attempt. Skipped without Redis."""
    try:
        client = redis_conn.client()
        pipe = client.pipeline()
        for key, _limit, window in limits:
            pipe.set(key, 0, ex=window, nx=True)
            pipe.incr(key)
            pipe.ttl(key)
        results = pipe.execute()
    except RedisError as exc:
        log.warning("rate limit %s skipped, redis unavailable: %s", limits[0][0], exc)
        return
    for index, (_key, limit, window) in enumerate(limits):
        count, ttl = results[index * 3 + 1], results[index * 3 + 2]
        if count > limit:
            raise RateLimited(ttl if ttl > 0 else window, message)
