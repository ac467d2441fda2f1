"""A DVC-tracked folder of files (daily exports, say) read as one dataset.

`DATA_PATH` names the folder (`data`: every file in it) or a glob inside it (`data/*.parquet`).
The folder is tracked by DVC as one directory, so its version is the directory's md5 in its `.dvc`
file: a new file is new data, seen without reading any. Files are fetched by their own md5 (a file
already fetched for an earlier version is not fetched again) and read one at a time; they must hold
the same columns, else the first that differs is refused with the columns that differ.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd

from ml.redact import redact
from retraining.data.base import BadData, DataError, DatasetVersion, NotTracked, one_line
from retraining.data.schema import DeclaredSchema, with_declared
from retraining.data.source import _FULL_SHA, DvcRegistrySource
from retraining.data.vcs import tracked_out

_GLOB = re.compile(r"[*?\[]")


def names_a_folder(path: str) -> bool:
    """A glob, or a path without a suffix: a folder of files rather than one file."""
    return bool(_GLOB.search(path)) or not PurePosixPath(path).suffix


def split_glob(path: str) -> tuple[str, str]:
    """(the folder, the pattern of the files' paths inside it; "" for every file)."""
    parts = PurePosixPath(path).parts
    first = next((i for i, part in enumerate(parts) if _GLOB.search(part)), len(parts))
    if first == 0:
        raise DataError(f"dataset path {path!r}: a glob must be inside a DVC-tracked folder, as in data/*.csv")
    return str(PurePosixPath(*parts[:first])), "/".join(parts[first:])


class FolderSource(DvcRegistrySource):
    """The files of a DVC-tracked folder in a git registry, matching a glob, read at `rev` as one frame."""

    def _locate(self) -> None:
        """A folder, or a glob inside one: each file is read in the format its own name says."""
        self.folder, self.pattern = split_glob(self.path)

    def __repr__(self) -> str:
        return f"FolderSource({self.source!r}, {self.path!r}, rev={self.rev!r})"

    def version(self) -> DatasetVersion:
        """The folder's md5 as DVC records it; with a glob, a change to any file of the folder is a
        new version (the pull's fingerprint then finds the same rows when none of the matching changed)."""
        git_dir, sha = self._resolve_url_rev() if self.is_url else self._resolve_local_rev()
        return self._version_at(git_dir, sha)

    def _version_at(self, git_dir: Path, sha: str) -> DatasetVersion:
        md5, size = tracked_out(git_dir, sha, self.folder, directory=True) or self._folder_via_dvc(sha)
        return DatasetVersion(
            source=self.source, path=self.path, rev=sha, md5=md5, size=size, schema=self.schema_id(git_dir, sha)
        )

    def _tracking_files(self) -> list[str]:
        folder = PurePosixPath(self.folder)
        return [*(f"{holder}.dvc" for holder in [folder, *list(folder.parents)[:-1]]), ":(glob)**/dvc.lock"]

    def pull(self, version: DatasetVersion) -> pd.DataFrame:
        self._check_version(version)
        declared = self.declared(version.rev)
        fs = self._filesystem(version.rev)
        try:
            files = self._files(fs, version)
            frames: list[pd.DataFrame] = []
            first: tuple[str, list[str]] | None = None
            for name, md5 in files:
                label = f"{name}@{version.rev[:12]}"
                frame = self._read(fs, version, name, md5, label, declared)
                if first is None:
                    first = (label, list(frame.columns))
                elif list(frame.columns) != first[1]:
                    frame = _same_columns(frame, label, *first)
                frames.append(frame)
        finally:
            fs.close()
        # One frame, the files in name order; each file's frame is let go as it is copied in.
        read_as = frames[0].attrs.get("read_as", {"format": "Parquet"})
        combined = pd.concat(frames, ignore_index=True)
        frames.clear()
        combined.attrs = {"read_as": {**read_as, "files": len(files)}}
        return with_declared(combined, declared)

    def columns(self, version: DatasetVersion) -> list[str]:
        """The columns of the version's first file alone, fetched if need be: every file of a dataset
        holds the same ones, so what a new file must hold is known without pulling the others."""
        self._check_version(version)
        declared = self.declared(version.rev)
        fs = self._filesystem(version.rev)
        try:
            name, md5 = self._files(fs, version)[0]
            return list(self._read(fs, version, name, md5, f"{name}@{version.rev[:12]}", declared).columns)
        finally:
            fs.close()

    def _check_version(self, version: DatasetVersion) -> None:
        # A version recorded before sources were redacted names the registry with its credentials.
        if (redact(version.source), version.path) != (self.source, self.path):
            raise DataError(f"version of {version.source}:{version.path} given to the source {self.source}:{self.path}")
        if not _FULL_SHA.fullmatch(version.rev):
            raise DataError(f"version of {version.path} names no commit (rev {version.rev!r})")

    def _files(self, fs: Any, version: DatasetVersion) -> list[tuple[str, str]]:
        """(path, md5) of each file of the folder the pattern matches, in name order."""
        try:
            found = fs.find(self.folder, detail=True)
        except Exception as exc:
            raise DataError(f"DVC could not list {self.folder} at {version.rev[:12]}: {one_line(str(exc))}") from exc
        files = []
        for name, info in sorted(found.items()):
            inside = str(PurePosixPath(name).relative_to(self.folder))
            if self.pattern and not fnmatch.fnmatchcase(inside, self.pattern):
                continue
            md5 = info.get("md5") or (info.get("dvc_info") or {}).get("md5")
            if not md5:
                raise DataError(f"{name} at {version.rev[:12]} is in git but not tracked by DVC")
            files.append((name, str(md5)))
        if not files:
            matches = f"matches {self.pattern}" if self.pattern else "is there"
            raise BadData(f"no file in {self.folder} {matches} at {version.rev[:12]}")
        return files

    def _read(
        self, fs: Any, version: DatasetVersion, name: str, md5: str, label: str, declared: DeclaredSchema
    ) -> pd.DataFrame:
        data_format = declared.format_of(name)
        cached = self.cache_dir / f"{md5}{PurePosixPath(name).suffix.lower()}"
        # Files land here only by an atomic rename after their hash was checked.
        if not cached.is_file():
            one = DatasetVersion(source=self.source, path=name, rev=version.rev, md5=md5, size=None)
            self._fetch(one, cached, label, fs)
        return data_format.read(cached, label)

    def _filesystem(self, sha: str) -> Any:
        from dvc.api import DVCFileSystem

        try:
            return DVCFileSystem(self.repo if self.is_url else self.source, rev=sha)
        except Exception as exc:
            raise DataError(
                f"DVC could not open data registry {self.source} at {sha[:12]}: {one_line(str(exc))}"
            ) from exc

    def _folder_via_dvc(self, sha: str) -> tuple[str, int | None]:
        """A folder without a `.dvc` file of its own (a pipeline output in `dvc.lock`): slower."""
        where = f"data registry {self.source} at {self.rev} ({sha[:12]})"
        fs = None
        try:
            fs = self._filesystem(sha)
            info = fs.info(self.folder)
        except FileNotFoundError:
            raise NotTracked(f"{self.folder} is not tracked by DVC in {where}") from None
        except DataError:
            raise
        except Exception as exc:
            raise DataError(f"DVC could not read {self.folder} in {where}: {one_line(str(exc))}") from exc
        finally:
            if fs is not None:
                fs.close()
        md5 = (info.get("dvc_info") or {}).get("md5")
        if info.get("type") != "directory":
            raise DataError(f"{self.folder} is a file in {where}, not a folder")
        if not md5:
            raise DataError(f"{self.folder} is not tracked by DVC as a folder of its own in {where}")
        size = info.get("size")
        return str(md5), None if size is None else int(size)


def _same_columns(frame: pd.DataFrame, label: str, first_label: str, columns: list[str]) -> pd.DataFrame:
    """The frame with the first file's column order, or refused naming the columns that differ."""
    missing = [c for c in columns if c not in frame.columns]
    extra = [c for c in frame.columns if c not in columns]
    if missing or extra:
        said = []
        if missing:
            said.append(f"lacks {', '.join(map(repr, missing))}")
        if extra:
            said.append(f"has {', '.join(map(repr, extra))} besides")
        raise BadData(
            f"{label} does not hold the columns of {first_label}: it {' and '.join(said)}; "
            "every file of a dataset needs the same columns"
        )
    return frame[columns]
