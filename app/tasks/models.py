"""Tasks from managers and headquarters and their per-BD assignments."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Enum, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TenantScoped, Timestamped, enum_values


class TaskKind(str, enum.Enum):
    VISIT = "visit"
    PRICE_ADJUST = "price_adjust"
    COLLECT_INFO = "collect_info"
    CUSTOM = "custom"


class AssignmentStatus(str, enum.Enum):
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    DONE = "done"
    REJECTED = "rejected"


class Task(TenantScoped, Timestamped, Base):
    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_merchant", "merchant_id"),
        # the overdue-task job reads the tasks that fell due since its last run
        Index("ix_tasks_due_at", "due_at", postgresql_where=text("due_at IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    creator_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[TaskKind] = mapped_column(Enum(TaskKind, name="task_kind", values_callable=enum_values))
    merchant_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("merchants.id", ondelete="SET NULL"))
    due_at: Mapped[datetime | None]
    priority: Mapped[int] = mapped_column(Integer, default=0)
    # how the assignees were chosen: {"user_ids": [...]} | {"team_id": ...} | {"territory_id": ...} | ...
    target: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


class TaskAssignment(TenantScoped, Timestamped, Base):
    __tablename__ = "task_assignments"
    __table_args__ = (
        UniqueConstraint("task_id", "assignee_id", "merchant_id"),
        Index("ix_task_assignments_assignee", "assignee_id", "status"),
        Index("ix_task_assignments_merchant", "merchant_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # no index of its own: the unique constraint leads with task_id
    task_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("tasks.id", ondelete="CASCADE"))
    assignee_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    merchant_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("merchants.id", ondelete="SET NULL"))
    status: Mapped[AssignmentStatus] = mapped_column(
        Enum(AssignmentStatus, name="assignment_status", values_callable=enum_values), default=AssignmentStatus.ASSIGNED
    )
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    feedback: Mapped[str | None] = mapped_column(Text)
    accepted_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]


class TaskFanout(TenantScoped, Timestamped, Base):
    """The assignments of a large task, waiting for the background job that writes them.

    Writing 10,000 assignment rows (six indexes, four foreign keys each) takes longer than an API call
    should; the call stores the resolved assignees as arrays in one row and the job expands them.
    """

    __tablename__ = "task_fanouts"

    task_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True)
    assignees: Mapped[list[int]] = mapped_column(ARRAY(BigInteger))
    # aligned with assignees: the merchant each assignment is about (or NULL), and its payload
    merchants: Mapped[list[int | None]] = mapped_column(ARRAY(BigInteger))
    payloads: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
