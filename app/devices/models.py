"""Phones that receive FCM pushes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TenantScoped, Timestamped


class Device(TenantScoped, Timestamped, Base):
    """One app install's FCM token, registered by a user of one tenant.

    A token belongs to one user at a time within a tenant: whoever registers it there takes it over (a phone
    that changes hands). Another tenant never takes a row over: the same token registered there is a row of
    that tenant, and each tenant's row lives until its user removes it (sign-out, ``DELETE``) or FCM reports
    the token dead (the token was rotated: reinstall, cleared data), or it is pruned as stale.
    """

    __tablename__ = "devices"
    __table_args__ = (UniqueConstraint("tenant_id", "token"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # a token identifies one app install; within the tenant it moves to whoever signs in on that phone
    token: Mapped[str] = mapped_column(String(4096))
    platform: Mapped[str] = mapped_column(String(10))
    app_version: Mapped[str | None] = mapped_column(String(40))
    last_seen_at: Mapped[datetime] = mapped_column(server_default=func.now())
    disabled_at: Mapped[datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(String(60))


class PushDelivery(TenantScoped, Timestamped, Base):
    """One attempt to deliver one push to one device: the delivery log behind the task's counts."""

    __tablename__ = "push_deliveries"
    __table_args__ = (
        Index("ix_push_deliveries_assignment", "assignment_id", "device_id", "attempt"),
        Index("ix_push_deliveries_task", "task_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    task_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("tasks.id", ondelete="CASCADE"))
    assignment_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("task_assignments.id", ondelete="CASCADE"))
    reminder_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("reminders.id", ondelete="CASCADE"))
    # the device may be deleted later (unregistered token); the log keeps which one it was
    device_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("devices.id", ondelete="SET NULL"))
    # a hash of the token: identifies the device in the log even after the device row is deleted
    device_key: Mapped[str] = mapped_column(String(16), default="", server_default="")
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20))  # sent | retry | failed | deleted | disabled
    error_code: Mapped[str | None] = mapped_column(String(40))
    message_id: Mapped[str | None] = mapped_column(String(200))
