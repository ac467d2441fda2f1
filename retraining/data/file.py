"""A plain data file as a source: versioned by its md5, read and hashed in one pass.

For trying the product on a file without a registry; its schema file, if any, lies beside it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
from datetime import datetime
from pathlib import Path

import pandas as pd

from retraining.data.base import (
    CHUNK,
    BadData,
    DataError,
    DatasetVersion,
    default_cache_dir,
    file_md5,
    write_atomic,
)
from retraining.data.formats import format_for
from retraining.data.schema import SUFFIX, DeclaredSchema, parse, with_declared


class FileSource:
    """A plain data file as a source, for trying the product on a file without a registry."""

    def __init__(self, path: str | Path, *, cache_dir: Path | str | None = None) -> None:
        self.path = Path(path).expanduser().resolve()
        self.format = format_for(self.path)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()

    def __repr__(self) -> str:
        return f"FileSource({str(self.path)!r})"

    def version(self) -> DatasetVersion:
        """Hashes the file only when its size or mtime changed, so a scheduled check is cheap."""
        stat = self._stat()
        key = hashlib.sha256(str(self.path).encode()).hexdigest()[:20]
        sidecar = self.cache_dir / "file-hashes" / f"{key}.json"
        stamp = {"path": str(self.path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
        try:
            known = json.loads(sidecar.read_text())
        except (OSError, ValueError):
            known = {}
        if isinstance(known, dict) and {k: known.get(k) for k in stamp} == stamp and known.get("md5"):
            md5 = str(known["md5"])
        else:
            md5 = file_md5(self.path)
            after = self._stat()
            if (after.st_size, after.st_mtime_ns) == (stat.st_size, stat.st_mtime_ns):
                with contextlib.suppress(OSError):
                    write_atomic(sidecar, json.dumps({**stamp, "md5": md5}).encode())
        beside = self.path.with_name(self.path.name + SUFFIX)
        schema = file_md5(beside) if beside.is_file() else None
        return DatasetVersion(source=str(self.path), path="", rev="", md5=md5, size=stat.st_size, schema=schema)

    def published(self, version: DatasetVersion, until: datetime) -> None:
        """None: a plain file keeps no history of when its rows were published."""
        return None

    def pull(self, version: DatasetVersion) -> pd.DataFrame:
        """The file parsed as it is read and hashed, in one pass: never held whole in memory beside
        its frame. The frame is returned only if what was parsed is the version that was checked."""
        if version.source != str(self.path):
            raise DataError(f"version of {version.source} given to the source {self.path}")
        beside = self.path.with_name(self.path.name + SUFFIX)
        try:
            declared = parse(beside.read_text(), str(beside)) if beside.is_file() else DeclaredSchema()
        except OSError as exc:
            raise DataError(f"schema file {beside} cannot be read: {exc.strerror}") from None
        try:
            with self.path.open("rb") as handle:
                reader = _HashingReader(handle)
                try:
                    frame = with_declared(declared.format_of(str(self.path)).read(reader, str(self.path)), declared)
                except BadData:
                    # A file changed since its check is named as changed, whatever it now holds.
                    self._check_unchanged(version, reader.digest())
                    raise
                self._check_unchanged(version, reader.digest())
        except OSError as exc:
            raise DataError(f"data file {self.path} cannot be read: {exc.strerror}") from None
        return frame

    def _check_unchanged(self, version: DatasetVersion, actual: str) -> None:
        if actual != version.md5:
            raise DataError(f"data file {self.path} changed since it was checked (md5 {version.md5} -> {actual})")

    def _stat(self) -> os.stat_result:
        try:
            return self.path.stat()
        except OSError as exc:
            raise DataError(f"data file {self.path} cannot be read: {exc.strerror}") from None


class _HashingReader(io.RawIOBase):
    """A file read once from its start, hashed as it is read. Seeking back to the start (the
    header check does) starts the hash over; `digest` reads what the reader left and hashes it."""

    def __init__(self, handle: io.BufferedReader) -> None:
        self.handle = handle
        self.md5 = hashlib.md5(usedforsecurity=False)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        count = self.handle.readinto(buffer)
        if count:
            self.md5.update(memoryview(buffer)[:count])
        return count or 0

    def tell(self) -> int:
        return self.handle.tell()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if (offset, whence) != (0, io.SEEK_SET):
            raise io.UnsupportedOperation("a hashed file is read from its start only")
        self.md5 = hashlib.md5(usedforsecurity=False)
        return self.handle.seek(0)

    def digest(self) -> str:
        while chunk := self.handle.read(CHUNK):
            self.md5.update(chunk)
        return self.md5.hexdigest()
