"""Photo uploads: the type is read from the content (not the name or header), then the image is decoded and
encoded again, and only that new file is kept (once per content), with a thumbnail.

Re-encoding is what makes a photo safe to serve: a file whose first bytes say JPEG may go on as HTML or a
script (a polyglot), and EXIF carries the phone's position and serial numbers. Pillow (HEIC through
pillow-heif) decodes it, applies the EXIF orientation, and writes a plain JPEG or PNG with no metadata.
A decompression bomb (a small file that decodes to billions of pixels) is refused before decoding, and
nothing is stored for any refused file.

Before the EXIF goes, the capture time and GPS position are read from it and kept on the upload row: a
check-in compares them with the merchant and the check-in time (``photo_far`` / ``photo_stale``).
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pillow_heif
from PIL import Image, ImageOps, UnidentifiedImageError

from app import db
from app.errors import EmptyFile, PayloadTooLarge, PhotoNotFound, UnsupportedMediaType
from app.org.models import User
from app.tenants.models import Tenant
from app.uploads import storage
from app.uploads.models import Upload, photo_key, thumbnail_key

log = logging.getLogger(__name__)

MAX_BYTES = 5 * 1024 * 1024
# a 48-megapixel phone photo is well under this; a decompression bomb is far over it
MAX_PIXELS = 60_000_000
JPEG_QUALITY = 90
# the longest side of a thumbnail: a list row or a grid cell on a phone at 3x
THUMBNAIL_SIDE = 320
THUMBNAIL_QUALITY = 80

pillow_heif.register_heif_opener()
HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}

# EXIF tags (Pillow's ExifTags.Base / GPS numbering)
EXIF_IFD, GPS_IFD = 0x8769, 0x8825
DATETIME_ORIGINAL, DATETIME_DIGITIZED, OFFSET_TIME_ORIGINAL = 0x9003, 0x9004, 0x9011
GPS_LAT_REF, GPS_LAT, GPS_LNG_REF, GPS_LNG, GPS_TIME, GPS_DATE = 1, 2, 3, 4, 7, 29


def sniff(data: bytes) -> str | None:
    """The image type of ``data`` from its magic bytes: ``image/jpeg``, ``image/png``, ``image/heic`` or None."""
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[4:8] == b"ftyp" and data[8:12] in HEIC_BRANDS:
        return "image/heic"
    return None


@dataclass(frozen=True)
class Capture:
    """What the camera recorded: when (aware, UTC) and where (WGS84), each None if it did not say."""

    taken_at: datetime | None = None
    lat: float | None = None
    lng: float | None = None


@dataclass(frozen=True)
class Encoded:
    data: bytes
    content_type: str
    width: int
    height: int
    thumbnail: bytes
    capture: Capture


def _ratio(value: Any) -> float:
    return float(value[0]) / float(value[1]) if isinstance(value, tuple) else float(value)


def _degrees(dms: Any, ref: Any) -> float | None:
    degrees, minutes, seconds = (_ratio(part) for part in dms)
    value = degrees + minutes / 60 + seconds / 3600
    if str(ref).strip().upper() in ("S", "W"):
        value = -value
    return value if math.isfinite(value) else None


def _gps_position(gps: Any) -> tuple[float | None, float | None]:
    if GPS_LAT not in gps or GPS_LNG not in gps:
        return None, None
    lat, lng = _degrees(gps[GPS_LAT], gps.get(GPS_LAT_REF, "N")), _degrees(gps[GPS_LNG], gps.get(GPS_LNG_REF, "E"))
    if lat is None or lng is None or not (-90 <= lat <= 90 and -180 <= lng <= 180) or (lat == 0 and lng == 0):
        return None, None  # no fix (0, 0 is what some phones write without one)
    return round(lat, 7), round(lng, 7)


def _exif_time(value: Any) -> datetime | None:
    text = str(value).strip().rstrip("\x00")
    if not text or text.startswith("0000"):
        return None
    return datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S")


def _taken_at(exif_ifd: Any, gps: Any, zone: ZoneInfo) -> datetime | None:
    """The capture time: local time with its offset if the phone wrote one, else the GPS clock (UTC), else
    the local time read in the business line's time zone (phones without OffsetTime are set to local time)."""
    local = _exif_time(exif_ifd.get(DATETIME_ORIGINAL) or exif_ifd.get(DATETIME_DIGITIZED) or "")
    offset = str(exif_ifd.get(OFFSET_TIME_ORIGINAL) or "").strip().rstrip("\x00")
    if local is not None and len(offset) == 6 and offset[0] in "+-":
        hours, minutes = int(offset[1:3]), int(offset[4:6])
        sign = -1 if offset[0] == "-" else 1
        return local.replace(tzinfo=timezone(sign * timedelta(hours=hours, minutes=minutes))).astimezone(UTC)
    if GPS_DATE in gps and GPS_TIME in gps:
        day = datetime.strptime(str(gps[GPS_DATE]).strip().rstrip("\x00"), "%Y:%m:%d")
        hours, minutes, seconds = (_ratio(part) for part in gps[GPS_TIME])
        return (day + timedelta(hours=hours, minutes=minutes, seconds=seconds)).replace(tzinfo=UTC)
    if local is not None:
        return local.replace(tzinfo=zone).astimezone(UTC)
    return None


