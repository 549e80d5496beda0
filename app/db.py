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
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import orjson
import psycopg
from flask import request
from psycopg.types.json import Jsonb, set_json_loads
from sqlalchemy import BigInteger, DateTime, ForeignKey, MetaData, create_engine, event, func
from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.exc import DisconnectionError, IntegrityError
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
from sqlalchemy.sql.expression import Executable

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

session: scoped_session[Session] = scoped_session(sessionmaker(expire_on_commit=False))
_engine: Engine | None = None
_read_engine: Engine | None = None


def init_engine(url: str, *, pool_size: int = 10) -> Engine:
    global _engine
    if _engine is not None:
        _engine.dispose()
    _engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        # JIT compilation costs hundreds of milliseconds and only pays off for analytics, never here; UTC so that
        # every time read back (and answered) is UTC, whatever the server's own zone
        connect_args={"connect_timeout": 3, "options": "-c jit=off -c timezone=UTC"},
    )
    event.listen(_engine, "checkin", _note_idle)
    event.listen(_engine, "checkout", _ping_if_idle)
    global _read_engine
    _read_engine = _engine.execution_options(isolation_level="AUTOCOMMIT")  # same pool
    session.remove()
    session.configure(bind=_engine)
    return _engine


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
        session.registry.set(session.session_factory(bind=_read_engine))


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
            return view(*args, **kwargs)
        with atomic():
            return view(*args, **kwargs)

    return wrapper
