"""Where photo bytes live: one small interface, two backends chosen by ``PHOTO_STORAGE``.

``local`` (the default, for development and single-host installs) keeps files under ``UPLOAD_DIR``;
``s3`` keeps objects in a bucket of any S3-compatible store (AWS S3, MinIO, Ceph, OSS/COS in S3 mode) through
boto3. Keys are relative paths (``ab/abcdef....jpg``); both backends are content-addressed by the caller, so a
``put`` of an existing key writes the same bytes again and is harmless.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError
from flask import Flask, current_app


class PhotoStorage(Protocol):
    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store ``data`` under ``key`` (replacing what is there)."""

    def get(self, key: str) -> bytes | None:
        """The bytes under ``key``, or None if nothing is stored there."""

    def exists(self, key: str) -> bool: ...


class LocalStorage:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"storage key escapes the upload directory: {key!r}")
        return path

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part")
        partial.write_bytes(data)
        partial.replace(path)  # atomic: a crash never leaves a half photo under the final name

    def get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()


class S3Storage:
    def __init__(self, bucket: str, client: Any) -> None:
        self.bucket = bucket
        self.client = client

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def get(self, key: str) -> bytes | None:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return False
            raise
        return True


def s3_client(config: dict[str, Any]) -> Any:
    """A boto3 S3 client from the ``PHOTO_S3_*`` settings; without keys, boto3's own chain (instance role, env)."""
    return boto3.client(
        "s3",
        endpoint_url=config["PHOTO_S3_ENDPOINT_URL"] or None,
        region_name=config["PHOTO_S3_REGION"] or None,
        aws_access_key_id=config["PHOTO_S3_ACCESS_KEY_ID"] or None,
        aws_secret_access_key=config["PHOTO_S3_SECRET_ACCESS_KEY"] or None,
        # path-style addressing works with every S3-compatible store (MinIO, a localhost endpoint)
        config=BotoConfig(
            s3={"addressing_style": "path" if config["PHOTO_S3_ENDPOINT_URL"] else "auto"},
            connect_timeout=3,
            read_timeout=10,
            retries={"max_attempts": 3, "mode": "standard"},
        ),
    )


def build(config: dict[str, Any]) -> PhotoStorage:
    backend = config["PHOTO_STORAGE"]
    if backend == "local":
        return LocalStorage(config["UPLOAD_DIR"])
    if backend == "s3":
        if not config["PHOTO_S3_BUCKET"]:
            raise RuntimeError("PHOTO_STORAGE=s3 needs PHOTO_S3_BUCKET")
        return S3Storage(config["PHOTO_S3_BUCKET"], s3_client(config))
    raise RuntimeError(f"PHOTO_STORAGE must be 'local' or 's3', not {backend!r}")


def init_app(app: Flask) -> None:
    app.extensions["photo_storage"] = build(app.config)


def storage() -> PhotoStorage:
    return current_app.extensions["photo_storage"]
