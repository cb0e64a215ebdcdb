"""File storage behind one small interface: a local folder (default) or an S3-compatible bucket.

Keys are relative paths of lowercase-safe segments (``lessons/12/resources/data.csv``);
anything else is refused, so no key can leave the storage root.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Protocol

from ..errors import InvalidInput, NotFound

SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


def check_key(key: str) -> str:
    if not isinstance(key, str) or not key or len(key) > 500:
        raise InvalidInput("invalid storage key")
    parts = key.split("/")
    if any(not SEGMENT.match(p) or p in (".", "..") for p in parts):
        raise InvalidInput(f"invalid storage key {key!r}")
    return key


class Storage(Protocol):
    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None: ...
    def get(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...


class LocalStorage:
    """Files under a folder (``LMS_STORAGE_DIR``, default ``LMS_DATA_DIR/storage``)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"no stored file {key!r}") from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


class S3Storage:
    """Objects in an S3-compatible bucket (AWS S3, MinIO, Ceph, moto's server).

    Credentials come from boto3's usual sources (``AWS_ACCESS_KEY_ID`` and
    ``AWS_SECRET_ACCESS_KEY`` in the environment, instance roles, ...), never from settings.
    """

    def __init__(self, bucket: str, *, endpoint_url: str | None = None, region: str | None = None,
                 prefix: str = "", client=None):
        if client is None:
            import boto3

            client = boto3.client("s3", endpoint_url=endpoint_url or None, region_name=region or None)
        self.client, self.bucket, self.prefix = client, bucket, prefix.strip("/")

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type)

    def get(self, key: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise NotFound(f"no stored file {key!r}") from None
            raise

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return False
            raise

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))


def from_config(config) -> Storage:
    """The storage chosen by configuration (``LMS_STORAGE``: ``local`` or ``s3``).

    S3 keys: ``s3_access_key_id`` / ``s3_secret_access_key`` when set (the hub passes only
    ``LMS_*`` variables to the service), else boto3's own sources.
    """
    if config.storage == "s3":
        if not config.s3_bucket:
            raise ValueError("LMS_STORAGE=s3 needs LMS_S3_BUCKET")
        client = None
        if config.s3_access_key_id:
            import boto3

            client = boto3.client("s3", endpoint_url=config.s3_endpoint_url or None,
                                  region_name=config.s3_region or None,
                                  aws_access_key_id=config.s3_access_key_id,
                                  aws_secret_access_key=config.s3_secret_access_key)
        return S3Storage(config.s3_bucket, endpoint_url=config.s3_endpoint_url, region=config.s3_region,
                         prefix=config.s3_prefix, client=client)
    return LocalStorage(config.storage_dir)
