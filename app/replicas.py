"""Read replicas: which replica a read may use, and read-your-writes.

The routing itself is SQLAlchemy's: a read request's session is a ``RoutingSession`` (app/db.py) whose
``get_bind`` hands its reads to the replica's engine and anything that writes to the primary's. This module
decides *which* replica, from what PostgreSQL reports, and nothing else; it is our own code because the
decision needs the app's notion of a user (read-your-writes), which a proxy in front of PostgreSQL (pgpool,
pgcat) cannot know.

- **Health and lag**: every process checks its replicas at most every ``REPLICA_CHECK_INTERVAL_MS``, during
  the read that finds the check due: one query on the primary (``pg_current_wal_lsn()``) and one per replica
  (``pg_is_in_recovery()``, ``pg_last_wal_replay_lsn()``). The primary's LSNs are kept with the time each was
  first seen, so a replica's lag is how long ago the primary first had WAL the replica has not replayed: true
  staleness to within one check interval, and 0 on an idle primary (unlike ``now() -
  pg_last_xact_replay_timestamp()``, which grows while nothing is written). A replica lagging more than
  ``REPLICA_MAX_LAG_MS``, not in recovery (promoted), or unreachable is skipped until a check finds it well.
- **Read-your-writes**: after a user's write request commits, the primary's ``pg_current_wal_lsn()`` (at or
  past the commit) is remembered per user in Redis; that user's reads use only a replica that has replayed
  past it, else the primary. Without Redis, an acting user's reads go to the primary (a read may not be stale
  for its own writer); anonymous reads may still use a replica.
"""

from __future__ import annotations

import bisect
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import jwt as pyjwt
from flask import request
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from app import redis_conn

log = logging.getLogger(__name__)

