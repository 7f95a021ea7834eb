"""The local document store: keys cannot escape its root, and writes are atomic.

The behaviours every store shares (read back, overwrite, missing, delete) are tested on
both stores in tests/integration/test_document_storage.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from shared.documents.storage import (
    LocalDirectoryStorage,
    check_key,
    storage_from_settings,
)
from shared.settings import Settings

BAD_KEYS = [
    "../x",
    "/etc/passwd",
    "a//b",
    "a/../../b",
    "org/../../../outside.pdf",
    "a\nb",
    "org/doc.pdf\n",
    "a b",
    " org/doc.pdf",
    "a\\..\\b",
    "org/dóc.pdf",
    "",
    "org/",
    ".",
    "a/./b",
    "..",
    "x" * 513,
]


def _files_under(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if not p.is_dir())


@pytest.mark.parametrize(
    "key", ["org/doc.pdf", "0b7e-41/4f2a_9c.v2.pdf", "a", "x" * 512, "...pdf", "a/b/c/d"]
)
def test_a_good_key_is_accepted(key: str) -> None:
    check_key(key)


@pytest.mark.parametrize("key", BAD_KEYS)
def test_a_bad_key_is_refused_with_an_error_naming_it(key: str) -> None:
    with pytest.raises(ValueError, match="bad document key") as refused:
        check_key(key)
    assert repr(key) in str(refused.value)


@pytest.mark.parametrize("key", BAD_KEYS)
def test_the_local_store_refuses_a_bad_key_and_creates_no_file_anywhere(
    key: str, tmp_path: Path
) -> None:
    store = LocalDirectoryStorage(tmp_path / "a" / "b" / "store")
    for attempt in (
        lambda: store.put(key, b"evil", content_type="application/pdf"),
        lambda: store.get(key),
        lambda: store.exists(key),
        lambda: store.delete(key),
    ):
        with pytest.raises(ValueError) as refused:
            attempt()
        assert repr(key) in str(refused.value)
    assert _files_under(tmp_path) == []


def test_a_symlink_inside_the_root_cannot_lead_a_write_outside_it(tmp_path: Path) -> None:
    root, outside = tmp_path / "store", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "org").symlink_to(outside, target_is_directory=True)
    store = LocalDirectoryStorage(root)

    with pytest.raises(ValueError, match="leads outside"):
        store.put("org/doc.pdf", b"evil", content_type="application/pdf")
    assert list(outside.iterdir()) == []


def test_writes_leave_only_the_documents_behind_no_temporary_files(tmp_path: Path) -> None:
    store = LocalDirectoryStorage(tmp_path)
    store.put("org/cv.pdf", b"first", content_type="application/pdf")
    store.put("org/cv.pdf", b"second, longer", content_type="application/pdf")
    store.put("org/letters/1.pdf", b"letter", content_type="application/pdf")

    assert _files_under(tmp_path) == ["org/cv.pdf", "org/letters/1.pdf"]
    assert (tmp_path / "org" / "cv.pdf").read_bytes() == b"second, longer"


def test_a_failed_write_removes_its_temporary_file_and_keeps_what_was_stored(
    tmp_path: Path,
) -> None:
    store = LocalDirectoryStorage(tmp_path)
    store.put("org/cv.pdf", b"kept", content_type="application/pdf")

    with pytest.raises(IsADirectoryError):  # "org" is a directory: the final rename fails
        store.put("org", b"lost", content_type="application/pdf")

    assert _files_under(tmp_path) == ["org/cv.pdf"]
    assert store.get("org/cv.pdf") == b"kept"


def test_local_settings_give_a_store_rooted_at_the_documents_dir(tmp_path: Path) -> None:
    store = storage_from_settings(Settings(documents_dir=tmp_path / "documents"))

    store.put("org/doc.pdf", b"%PDF-1.7", content_type="application/pdf")

    assert (tmp_path / "documents" / "org" / "doc.pdf").read_bytes() == b"%PDF-1.7"


def test_s3_settings_without_a_bucket_are_refused_clearly() -> None:
    with pytest.raises(ValueError, match="set WERVING_S3_BUCKET"):
        storage_from_settings(Settings(document_storage="s3", s3_bucket=None))


def test_a_process_that_stores_documents_locally_never_imports_boto3(tmp_path: Path) -> None:
    program = (
        "import sys\n"
        "from pathlib import Path\n"
        "from shared.documents.storage import storage_from_settings\n"
        "from shared.settings import Settings\n"
        f"store = storage_from_settings(Settings(documents_dir=Path({str(tmp_path)!r})))\n"
        "store.put('org/doc.pdf', b'x', content_type='application/pdf')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
