"""Engine, session, declarative base, transactions and after-commit hooks.

Every tenant-owned model mixes in ``TenantScoped``. Once a request (or job) has set the tenant with
``scope_to_tenant``, every ORM select, update and delete on the session is filtered to that tenant,
so a query that forgets the filter still cannot read another business line's rows.
"""

from __future__ import annotations

import enum
import functools
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import orjson
import psycopg
from flask import g, request
from psycopg.types.json import Jsonb, set_json_loads
from sqlalchemy import BigInteger, DateTime, ForeignKey, MetaData, create_engine, event, func
from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.exc import DisconnectionError, IntegrityError, InternalError, OperationalError
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    ORMExecuteState,
    Session,
    declared_attr,
    mapped_column,
    scoped_session,
    sessionmaker,
    with_loader_criteria,
)
from sqlalchemy.pool import QueuePool
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.sql.expression import Executable
from sqlalchemy.sql.selectable import Select

from app import replicas
from app.replicas import Replica, ReplicaSet

log = logging.getLogger(__name__)
T = TypeVar("T")

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: DateTime(timezone=True)}


def enum_values(enum_cls: type[enum.Enum]) -> list[str]:
    """``values_callable`` of SQLAlchemy ``Enum`` columns: store the members' values, not their names."""
    return [member.value for member in enum_cls]


class TenantScoped:
    """Mixin for rows that belong to one tenant (business line)."""

    @declared_attr
    def tenant_id(cls) -> Mapped[int]:
        return mapped_column(BigInteger, ForeignKey("tenants.id", ondelete="CASCADE"), index=True)


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


# json/jsonb columns and json_build_object() results: orjson parses them several times faster
set_json_loads(orjson.loads)


# SQL text that may change data or takes locks that mean something only on the primary
_WRITING_SQL = re.compile(
    r"\b(INSERT|UPDATE|DELETE|MERGE|TRUNCATE|COPY|CALL|NEXTVAL|SETVAL|PG_ADVISORY\w*)\b|\bFOR\s+(NO\s+KEY\s+)?UPDATE\b"
    r"|\bFOR\s+(KEY\s+)?SHARE\b",
    re.IGNORECASE,
)


# string literals, quoted names and comments: their words are data, not SQL (`kind = 'call'` calls nothing)
_NOT_SQL_WORDS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/", re.DOTALL)


@functools.lru_cache(maxsize=4096)
def _text_reads_only(sql: str) -> bool:
    """A plain query: SELECT or WITH without a word that writes or locks (a conservative look at the text)."""
    code = _NOT_SQL_WORDS.sub(" ", sql)
    return code.lstrip().upper().startswith(("SELECT", "WITH")) and _WRITING_SQL.search(code) is None


def _writes(clause: object) -> bool:
    """Whether a statement may change data (or lock rows for a change): such statements need the primary."""
    if isinstance(clause, UpdateBase):
        return True
    if isinstance(clause, TextClause):
        return not _text_reads_only(clause.text)
    return isinstance(clause, Select) and clause._for_update_arg is not None


class RoutingSession(Session):
    """A session whose reads may go to a read replica (SQLAlchemy's ``get_bind`` hook).

    Only a read request's session gets a replica (``begin_request``); the first statement that writes, and
    every statement after it, goes to the primary, so a read that writes (the audit of phone numbers shown)
    and whatever it reads next see the primary.
    """

    def get_bind(self, mapper: Any = None, *, clause: Any = None, **kw: Any) -> Any:
        replica: Replica | None = self.info.get("replica")
        if replica is not None:
            if not self._flushing and not _writes(clause):
                return replica.engine
            self.info["replica"] = None
        return super().get_bind(mapper, clause=clause, **kw)


session: scoped_session[Session] = scoped_session(sessionmaker(class_=RoutingSession, expire_on_commit=False))
_engine: Engine | None = None
_read_engine: Engine | None = None
_replica_set: ReplicaSet | None = None