_PRIMARY_LSN = text("SELECT (pg_current_wal_lsn() - '0/0')::bigint")
_REPLICA_STATE = text("SELECT pg_is_in_recovery(), (COALESCE(pg_last_wal_replay_lsn(), '0/0') - '0/0')::bigint")
# keep the larger of the stored and the new LSN: two writes of one user may finish out of order
_REMEMBER_MAX = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
"""
KEY = "replica:commit-lsn:{}"


@dataclass
class Replica:
    name: str  # host:port/database, for logs and health (never the password)
    engine: Engine
    healthy: bool = False
    replay_lsn: int = 0
    lag_ms: float = float("inf")
    error: str | None = None


@dataclass
class ReplicaSet:
    primary: Engine
    replicas: list[Replica]
    max_lag_ms: float
    check_interval_ms: float
    clock: Callable[[], float] = time.monotonic  # seconds; tests move it instead of waiting
    _checked_at: float | None = None
    # the primary's WAL positions, each with the time it was first seen (both ascending)
    _lsns: list[int] = field(default_factory=list)
    _seen_at: list[float] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def remember_ms(self) -> int:
        """How long a user's commit LSN is kept: past it, any replica still behind it lags beyond the limit."""
        return int(max(60_000, 10 * self.max_lag_ms))

    def choose(self, min_lsn: int | None) -> Replica | None:
        """A healthy replica within the lag limit that has replayed ``min_lsn``; None: use the primary."""
        self.check_if_due()
        usable = [
            replica
            for replica in self.replicas
            if replica.healthy
            and replica.lag_ms <= self.max_lag_ms
            and (min_lsn is None or replica.replay_lsn >= min_lsn)
        ]
        return random.choice(usable) if usable else None

    def check_if_due(self) -> None:
        now = self.clock()
        if self._checked_at is not None and (now - self._checked_at) * 1000 < self.check_interval_ms:
            return
        if not self._lock.acquire(blocking=False):
            return  # another thread of this process is checking: route by what is known
        try:
            self.check()
        finally:
            self._lock.release()

    def check(self) -> None:
        """Ask the primary where its WAL is, then each replica how far it has replayed."""
        now = self.clock()
        self._checked_at = now
        try:
            with self.primary.connect() as conn:
                primary_lsn = conn.execute(_PRIMARY_LSN).scalar_one()
        except SQLAlchemyError:
            log.warning("replica check: the primary did not answer", exc_info=True)
            return  # the primary's outage is the request's to report; replicas keep their last state
        self._note_primary_lsn(now, primary_lsn)
        for replica in self.replicas:
            try:
                with replica.engine.connect() as conn:
                    in_recovery, replay_lsn = conn.execute(_REPLICA_STATE).one()
            except SQLAlchemyError as exc:
                self.mark_down(replica, exc)
                continue
            replica.replay_lsn = replay_lsn
            replica.lag_ms = self._lag_ms(now, replay_lsn)
            replica.healthy = bool(in_recovery)
            replica.error = None if in_recovery else "not in recovery (promoted?)"

    def mark_down(self, replica: Replica, exc: BaseException) -> None:
        """Skip ``replica`` until a check finds it well; its pooled connections are dead, drop them."""
        if replica.healthy or replica.error is None:
            log.warning("replica %s is unavailable: %s", replica.name, str(exc).splitlines()[0] if str(exc) else exc)
        replica.healthy = False
        replica.error = type(exc).__name__
        replica.engine.dispose()

    def _note_primary_lsn(self, now: float, lsn: int) -> None:
        if not self._lsns or lsn > self._lsns[-1]:
            self._lsns.append(lsn)
            self._seen_at.append(now)
        # positions older than the remembered window no longer matter, except the newest of them: a replica
        # behind it lags more than the window (far over the limit)
        drop = bisect.bisect_left(self._seen_at, now - self.remember_ms / 1000) - 1
        if drop > 0:
            del self._lsns[:drop], self._seen_at[:drop]

    def _lag_ms(self, now: float, replay_lsn: int) -> float:
        """Time since the primary first had WAL past ``replay_lsn`` (0 if the replica has all of it)."""
        first_ahead = bisect.bisect_right(self._lsns, replay_lsn)
        if first_ahead == len(self._lsns):
            return 0.0
        if first_ahead == 0:
            # behind the oldest position known: either older than the remembered window, or this process
            # started after the replica fell behind and cannot tell by how much; skip it until it passes
            return float("inf")
        return (now - self._seen_at[first_ahead]) * 1000

    def describe(self) -> list[dict[str, object]]:
        return [
            {
                "name": r.name,
                "healthy": r.healthy,
                "lag_ms": None if r.lag_ms == float("inf") else round(r.lag_ms),
                "error": r.error,
            }
            for r in self.replicas
        ]


def requesting_user_id() -> int | None:
    """The user a read is for, from its bearer token, before authentication has run.

    Unverified on purpose: it only picks whose commit LSN to honour (a forged token can at most send its own
    request to the primary); authentication verifies the token as always.
    """
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme != "Bearer" or not token.strip():
        return None
    try:
        claims = pyjwt.decode(token.strip(), options={"verify_signature": False})
        return int(claims["sub"])
    except (pyjwt.PyJWTError, KeyError, TypeError, ValueError):
        return None


class Unknown(Exception):
    """Redis did not answer: a user's last commit LSN is not known."""


def commit_lsn_of(user_id: int) -> int | None:
    try:
        value = redis_conn.client().get(KEY.format(user_id))
    except RedisError as exc:
        raise Unknown() from exc
    return int(value) if value is not None else None


def remember_commit_lsn(user_id: int, lsn: int, ttl_ms: int) -> None:
    try:
        redis_conn.client().eval(_REMEMBER_MAX, 1, KEY.format(user_id), lsn, ttl_ms)
    except RedisError:
        log.warning("could not remember user %s's commit LSN: their next reads may lag their write", user_id)


def primary_lsn(primary: Engine) -> int:
    with primary.connect() as conn:
        return conn.execute(_PRIMARY_LSN).scalar_one()
