"""Engine, session, declarative base, transactions and after-commit hooks.

Every tenant-owned model mixes in ``TenantScoped``. Once a request (or job) has set the tenant with
``scope_to_tenant``, every ORM select, update and delete on the session is filtered to that tenant,
so a query that forgets the filter still cannot read another business line's rows.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TypeVar

from sqlalchemy import BigInteger, DateTime, ForeignKey, MetaData, create_engine, event, func
from sqlalchemy.engine import Engine
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


class TenantScoped:
    """Mixin for rows that belong to one tenant (business line)."""

    @declared_attr
    def tenant_id(cls) -> Mapped[int]:  # noqa: N805 - SQLAlchemy declared_attr convention
        return mapped_column(BigInteger, ForeignKey("tenants.id", ondelete="CASCADE"), index=True)


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


session: scoped_session[Session] = scoped_session(sessionmaker(expire_on_commit=False))
_engine: Engine | None = None


def init_engine(url: str, *, pool_size: int = 10) -> Engine:
    global _engine
    if _engine is not None:
        _engine.dispose()
    _engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        # JIT compilation costs hundreds of milliseconds and only pays off for analytics, never here
        connect_args={"connect_timeout": 3, "options": "-c jit=off"},
    )
    session.remove()
    session.configure(bind=_engine)
    return _engine


def engine() -> Engine:
    if _engine is None:
        raise RuntimeError("database engine is not initialised; call init_engine() (create_app does)")
    return _engine


def _dispose_pool_in_child() -> None:
    # RQ forks a work horse per job: a pooled connection shared across processes corrupts both.
    if _engine is not None:
        _engine.dispose(close=False)


os.register_at_fork(after_in_child=_dispose_pool_in_child)


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


def end_request(error: BaseException | None = None) -> None:
    """Close the request's session.

    Reads end with COMMIT rather than the ROLLBACK that closing does: psycopg discards its prepared
    statements on ROLLBACK, and keeping them lets the hot read queries skip parsing and planning on later
    requests. Only GET and HEAD are committed here; writes commit in their service, and anything a failed
    write left behind is rolled back.
    """
    from flask import request

    current = session()
    try:
        if error is None and request.method in ("GET", "HEAD") and current.in_transaction():
            current.commit()
    except Exception:  # noqa: BLE001 - closing must never fail a response that is already built
        log.exception("could not end a read-only transaction")
    finally:
        session.remove()


@contextmanager
def atomic() -> Iterator[Session]:
    """A unit of work: commit at the end, roll back on error. Nested blocks join the outer one."""
    db = session()
    if db.info.get("in_atomic"):
        yield db
        return
    db.info["in_atomic"] = True
    try:
        yield db
        db.commit()
    except BaseException:
        db.rollback()
        raise
    finally:
        db.info.pop("in_atomic", None)
