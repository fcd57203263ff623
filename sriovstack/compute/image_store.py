"""The image store: each image's data as one file under a root directory.

An upload is written to ``.partial/`` and renamed into place only once complete, so a crash
mid-upload leaves no image data behind (partials are cleared when the store opens) and a
reader never sees half a file.  Digests (md5 for ``checksum``, sha512 for ``os_hash_value``)
are computed while the data streams in.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sriovstack.errors import Invalid, Unavailable

__all__ = ["ImageStore", "PartialUpload", "StoredData"]

_PARTIAL = ".partial"


@dataclass(frozen=True, slots=True)
class StoredData:
    """What a finished upload wrote: its size and digests."""

    size: int
    checksum: str  # md5, glance's ``checksum``
    os_hash_value: str  # sha512


class PartialUpload:
    """One upload in progress: ``write`` chunks, then ``commit`` or ``discard``."""

    def __init__(self, path: Path, limit: int) -> None:
        self._path = path
        self._limit = limit
        self._file: IO[bytes] = open(path, "wb")
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._sha512 = hashlib.sha512()
        self._size = 0

    def write(self, chunk: bytes) -> None:
        """Append ``chunk``; Invalid once the data passes the store's size cap."""
        self._size += len(chunk)
        if self._size > self._limit:
            raise Invalid(f"Image data exceeds the size cap of {self._limit} bytes",
                          field="image data", value=self._size)
        self._file.write(chunk)
        self._md5.update(chunk)
        self._sha512.update(chunk)

    def stored(self) -> StoredData:
        """The size and digests of what was written so far."""
        return StoredData(self._size, self._md5.hexdigest(), self._sha512.hexdigest())

    def commit(self, final: Path) -> None:
        """Flush, fsync and rename the data to ``final``."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self._path, final)

    def discard(self) -> None:
        """Drop the partial data (idempotent)."""
        self._file.close()
        self._path.unlink(missing_ok=True)


class ImageStore:
    """Image data files under ``root`` (None: no store, uploads are refused with 503)."""

    def __init__(self, root: Path | None, max_bytes: int) -> None:
        self._root = root
        self._max_bytes = max_bytes
        if root is not None and (root / _PARTIAL).is_dir():
            for leftover in (root / _PARTIAL).iterdir():  # uploads a crash cut short
                leftover.unlink(missing_ok=True)

    def _ready_root(self) -> Path:
        if self._root is None:
            raise Unavailable("This API has no image store", field="image data",
                              fix="start the API with --state-dir (data goes to DIR/images)")
        try:
            (self._root / _PARTIAL).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise Unavailable(f"cannot create the image store {self._root}: {exc.strerror}",
                              field="image data") from exc
        return self._root

    def begin(self, image_id: str) -> PartialUpload:
        """A new partial upload for ``image_id``; Unavailable without a usable store."""
        root = self._ready_root()
        return PartialUpload(root / _PARTIAL / f"{image_id}.{uuid.uuid4().hex}",
                             self._max_bytes)

    def final_path(self, image_id: str) -> Path:
        """Where ``image_id``'s data lives once committed."""
        return self._ready_root() / image_id

    def path(self, image_id: str) -> Path | None:
        """The data file of ``image_id``, or None when it has no data here."""
        if self._root is None:
            return None
        path = self._root / image_id
        return path if path.is_file() else None

    def delete(self, image_id: str) -> None:
        """Remove ``image_id``'s data if any (idempotent)."""
        if self._root is not None:
            (self._root / image_id).unlink(missing_ok=True)
