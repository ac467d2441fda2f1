"""Where the pipeline reads its data: a DVC-tracked file in a git registry, or the source the
settings name (this, a plain data file: file.py, or a DVC-tracked folder: folder.py).

A dataset version is named by DVC's own content hash, read from the `.dvc` file at a resolved
commit. Checking for new data therefore never downloads the data, and costs the same for a
megabyte as for a terabyte.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import pandas as pd

from ml.redact import redact
from retraining.data.base import (
    CHUNK,
    DataError,
    DatasetVersion,
    DataUnavailable,
    NotTracked,
    check_tracked_path,
    default_cache_dir,
    one_line,
)
from retraining.data.file import FileSource
from retraining.data.formats import find_format, format_for
from retraining.data.schema import DeclaredSchema, parse, schema_path, with_declared
from retraining.data.vcs import DATABASE_URL_IN_REGISTRY, git, is_database_url, is_git_url, tracked_out

if TYPE_CHECKING:
    from retraining.data.sql import SqlSource

_FULL_SHA = re.compile(r"[0-9a-f]{40}")


class DvcRegistrySource:
    """A data file tracked by DVC in a git registry (a local path or a git URL), read at `rev`.

    Its format is that of its suffix (`retraining.data.formats`).
    """

    def __init__(self, repo: str | Path, path: str, rev: str = "main", cache_dir: Path | str | None = None) -> None:
        # `repo` is what git and DVC are given; `source` is what the product records and shows:
        # a URL's credentials masked (ml/redact.py).
        self.repo = str(repo)
        self.is_url = is_git_url(self.repo)
        self.source = redact(self.repo) if self.is_url else str(Path(self.repo).expanduser().resolve())
        self.path = check_tracked_path(path)
        self._locate()
        if not rev or rev.startswith("-"):
            raise DataError(f"invalid registry revision {rev!r}")
        self.rev = rev
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()

    def _locate(self) -> None:
        """What the path names: here one file, read in the format its name says."""
        self.format = format_for(self.path)

    def __repr__(self) -> str:
        return f"DvcRegistrySource({self.source!r}, {self.path!r}, rev={self.rev!r})"

    def version(self) -> DatasetVersion:
        git_dir, sha = self._resolve_url_rev() if self.is_url else self._resolve_local_rev()
        return self._version_at(git_dir, sha)

    def _version_at(self, git_dir: Path, sha: str) -> DatasetVersion:
        md5, size = tracked_out(git_dir, sha, self.path) or self._tracked_out_via_dvc(sha)
        return DatasetVersion(
            source=self.source, path=self.path, rev=sha, md5=md5, size=size, schema=self.schema_id(git_dir, sha)
        )

    def published(self, version: DatasetVersion, until: datetime) -> list[DatasetVersion]:
        """Every version of this dataset committed at or before `until` in the history of
        `version`'s commit, oldest first, each once: the data a model registered at `until` could
        have been trained on. The commit's time is when a version was published; git keeps it to
        the second, so a version committed in `until`'s own second counts as published before."""
        git_dir = self._full_history(version.rev) if self.is_url else Path(self.source)
        log = git(
            ["log", "--reverse", "--format=%H %ct", version.rev, "--", *self._tracking_files()],
            git_dir,
            error=f"could not read the history of {self.path} in data registry {self.source}",
        ).stdout
        found: dict[tuple[str, str | None], DatasetVersion] = {}
        for line in log.splitlines():
            sha, seconds = line.split()
            if int(seconds) > until.timestamp():
                continue
            try:
                earlier = self._version_at(git_dir, sha)
            except NotTracked:
                continue  # a commit from before the dataset was first published
            found.setdefault((earlier.md5, earlier.schema), earlier)
        return list(found.values())

    def _tracking_files(self) -> list[str]:
        """What may track this path in git: a `.dvc` file beside it or beside a folder holding it,
        or a `dvc.lock` (a pipeline's output)."""
        tracked = PurePosixPath(self.path)
        holders = [tracked, *list(tracked.parents)[:-1]]
        return [*(f"{holder}.dvc" for holder in holders), ":(glob)**/dvc.lock"]

    def _full_history(self, sha: str) -> Path:
        """The mirror of a remote registry with the whole history of `sha`: checking for new data
        fetches only the newest commit."""
        mirror = self._mirror()
        if git(["rev-parse", "--is-shallow-repository"], mirror).stdout.strip() == "true":
            fetch = ["fetch", "--quiet", "--unshallow", "--no-tags", "--no-write-fetch-head", self.repo, sha]
            try:
                git(fetch, mirror, error=f"could not fetch the history of data registry {self.source}", timeout=300)
            except DataError as exc:
                raise DataUnavailable(str(exc)) from None
        return mirror

    def last_message(self, sha: str) -> str:
        """The message of the commit that last changed the data's `.dvc` file in `sha`'s history."""
        git_dir = self._mirror() if self.is_url else Path(self.source)
        return git(["log", "-1", "--format=%B", sha, "--", f"{self.path}.dvc"], git_dir).stdout

    def schema_id(self, git_dir: Path, sha: str) -> str | None:
        """The git object id of the data's schema file at the commit, or None: one git call."""
        proc = git(["rev-parse", "--verify", "--quiet", f"{sha}:{schema_path(self.path)}"], git_dir)
        if proc.returncode != 0:
            return None
        return proc.stdout.strip() or None

    def pull(self, version: DatasetVersion) -> pd.DataFrame:
        # A version recorded before sources were redacted names the registry with its credentials.
        if (redact(version.source), version.path) != (self.source, self.path):
            raise DataError(f"version of {version.source}:{version.path} given to the source {self.source}:{self.path}")
        if not _FULL_SHA.fullmatch(version.rev):
            raise DataError(f"version of {version.path} names no commit (rev {version.rev!r})")
        label = f"{self.path}@{version.rev[:12]}"
        declared = self.declared(version.rev)
        cached = self.cache_dir / f"{version.md5}{PurePosixPath(self.path).suffix}"
        # Files land here only by an atomic rename after their hash was checked.
        if not (cached.is_file() and version.size in (None, cached.stat().st_size)):
            self._fetch(version, cached, label)
        return with_declared(declared.format_of(self.path).read(cached, label), declared)

    def declared(self, sha: str) -> DeclaredSchema:
        """The data's schema file at the commit (tracked in git beside the data), or an empty one."""
        where = schema_path(self.path)
        git_dir = self._mirror() if self.is_url else Path(self.source)
        proc = git(["cat-file", "-p", f"{sha}:{where}"], git_dir)
        if proc.returncode != 0:
            return DeclaredSchema()
        return parse(proc.stdout, f"{where}@{sha[:12]}")

    def _mirror(self) -> Path:
        return self.cache_dir / "registries" / f"{hashlib.sha256(self.repo.encode()).hexdigest()[:16]}.git"

    def _resolve_local_rev(self) -> tuple[Path, str]:
        repo = Path(self.source)
        if not repo.is_dir():
            raise DataError(f"data registry {repo} does not exist")
        proc = git(["rev-parse", "--verify", "--quiet", f"{self.rev}^{{commit}}"], repo)
        if proc.returncode == 1:
            raise DataError(f"revision {self.rev!r} not found in data registry {repo}")
        if "not a git repository" in proc.stderr:
            raise DataError(f"data registry {repo} is not a git repository")
        if proc.returncode != 0:
            raise DataError(f"data registry {repo} is not usable: {one_line(proc.stderr)}")
        return repo, proc.stdout.strip()

    def _resolve_url_rev(self) -> tuple[Path, str]:
        """Resolves with one `ls-remote` and keeps a shallow mirror of the commits it needs,
        so a check that finds no new data costs one round trip."""
        if is_database_url(self.repo):
            # A setting to change, not a registry that will come back: never DataUnavailable.
            raise DataError(DATABASE_URL_IN_REGISTRY.format(url=self.source))
        mirror = self._mirror()
        if not (mirror / "HEAD").is_file():
            mirror.mkdir(parents=True, exist_ok=True)
            git(["init", "--quiet", "--bare"], mirror, error=f"could not create a git mirror in {mirror}")
        target = self.rev if _FULL_SHA.fullmatch(self.rev) else self._ls_remote(mirror)
        if git(["cat-file", "-e", target], mirror).returncode != 0:
            fetch = ["fetch", "--quiet", "--depth=1", "--no-tags", "--no-write-fetch-head", self.repo, target]
            try:
                git(fetch, mirror, error=f"could not fetch {self.rev} from data registry {self.source}", timeout=300)
            except DataError as exc:
                raise DataUnavailable(str(exc)) from None
        sha = git(["rev-parse", "--verify", f"{target}^{{commit}}"], mirror, error=f"{self.rev} is not a commit")
        return mirror, sha.stdout.strip()

    def _ls_remote(self, mirror: Path) -> str:
        error = f"data registry {self.source} is unreachable"
        try:
            out = git(["ls-remote", self.repo, self.rev], mirror, error=error, timeout=120).stdout
        except DataError as exc:
            raise DataUnavailable(str(exc)) from None
        refs: dict[str, str] = {}
        for line in out.splitlines():
            sha, _, name = line.partition("\t")
            refs[name] = sha
        for name in (self.rev, f"refs/heads/{self.rev}", f"refs/tags/{self.rev}"):
            if name in refs:
                return refs[name]
        raise DataError(f"revision {self.rev!r} not found in data registry {self.source}")

    def _tracked_out_via_dvc(self, sha: str) -> tuple[str, int | None]:
        """Covers what a `.dvc` file next to the data does not: pipeline outputs in `dvc.lock`
        and files inside a tracked directory. Slower, and only reached for those."""
        from dvc.api import DVCFileSystem

        where = f"data registry {self.source} at {self.rev} ({sha[:12]})"
        try:
            fs = DVCFileSystem(self.repo if self.is_url else self.source, rev=sha)
            try:
                info = fs.info(self.path)
            finally:
                fs.close()
        except FileNotFoundError:
            raise NotTracked(f"{self.path} is not tracked by DVC in {where}") from None
        except Exception as exc:
            raise DataError(f"DVC could not read {self.path} in {where}: {one_line(str(exc))}") from exc
        md5 = (info.get("dvc_info") or {}).get("md5")
        if info.get("type") == "directory":
            raise DataError(f"{self.path} is a directory in {where}, not a {self.format.name} file")
        if not md5:
            raise DataError(f"{self.path} is in git but not tracked by DVC in {where}")
        # DVC records no size for a file inside a tracked folder: unknown, and the md5 names it anyway.
        size = info.get("size")
        return str(md5), None if size is None else int(size)

    def _fetch(self, version: DatasetVersion, cached: Path, label: str, fs: Any = None) -> None:
        """Fetches `version.path` at `version.rev` through `fs` (a DVCFileSystem at that commit)
        when given, else through its own."""
        import dvc.api
        from dvc_data.hashfile.hash import file_md5

        self.cache_dir.mkdir(parents=True, exist_ok=True)
        fd, part = tempfile.mkstemp(dir=self.cache_dir, prefix=f".{version.md5}.", suffix=".part")
        try:
            digest = hashlib.md5(usedforsecurity=False)
            repo = self.repo if self.is_url else self.source
            opened = (
                fs.open(version.path, mode="rb")
                if fs is not None
                else dvc.api.open(version.path, repo=repo, rev=version.rev, mode="rb")
            )
            with os.fdopen(fd, "wb") as out, opened as src:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
            # Files added by DVC 2 are hashed with CRLF folded to LF.
            actual = digest.hexdigest()
            if actual != version.md5 and file_md5(part, name="md5-dos2unix") != version.md5:
                raise DataError(f"fetched {label} has md5 {actual}, but DVC records {version.md5}")
            os.replace(part, cached)
        except DataError:
            raise
        except Exception as exc:
            raise DataUnavailable(f"could not fetch {label} from the DVC remote: {one_line(str(exc))}") from exc
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(part)


