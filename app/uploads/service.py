"""Photo uploads: the type is read from the content (not the name or header), then the image is decoded and
encoded again, and only that new file is kept, once per content.

Re-encoding is what makes a photo safe to serve: a file whose first bytes say JPEG may go on as HTML or a
script (a polyglot), and EXIF carries the phone's position and serial numbers. Pillow (HEIC through
pillow-heif) decodes it, applies the EXIF orientation, and writes a plain JPEG or PNG with no metadata.
A decompression bomb (a small file that decodes to billions of pixels) is refused before decoding.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from pathlib import Path

import pillow_heif
from flask import current_app
from PIL import Image, ImageOps, UnidentifiedImageError

from app import db
from app.errors import EmptyFile, PayloadTooLarge, UnsupportedMediaType
from app.org.models import User
from app.uploads.models import Upload

MAX_BYTES = 5 * 1024 * 1024
# a 48-megapixel phone photo is well under this; a decompression bomb is far over it
MAX_PIXELS = 60_000_000
JPEG_QUALITY = 90

pillow_heif.register_heif_opener()
HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}


def sniff(data: bytes) -> str | None:
    """The image type of ``data`` from its magic bytes: ``image/jpeg``, ``image/png``, ``image/heic`` or None."""
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[4:8] == b"ftyp" and data[8:12] in HEIC_BRANDS:
        return "image/heic"
    return None


EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png"}


def reencode(data: bytes, content_type: str) -> tuple[bytes, str]:
    """The image decoded and written again (PNG stays PNG, everything else becomes JPEG), without metadata."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise PayloadTooLarge(f"Photos are limited to {MAX_PIXELS // 1_000_000} megapixels.")
                upright = ImageOps.exif_transpose(image)
                out = io.BytesIO()
                if content_type == "image/png":
                    upright.save(out, format="PNG")
                    return out.getvalue(), "image/png"
                upright.convert("RGB").save(out, format="JPEG", quality=JPEG_QUALITY)
                return out.getvalue(), "image/jpeg"
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UnsupportedMediaType("The photo cannot be read as an image.") from exc
    except (OSError, ValueError, SyntaxError) as exc:  # truncated or corrupt data inside a valid header
        raise UnsupportedMediaType("The photo cannot be read as an image.") from exc


def store(user: User, data: bytes) -> Upload:
    if len(data) > MAX_BYTES:
        raise PayloadTooLarge(f"Photos are limited to {MAX_BYTES // (1024 * 1024)} MB.")
    if not data:
        raise EmptyFile()
    content_type = sniff(data)
    if content_type is None:
        raise UnsupportedMediaType("Only JPEG, PNG and HEIC photos are accepted.")
    data, content_type = reencode(data, content_type)
    digest = hashlib.sha256(data).hexdigest()
    path = Path(current_app.config["UPLOAD_DIR"]) / digest[:2] / f"{digest}{EXTENSIONS[content_type]}"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        partial.write_bytes(data)
        partial.replace(path)  # atomic: a crash never leaves a half photo under the final name
    upload = Upload(user_id=user.id, tenant_id=user.tenant_id, sha256=digest, content_type=content_type, size=len(data))
    db.session.add(upload)
    db.session.flush()
    return upload