# JIT compilation costs hundreds of milliseconds and only pays off for analytics, never here; UTC so that every
# time read back (and answered) is UTC, whatever the server's own zone
_SESSION_OPTIONS = "-c jit=off -c timezone=UTC"


# Called with the seconds each pool checkout waited (metrics: a pool too small shows here first).
checkout_wait_observers: list[Callable[[float], object]] = []


class TimedQueuePool(QueuePool):
    """SQLAlchemy's default pool, timing each checkout: the pool has no event before a checkout waits."""

    def _do_get(self) -> Any:
        started = time.perf_counter()
        try:
            return super()._do_get()
        finally:
            waited = time.perf_counter() - started
            for observe in checkout_wait_observers:
                observe(waited)


def init_engine(
    url: str,
    *,
    pool_size: int = 10,
    prepare_threshold: int | None = 5,
    replica_urls: list[str] | tuple[str, ...] = (),
    replica_max_lag_ms: float = 2000,
    replica_check_interval_ms: float = 500,
) -> Engine:
    global _engine
    if _engine is not None:
        _engine.dispose()
    _engine = create_engine(
        url,
        poolclass=TimedQueuePool,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        connect_args={"connect_timeout": 3, "options": _SESSION_OPTIONS, "prepare_threshold": prepare_threshold},
    )
    event.listen(_engine, "checkin", _note_idle)
    event.listen(_engine, "checkout", _ping_if_idle)
    global _read_engine
    _read_engine = _engine.execution_options(isolation_level="AUTOCOMMIT")  # same pool
    session.remove()
    session.configure(bind=_engine)
    configure_replicas(
        replica_urls,
        pool_size=pool_size,
        prepare_threshold=prepare_threshold,
        max_lag_ms=replica_max_lag_ms,
        check_interval_ms=replica_check_interval_ms,
    )
    return _engine


def configure_replicas(
    urls: list[str] | tuple[str, ...],
    *,
    pool_size: int = 10,
    prepare_threshold: int | None = 5,
    max_lag_ms: float = 2000,
    check_interval_ms: float = 500,
) -> ReplicaSet | None:
    """Send read requests to these replicas (``DATABASE_REPLICA_URLS``); none: everything on the primary."""
    global _replica_set
    if _replica_set is not None:
        for replica in _replica_set.replicas:
            replica.engine.dispose()
        _replica_set = None
    if not urls:
        return None
    members = []
    for url in urls:
        replica_engine = create_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_recycle=1800,
            # reads only, one statement at a time: no transaction needed (and a standby refuses writes anyway)
            isolation_level="AUTOCOMMIT",
            # a replica that does not answer at once is skipped: the primary can serve the read
            connect_args={"connect_timeout": 1, "options": _SESSION_OPTIONS, "prepare_threshold": prepare_threshold},
        )
        event.listen(replica_engine, "checkin", _note_idle)
        event.listen(replica_engine, "checkout", _ping_if_idle)
        members.append(Replica(name=replica_engine.url.render_as_string(hide_password=True), engine=replica_engine))
    _replica_set = ReplicaSet(
        primary=engine().execution_options(isolation_level="AUTOCOMMIT"),
        replicas=members,
        max_lag_ms=max_lag_ms,
        check_interval_ms=check_interval_ms,
    )
    return _replica_set


# A connection that sat unused may have been cut (server restart, failover, a firewall's idle timeout):
# test it before use. A busy one is not tested: ``pool_pre_ping`` would add a round trip to every
# request. If the server goes away mid-stream, the first statement fails (a 503 with Retry-After, see
# errors.py) and SQLAlchemy invalidates the whole pool, so the next request reconnects.
PING_AFTER_IDLE_S = 5.0


