"""Photos uploaded by BDs (visit proof); the bytes are in photo storage under a content-hash key."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TenantScoped, Timestamped

EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png"}


class Upload(TenantScoped, Timestamped, Base):
    __tablename__ = "uploads"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    # of the stored (upright) image; null for photos uploaded before these were recorded
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    # read from the original's EXIF before it is stripped: when and where the camera says it was taken (WGS84)
    taken_at: Mapped[datetime | None]
    taken_lat: Mapped[float | None] = mapped_column(Float)
    taken_lng: Mapped[float | None] = mapped_column(Float)

    @property
    def storage_key(self) -> str:
        return photo_key(self.sha256, self.content_type)

    @property
    def thumbnail_key(self) -> str:
        return thumbnail_key(self.sha256)


def photo_key(digest: str, content_type: str) -> str:
    # the layout UPLOAD_DIR has always had: existing files stay where they are
    return f"{digest[:2]}/{digest}{EXTENSIONS[content_type]}"


def thumbnail_key(digest: str) -> str:
    return f"thumbnails/{digest[:2]}/{digest}.jpg"