def source_from_settings() -> DvcRegistrySource | FileSource | SqlSource:
    from django.conf import settings

    from retraining.data.folder import FolderSource, names_a_folder
    from retraining.data.sql import SqlSource

    registry = str(settings.DATA_REGISTRY)
    cache_dir = getattr(settings, "DATA_CACHE_DIR", None)
    if getattr(settings, "DATA_SOURCE_URL", ""):
        return SqlSource(
            settings.DATA_SOURCE_URL,
            DvcRegistrySource(registry, settings.DATA_PATH, settings.DATA_REV, cache_dir),
            watermark=settings.DATA_WATERMARK_COLUMN,
            table=settings.DATA_TABLE,
            query=settings.DATA_QUERY,
            chunk_rows=settings.DATA_SNAPSHOT_CHUNK_ROWS,
            remote=settings.DATA_REMOTE,
        )
    # A local path with the suffix of a data format is a file; anything else is a registry.
    if not is_git_url(registry) and find_format(registry) is not None:
        return FileSource(registry, cache_dir=cache_dir)
    if names_a_folder(settings.DATA_PATH):
        return FolderSource(registry, settings.DATA_PATH, settings.DATA_REV, cache_dir)
    return DvcRegistrySource(registry, settings.DATA_PATH, settings.DATA_REV, cache_dir)