def _note_idle(_dbapi_connection: Any, record: Any) -> None:
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    idle_since = record.info.get("idle_since")
    if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
        return
    # in autocommit, so that the ping opens no transaction: a read's connection is switched to autocommit
    # after this, which psycopg refuses inside one, and ending it with ROLLBACK would drop the prepared
    # statements
    autocommit = dbapi_connection.autocommit
    try:
        dbapi_connection.autocommit = True
        dbapi_connection.execute("SELECT 1")
        dbapi_connection.autocommit = autocommit
    except psycopg.Error as exc:
        # the pool discards this connection and checks out (or opens) another
        raise DisconnectionError(str(exc)) from exc


def engine() -> Engine:
    if _engine is None:
        raise RuntimeError("database engine is not initialised; call init_engine() (create_app does)")
    return _engine


def _dispose_pool_in_child() -> None:
    # RQ forks a work horse per job: a pooled connection shared across processes corrupts both.
    if _engine is not None:
        _engine.dispose(close=False)
    if _replica_set is not None:
        for replica in _replica_set.replicas:
            replica.engine.dispose(close=False)


os.register_at_fork(after_in_child=_dispose_pool_in_child)


# --- precompiled statements ------------------------------------------------------------------


@dataclass(frozen=True)
class Precompiled:
    """A Core statement compiled once to the driver's SQL, with the constants it embeds as parameters."""

    sql: str
    constants: dict[str, Any]


def precompile(statement: Executable) -> Precompiled:
    """Compile a statement built from named ``bindparam`` s, for :func:`execute_precompiled`.

    Sent as it is, the SQL skips SQLAlchemy's per-execution work (cache-key lookup, compiled-cache and ORM
    session paths): 0.15 ms of a ~4 ms nearby request, A/B in one process. Worth it only for the hottest
    statements; everything else goes through ``session.execute``.
    """
    compiled = statement.compile(dialect=engine().dialect)
    constants = {name: value for name, value in compiled.params.items() if value is not None}
    return Precompiled(compiled.string, constants)


def execute_precompiled(statement: Precompiled, params: dict[str, Any]) -> CursorResult[Any]:
    """Run a precompiled statement in the session's transaction; dict values are sent as JSONB."""
    values = {**statement.constants, **{k: Jsonb(v) if isinstance(v, dict) else v for k, v in params.items()}}
    return session.connection().exec_driver_sql(statement.sql, values)


# --- tenant scoping ---------------------------------------------------------------------------


def scope_to_tenant(tenant_id: int | None, db: Session | None = None) -> None:
    (db or session()).info["tenant_id"] = tenant_id


def current_tenant_id(db: Session | None = None) -> int | None:
    return (db or session()).info.get("tenant_id")


def get(model: type[T], ident: object) -> T | None:
    """``session.get`` that never returns another tenant's row.

    ``Session.get`` answers from the identity map without SQL when the object is already loaded, and the
    tenant filter only applies to SQL; this re-checks the tenant on whatever it returns.
    """
    obj = session.get(model, ident)
    tenant_id = current_tenant_id()
    if obj is not None and tenant_id is not None and isinstance(obj, TenantScoped) and obj.tenant_id != tenant_id:
        return None
    return obj


@event.listens_for(Session, "do_orm_execute")
def _filter_by_tenant(state: ORMExecuteState) -> None:
    tenant_id = state.session.info.get("tenant_id")
    if tenant_id is None or state.is_column_load:
        return
    if state.is_select or state.is_update or state.is_delete:
        state.statement = state.statement.options(
            with_loader_criteria(
                TenantScoped,
                lambda cls: cls.tenant_id == tenant_id,
                include_aliases=True,
            )
        )


@event.listens_for(Session, "before_flush")
def _stamp_tenant(db: Session, _ctx: object, _instances: object) -> None:
    tenant_id = db.info.get("tenant_id")
    for obj in db.new:
        if isinstance(obj, TenantScoped):
            if obj.tenant_id is None:
                obj.tenant_id = tenant_id
            elif tenant_id is not None and obj.tenant_id != tenant_id:
                raise PermissionError("refusing to write a row into another tenant")


# --- transactions -------------------------------------------------------------------------------


