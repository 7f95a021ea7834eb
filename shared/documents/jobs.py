"""Document jobs that render nothing: the names both their scheduler and document_worker use."""

from __future__ import annotations

from typing import Final

# purge_application: remove the files of the documents it erased, after its commit.
# Payload: {"storage_keys": [...]}; keys hold ids only, never personal data.
ERASE_FILES: Final = "erase_files"
