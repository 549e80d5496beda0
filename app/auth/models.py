"""Login sessions: one per signed-in app install, so logout and deactivation revoke at once."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TenantScoped, Timestamped


class AuthSession(TenantScoped, Timestamped, Base):
    __tablename__ = "auth_sessions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # Only the newest refresh token of a session is valid; presenting an older one means it leaked.
    refresh_jti: Mapped[str] = mapped_column(String(64))
    # the token it replaced stays valid for a short grace period: a refresh whose response was lost
    # in a tunnel is retried with it, and that retry must not log the BD out
    previous_refresh_jti: Mapped[str | None] = mapped_column(String(64))
    last_refreshed_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoke_reason: Mapped[str | None] = mapped_column(String(40))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    device_token: Mapped[str | None] = mapped_column(String(4096))