def on_commit(callback: Callable[[], object], db: Session | None = None) -> None:
    """Run ``callback`` after the current transaction commits; drop it if the transaction rolls back."""
    (db or session()).info.setdefault("on_commit", []).append(callback)


@event.listens_for(Session, "after_commit")
def _run_on_commit(db: Session) -> None:
    callbacks = db.info.pop("on_commit", [])
    for callback in callbacks:
        try:
            callback()
        except Exception:  # an after-commit side effect must never turn a committed write into an error
            log.exception("after-commit callback failed")


@event.listens_for(Session, "after_soft_rollback")
def _drop_on_commit(db: Session, _previous: object) -> None:
    db.info.pop("on_commit", None)


def begin_request() -> None:
    """Reads (GET, HEAD) run their statements in autocommit: no BEGIN and COMMIT round trips.

    A read of several statements sees no more than it did in a transaction: at READ COMMITTED each
    statement takes its own snapshot anyway. The one write a read makes (the audit of phone numbers shown,
    a single INSERT) is durable at once; after-commit hooks still run when ``end_request`` commits the
    session. Only when the session is bound to the engine: tests that bind it to a connection in a
    rolled-back transaction keep that transaction.
    """
    bind = session.session_factory.kw.get("bind")
    if request.method in ("GET", "HEAD") and bind is _engine and _read_engine is not None:
        read_session = session.session_factory(bind=_read_engine)
        read_session.info["replica"] = _choose_replica()
        session.registry.set(read_session)


def _choose_replica() -> Replica | None:
    """A replica for this read, if one is healthy, close enough, and has the caller's own last write."""
    if _replica_set is None:
        return None
    user_id = replicas.requesting_user_id()
    try:
        min_lsn = replicas.commit_lsn_of(user_id) if user_id is not None else None
    except replicas.Unknown:
        return None  # Redis is down: this user's last write is unknown, so only the primary is safe
    return _replica_set.choose(min_lsn)


def on_primary() -> None:
    """Run the rest of this request on the primary, even if it is a read (the health check's probe)."""
    session().info["replica"] = None


def acting_user(user_id: int) -> None:
    """Name the user a request acts for (authentication, sign-in): their writes are remembered for
    read-your-writes when replicas serve reads."""
    g.acting_user_id = user_id


def _remember_write() -> None:
    """After a write request committed: the user's reads must not use a replica that lacks it."""
    user_id = g.get("acting_user_id")
    if _replica_set is None or user_id is None:
        return
    try:
        lsn = replicas.primary_lsn(_replica_set.primary)
    except OperationalError:
        log.warning("could not read the commit LSN after a write", exc_info=True)
        return
    replicas.remember_commit_lsn(user_id, lsn, _replica_set.remember_ms)


def end_request(error: BaseException | None = None) -> None:
    """Close the request's session.

    Reads end with COMMIT rather than the ROLLBACK that closing does: psycopg discards its prepared
    statements on ROLLBACK, and keeping them lets the hot read queries skip parsing and planning on later
    requests. Only GET and HEAD are committed here; writes commit in their service, and anything a failed
    write left behind is rolled back.
    """
    current = session()
    try:
        if error is None and request.method in ("GET", "HEAD") and current.in_transaction():
            current.commit()
    except Exception:
        log.exception("could not end a read-only transaction")
    finally:
        session.remove()


class CommitInsideUnitOfWork(RuntimeError):
    """Something other than the unit of work's owner committed: services flush, ``atomic()`` commits."""