def read_capture(image: Image.Image, zone: ZoneInfo) -> Capture:
    """The capture time and position from the image's EXIF; a missing or malformed tag is simply unknown."""
    try:
        exif = image.getexif()
        exif_ifd, gps = exif.get_ifd(EXIF_IFD), exif.get_ifd(GPS_IFD)
    except Exception:  # EXIF is the phone's free-form data: a broken block means "unknown", never an error
        return Capture()
    try:
        lat, lng = _gps_position(gps)
    except (TypeError, ValueError, ZeroDivisionError, IndexError, KeyError):
        lat = lng = None
    try:
        taken_at = _taken_at(exif_ifd, gps, zone)
    except (TypeError, ValueError, ZeroDivisionError, IndexError, KeyError, OverflowError):
        taken_at = None
    return Capture(taken_at=taken_at, lat=lat, lng=lng)


def make_thumbnail(image: Image.Image) -> bytes:
    thumbnail = image.copy()
    thumbnail.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
    if thumbnail.mode in ("RGBA", "LA", "P"):
        # a transparent PNG on white, as the app shows it, rather than on JPEG's black
        rgba = thumbnail.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        thumbnail = background
    out = io.BytesIO()
    thumbnail.convert("RGB").save(out, format="JPEG", quality=THUMBNAIL_QUALITY)
    return out.getvalue()


def reencode(data: bytes, content_type: str, zone: ZoneInfo | None = None) -> Encoded:
    """The image decoded and written again (PNG stays PNG, everything else becomes JPEG) without metadata,
    upright, with its thumbnail and what its EXIF said about the capture."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise PayloadTooLarge(f"Photos are limited to {MAX_PIXELS // 1_000_000} megapixels.")
                capture = read_capture(image, zone or ZoneInfo("UTC"))
                upright = ImageOps.exif_transpose(image)
                out = io.BytesIO()
                if content_type == "image/png":
                    upright.save(out, format="PNG")
                    stored_type = "image/png"
                else:
                    upright.convert("RGB").save(out, format="JPEG", quality=JPEG_QUALITY)
                    stored_type = "image/jpeg"
                return Encoded(
                    data=out.getvalue(),
                    content_type=stored_type,
                    width=upright.width,
                    height=upright.height,
                    thumbnail=make_thumbnail(upright),
                    capture=capture,
                )
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own limit (89 Mpx warns, twice that fails), met at open before our check: the same answer
        raise PayloadTooLarge(f"Photos are limited to {MAX_PIXELS // 1_000_000} megapixels.") from exc
    except UnidentifiedImageError as exc:
        raise UnsupportedMediaType("The photo cannot be read as an image.") from exc
    except (OSError, ValueError, SyntaxError) as exc:  # truncated or corrupt data inside a valid header
        raise UnsupportedMediaType("The photo cannot be read as an image.") from exc


def store(user: User, tenant: Tenant, data: bytes) -> Upload:
    if len(data) > MAX_BYTES:
        raise PayloadTooLarge(f"Photos are limited to {MAX_BYTES // (1024 * 1024)} MB.")
    if not data:
        raise EmptyFile()
    content_type = sniff(data)
    if content_type is None:
        raise UnsupportedMediaType("Only JPEG, PNG and HEIC photos are accepted.")
    encoded = reencode(data, content_type, tenant.zone)
    digest = hashlib.sha256(encoded.data).hexdigest()
    # Written before the row: content-addressed, so a rolled-back request leaves at most a file that the same
    # photo reuses; a row never points at bytes that are not there.
    photos = storage.storage()
    key = photo_key(digest, encoded.content_type)
    if not photos.exists(key):
        photos.put(thumbnail_key(digest), encoded.thumbnail, "image/jpeg")
        photos.put(key, encoded.data, encoded.content_type)
    upload = Upload(
        user_id=user.id,
        tenant_id=user.tenant_id,
        sha256=digest,
        content_type=encoded.content_type,
        size=len(encoded.data),
        width=encoded.width,
        height=encoded.height,
        taken_at=encoded.capture.taken_at,
        taken_lat=encoded.capture.lat,
        taken_lng=encoded.capture.lng,
    )
    db.session.add(upload)
    db.session.flush()
    return upload


def describe(upload: Upload) -> dict[str, Any]:
    return {
        "id": upload.id,
        "sha256": upload.sha256,
        "content_type": upload.content_type,
        "size": upload.size,
        "width": upload.width,
        "height": upload.height,
        "taken_at": upload.taken_at,
        "taken_lat": upload.taken_lat,
        "taken_lng": upload.taken_lng,
    }


def find(photo_id: Any) -> Upload:
    """An upload by id, whatever its tenant: the caller has checked a signed URL for it."""
    upload = db.session.get(Upload, photo_id)
    if upload is None:
        raise PhotoNotFound()
    return upload


def photo_bytes(upload: Upload) -> bytes:
    data = storage.storage().get(upload.storage_key)
    if data is None:
        log.error("photo %s has no stored file %s", upload.id, upload.storage_key)
        raise PhotoNotFound()
    return data


def thumbnail_bytes(upload: Upload) -> bytes:
    """The stored thumbnail; made (and stored) from the photo for uploads older than thumbnails."""
    photos = storage.storage()
    data = photos.get(upload.thumbnail_key)
    if data is not None:
        return data
    with Image.open(io.BytesIO(photo_bytes(upload))) as image:
        data = make_thumbnail(image)
    photos.put(upload.thumbnail_key, data, "image/jpeg")
    return data
