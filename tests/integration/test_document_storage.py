"""Every document store behaves the same: the local directory and S3 (on moto's server).

Local-only matters (path traversal, atomic writes) are in tests/unit/test_document_storage.py.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from shared.documents.storage import (
    DocumentMissing,
    DocumentStorage,
    LocalDirectoryStorage,
    S3Storage,
    storage_from_settings,
)
from shared.settings import Settings
from tests.integration.conftest import S3_REGION

pytestmark = pytest.mark.integration

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 400 + b"\n%%EOF\n"


@pytest.fixture(params=["local", "s3", "s3 with a prefix"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> DocumentStorage:
    if request.param == "local":
        return LocalDirectoryStorage(tmp_path / "documents")
    client, bucket = request.getfixturevalue("s3_client"), request.getfixturevalue("bucket")
    return S3Storage(client, bucket, prefix="werving/" if request.param != "s3" else "")


def _object_keys(client: Any, bucket: str) -> list[str]:
    listing = client.list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in listing.get("Contents", []))


# -- Every store ------------------------------------------------------------------------


def test_a_document_put_is_read_back_byte_for_byte(store: DocumentStorage) -> None:
    store.put("org-1/doc-1.pdf", PDF, content_type="application/pdf")

    assert store.get("org-1/doc-1.pdf") == PDF
    assert store.exists("org-1/doc-1.pdf")


def test_an_empty_document_is_stored_and_read_back(store: DocumentStorage) -> None:
    store.put("org-1/empty.txt", b"", content_type="text/plain")

    assert store.exists("org-1/empty.txt")
    assert store.get("org-1/empty.txt") == b""


def test_putting_under_the_same_key_replaces_the_whole_document(store: DocumentStorage) -> None:
    store.put("org-1/cv.pdf", PDF, content_type="application/pdf")
    store.put("org-1/cv.pdf", b"shorter", content_type="application/pdf")

    assert store.get("org-1/cv.pdf") == b"shorter"


def test_an_absent_document_raises_document_missing_naming_its_key(
    store: DocumentStorage,
) -> None:
    with pytest.raises(DocumentMissing) as missing:
        store.get("org-1/never-stored.pdf")

    assert missing.value.key == "org-1/never-stored.pdf"
    assert "org-1/never-stored.pdf" in str(missing.value)
    assert isinstance(missing.value, KeyError)
    assert not store.exists("org-1/never-stored.pdf")


def test_a_deleted_document_is_gone_and_deleting_it_again_is_fine(
    store: DocumentStorage,
) -> None:
    store.put("org-1/contract.pdf", PDF, content_type="application/pdf")

    store.delete("org-1/contract.pdf")
    store.delete("org-1/contract.pdf")

    assert not store.exists("org-1/contract.pdf")
    with pytest.raises(DocumentMissing):
        store.get("org-1/contract.pdf")


def test_documents_under_other_keys_are_untouched(store: DocumentStorage) -> None:
    store.put("org-1/a.pdf", b"a", content_type="application/pdf")
    store.put("org-1/b.pdf", b"b", content_type="application/pdf")
    store.put("org-2/a.pdf", b"other organisation", content_type="application/pdf")

    store.delete("org-1/a.pdf")

    assert not store.exists("org-1/a.pdf")
    assert store.get("org-1/b.pdf") == b"b"
    assert store.get("org-2/a.pdf") == b"other organisation"


def test_stored_lists_every_key_with_the_time_it_was_written(store: DocumentStorage) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    for key in ("org-a/one.pdf", "org-a/two.pdf", "org-b/three.docx"):
        store.put(key, PDF, content_type="application/pdf")

    listed = dict(store.stored())

    assert sorted(listed) == ["org-a/one.pdf", "org-a/two.pdf", "org-b/three.docx"]
    assert all(
        before <= written <= datetime.now(UTC) + timedelta(seconds=5) for written in listed.values()
    )


def test_a_traversal_key_is_refused_by_every_operation(store: DocumentStorage) -> None:
    key = "org-1/../../escape.pdf"
    for attempt in (
        lambda: store.put(key, b"evil", content_type="application/pdf"),
        lambda: store.get(key),
        lambda: store.exists(key),
        lambda: store.delete(key),
    ):
        with pytest.raises(ValueError, match="bad document key") as refused:
            attempt()
        assert repr(key) in str(refused.value)


# -- S3 only ----------------------------------------------------------------------------


def test_s3_keeps_the_content_type_and_a_sha256_checksum(s3_client: Any, bucket: str) -> None:
    S3Storage(s3_client, bucket).put("org-1/doc.pdf", PDF, content_type="application/pdf")

    head = s3_client.head_object(Bucket=bucket, Key="org-1/doc.pdf", ChecksumMode="ENABLED")
    assert head["ContentType"] == "application/pdf"
    assert head["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(PDF).digest()).decode()


def test_the_prefix_comes_before_every_key_and_keeps_stores_apart(
    s3_client: Any, bucket: str
) -> None:
    tenant_a = S3Storage(s3_client, bucket, prefix="tenant-a/")
    tenant_b = S3Storage(s3_client, bucket, prefix="tenant-b")

    tenant_a.put("org-1/doc.pdf", b"a", content_type="application/pdf")
    tenant_b.put("org-1/doc.pdf", b"b", content_type="application/pdf")

    assert _object_keys(s3_client, bucket) == ["tenant-a/org-1/doc.pdf", "tenant-b/org-1/doc.pdf"]
    assert tenant_a.get("org-1/doc.pdf") == b"a"
    tenant_a.delete("org-1/doc.pdf")
    assert tenant_b.get("org-1/doc.pdf") == b"b"


def test_a_missing_bucket_is_not_taken_for_a_missing_document(s3_client: Any) -> None:
    store = S3Storage(s3_client, f"absent-{uuid.uuid4().hex[:12]}")

    with pytest.raises(ClientError, match="NoSuchBucket"):
        store.get("org-1/doc.pdf")


def test_s3_settings_give_a_working_store_on_the_configured_bucket_and_prefix(
    s3_endpoint: str, s3_client: Any, bucket: str
) -> None:
    store = storage_from_settings(
        Settings(
            document_storage="s3",
            s3_bucket=bucket,
            s3_prefix="documents",
            s3_endpoint_url=s3_endpoint,
            s3_region=S3_REGION,
            s3_access_key_id="test",
            s3_secret_access_key="test",
        )
    )

    assert isinstance(store, S3Storage)
    store.put("org-1/doc.pdf", PDF, content_type="application/pdf")
    assert store.get("org-1/doc.pdf") == PDF
    assert _object_keys(s3_client, bucket) == ["documents/org-1/doc.pdf"]