@contextmanager
def atomic() -> Iterator[Session]:
    """A unit of work: commit at the end, roll back on error. Nested blocks join the outer one.

    Requests (``unit_of_work``) and jobs open one; services inside only flush. An error whose class sets
    ``keeps_changes`` (a refresh token reuse revokes the session, then answers 401) commits what was done
    before it is raised.
    """
    db = session()
    if db.info.get("in_atomic"):
        yield db
        return
    db.info["in_atomic"] = True
    try:
        yield db
        _owner_commit(db)
    except BaseException as exc:
        if getattr(exc, "keeps_changes", False):
            _owner_commit(db)
        else:
            # close rather than rollback: both end the transaction, but a rollback also expires every loaded
            # object, and code that holds one after a refused request (tests do) would have to reload it
            db.info.pop("on_commit", None)
            db.close()
        raise
    finally:
        db.info.pop("in_atomic", None)


@contextmanager
def savepoint() -> Iterator[Session]:
    """A SAVEPOINT inside the unit of work: an error rolls back only what the block did, then propagates.

    For requests that act on many items and report each one's result (bulk lead actions). Releasing the
    savepoint is not a commit of the unit of work, so the commit guard lets it pass.
    """
    db = session()
    nested = db.begin_nested()
    try:
        yield db
    except BaseException:
        nested.rollback()
        raise
    db.info["committing"] = True
    try:
        nested.commit()
    finally:
        db.info.pop("committing", None)


def _owner_commit(db: Session) -> None:
    db.info["committing"] = True
    try:
        db.commit()
    finally:
        db.info.pop("committing", None)


@event.listens_for(Session, "before_commit")
def _refuse_commit_inside_unit_of_work(db: Session) -> None:
    if db.info.get("in_atomic") and not db.info.get("committing"):
        raise CommitInsideUnitOfWork("only atomic() commits a unit of work; services flush")


def flush_unique(error: Callable[..., Exception], *args: Any) -> None:
    """Flush, turning a constraint the change runs into (a name already taken) into ``error(*args)``.

    The unit of work then rolls back as for any other error.
    """
    try:
        session.flush()
    except IntegrityError as exc:
        raise error(*args) from exc


def job(func: Callable[..., T]) -> Callable[..., T]:
    """An RQ job (or periodic job): one unit of work, and a session of its own that ends with it.

    Called inside another unit of work (the outbox runs a job in its transaction), it joins that one.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        if session().info.get("in_atomic"):
            return func(*args, **kwargs)
        try:
            with atomic():
                return func(*args, **kwargs)
        finally:
            scope_to_tenant(None)
            session.remove()

    return wrapper


def commit_chunk() -> None:
    """Commit what a long job did so far and go on: for jobs that work in chunks (imports, sweeps).

    Never inside a unit of work: a request or a ``job`` commits once, at its edge.
    """
    db = session()
    if db.info.get("in_atomic"):
        raise CommitInsideUnitOfWork("commit_chunk() inside a unit of work")
    db.commit()


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def unit_of_work(view: Callable[..., T]) -> Callable[..., T]:
    """Wrap a view: a write request is one unit of work that commits once, after the view built its answer.

    Reads run in autocommit (``begin_request``) and need none.
    """

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        if request.method in READ_METHODS:
            return _read_with_fallback(view, *args, **kwargs)
        with atomic():
            result = view(*args, **kwargs)
        _remember_write()
        return result

    return wrapper


def _read_with_fallback(view: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a read; if its replica fails under it (stopped, cut off), mark it down and run it on the primary.

    Safe to repeat: the read wrote nothing yet (its first write would have moved it to the primary).
    """
    try:
        return view(*args, **kwargs)
    except (OperationalError, InternalError) as exc:
        current = session()
        replica = current.info.get("replica")
        if replica is None or _replica_set is None:
            raise
        if isinstance(exc, InternalError):
            if not isinstance(exc.orig, psycopg.errors.ReadOnlySqlTransaction):
                raise
            # a write the routing took for a read (SQL text it misjudged): served by the primary, but say so
            log.error("a read request wrote on a replica; add the statement to RoutingSession's writes", exc_info=True)
        else:
            _replica_set.mark_down(replica, exc)
        current.close()
        read_session = session.session_factory(bind=_read_engine)
        read_session.info["replica"] = None
        session.registry.set(read_session)
        return view(*args, **kwargs)
