"""Stored documents: where their bytes live."""
