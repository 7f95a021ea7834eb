"""Where the bytes of stored documents (CVs, contract PDFs, letter PDFs) live.

Every store implements ``DocumentStorage``: ``put``, ``get``, ``delete`` and ``exists`` by key,
and ``stored`` lists what is kept with when it was written (for the sweep of files no
document names).
Callers build keys like ``"{organisation_id}/{document_id}.pdf"``; every store checks them
with ``check_key``. ``get`` of an absent key raises ``DocumentMissing``; ``delete`` of one
does nothing, so purging twice is safe. ``storage_from_settings`` picks the configured store.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from shared.settings import Settings

MAX_KEY_LENGTH = 512
_KEY_CHARACTERS = re.compile(r"[A-Za-z0-9._/-]*")


class DocumentMissing(KeyError):  # noqa: N818 - an absent key, like KeyError itself
    """No document is stored under this key."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key

    def __str__(self) -> str:
        return f"no document stored under {self.key!r}"


class DocumentStorage(Protocol):
    def put(self, key: str, data: bytes, *, content_type: str) -> None:
        """Store ``data`` under ``key``, replacing what was there."""

    def get(self, key: str) -> bytes:
        """The bytes stored under ``key``; raises ``DocumentMissing`` when there are none."""

    def delete(self, key: str) -> None:
        """Remove what is stored under ``key``; nothing happens when it is absent."""

    def exists(self, key: str) -> bool:
        """Whether something is stored under ``key``."""

    def stored(self) -> Iterator[tuple[str, datetime]]:
        """Every key kept, with the time it was last written (UTC)."""


def check_key(key: str) -> None:
    """Refuse a key that could escape a store's root or is ambiguous: raises ``ValueError``."""
    if len(key) > MAX_KEY_LENGTH:
        problem = f"longer than {MAX_KEY_LENGTH} characters"
    elif not _KEY_CHARACTERS.fullmatch(key):
        problem = "only letters A-Z and a-z, digits, '.', '_', '-' and '/' are allowed"
    elif key.startswith("/"):
        problem = "it starts with '/'"
    elif any(segment in ("", ".", "..") for segment in key.split("/")):
        problem = "a segment between slashes is empty, '.' or '..'"
    else:
        return
    raise ValueError(f"bad document key {key!r}: {problem}")


class LocalDirectoryStorage:
    """Files under ``root``, one per key; ``content_type`` is not kept."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def put(self, key: str, data: bytes, *, content_type: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Readers see the old file or the new one, never a partial write.
        descriptor, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
        )
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            Path(temporary).replace(path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        _fsync_directory(path.parent)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise DocumentMissing(key) from None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def stored(self) -> Iterator[tuple[str, datetime]]:
        for path in self.root.rglob("*"):
            if path.is_file() and not path.name.startswith("."):  # not a write in progress
                written = datetime.fromtimestamp(path.stat().st_mtime, UTC)
                yield path.relative_to(self.root).as_posix(), written

    def _path(self, key: str) -> Path:
        check_key(key)
        # resolve() follows symlinks too: one inside root cannot lead outside it.
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError(f"bad document key {key!r}: it leads outside {self.root}")
        return path


def _fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` survive a crash."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class S3Storage:
    """Objects in an S3 (or S3-compatible) bucket, keyed ``{prefix}/{key}``.

    ``client`` is a boto3 S3 client; boto3 has no type stubs, hence ``Any``.
    """

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    def put(self, key: str, data: bytes, *, content_type: str) -> None:
        self.client.put_object(
            Bucket=self.bucket,
            Key=self._object_key(key),
            Body=data,
            ContentType=content_type,
            ChecksumAlgorithm="SHA256",
        )

    def get(self, key: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._object_key(key))
        except ClientError as error:
            # Only an absent key: an absent bucket (NoSuchBucket) is a configuration error.
            if error.response.get("Error", {}).get("Code") == "NoSuchKey":
                raise DocumentMissing(key) from None
            raise
        data: bytes = response["Body"].read()
        return data

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._object_key(key))

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._object_key(key))
        except ClientError as error:
            # HEAD has no body to tell an absent key from an absent bucket: both are a 404.
            if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                return False
            raise
        return True

    def stored(self) -> Iterator[tuple[str, datetime]]:
        start = f"{self.prefix}/" if self.prefix else ""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=start
        )
        for page in pages:
            for item in page.get("Contents", []):
                yield item["Key"][len(start) :], item["LastModified"]

    def _object_key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key


def storage_from_settings(settings: Settings) -> DocumentStorage:
    """The store ``WERVING_DOCUMENT_STORAGE`` names, configured from the other settings."""
    if settings.document_storage == "local":
        return LocalDirectoryStorage(settings.documents_dir)
    if not settings.s3_bucket:
        raise ValueError("set WERVING_S3_BUCKET: WERVING_DOCUMENT_STORAGE is s3")
    import boto3  # here, so processes that store documents locally never load it

    secret = settings.s3_secret_access_key
    client = boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key_id,
        aws_secret_access_key=secret.get_secret_value() if secret is not None else None,
    )
    return S3Storage(client, settings.s3_bucket, settings.s3_prefix)
