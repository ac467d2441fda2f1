"""The data registry edge: the only module that talks to git and DVC about datasets.

A dataset version is named by DVC's own content hash, read from the `.dvc` file at a resolved
commit. Checking for new data therefore never downloads the data, and costs the same for a
megabyte as for a terabyte. Django is imported only by `source_from_settings`, so scripts and
benchmarks can use this module without configured settings.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

import pandas as pd

_FULL_SHA = re.compile(r"[0-9a-f]{40}")
_SCP_LIKE_URL = re.compile(r"^[\w.-]+@[\w.-]+:")
_CHUNK = 1 << 20
_CSV_CHUNK_ROWS = 200_000
_FALLBACK_IDENTITY = {"user.name": "retraining", "user.email": "retraining@localhost"}
_REMOTE_NAME = "storage"
# What `git rev-parse --local-env-vars` lists: set by a parent git (a hook, a submodule
# command), they would point our git and dvc at the wrong repository.
_REPO_LOCATION_VARS = frozenset(
    {
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_CONFIG",
        "GIT_CONFIG_PARAMETERS",
        "GIT_CONFIG_COUNT",
        "GIT_OBJECT_DIRECTORY",
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_IMPLICIT_WORK_TREE",
        "GIT_GRAFT_FILE",
        "GIT_INDEX_FILE",
        "GIT_NO_REPLACE_OBJECTS",
        "GIT_REPLACE_REF_BASE",
        "GIT_PREFIX",
        "GIT_INTERNAL_SUPER_PREFIX",
        "GIT_SHALLOW_FILE",
        "GIT_COMMON_DIR",
        "GIT_CEILING_DIRECTORIES",
    }
)


class DataError(Exception):
    """A dataset could not be checked, fetched, read or published; the message names why."""


class DataUnavailable(DataError):
    """The registry or its DVC remote did not answer: worth trying again later, unlike bad data."""


@dataclass(frozen=True)
class DatasetVersion:
    source: str
    path: str
    rev: str
    md5: str
    size: int

    def as_dict(self) -> dict[str, str | int]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> DatasetVersion:
        names = [field.name for field in dataclasses.fields(cls)]
        missing = [name for name in names if name not in d]
        if missing:
            raise DataError(f"dataset version record lacks {', '.join(missing)}: {d!r}")
        try:
            size = int(d["size"])
        except (TypeError, ValueError):
            raise DataError(f"dataset version record has a non-integer size: {d['size']!r}") from None
        return cls(source=str(d["source"]), path=str(d["path"]), rev=str(d["rev"]), md5=str(d["md5"]), size=size)


class DvcRegistrySource:
    """A CSV file tracked by DVC in a git registry (a local path or a git URL), read at `rev`."""

    def __init__(self, repo: str | Path, path: str, rev: str = "main", cache_dir: Path | str | None = None) -> None:
        self.repo = str(repo)
        self.is_url = _is_git_url(self.repo)
        self.source = self.repo if self.is_url else str(Path(self.repo).expanduser().resolve())
        self.path = _check_tracked_path(path)
        if not rev or rev.startswith("-"):
            raise DataError(f"invalid registry revision {rev!r}")
        self.rev = rev
        self.cache_dir = Path(cache_dir) if cache_dir is not None else _default_cache_dir()

    def __repr__(self) -> str:
        return f"DvcRegistrySource({self.source!r}, {self.path!r}, rev={self.rev!r})"

    def version(self) -> DatasetVersion:
        git_dir, sha = self._resolve_url_rev() if self.is_url else self._resolve_local_rev()
        md5, size = _tracked_out(git_dir, sha, self.path) or self._tracked_out_via_dvc(sha)
        return DatasetVersion(source=self.source, path=self.path, rev=sha, md5=md5, size=size)

    def pull(self, version: DatasetVersion) -> pd.DataFrame:
        if (version.source, version.path) != (self.source, self.path):
            raise DataError(f"version of {version.source}:{version.path} given to the source {self.source}:{self.path}")
        if not _FULL_SHA.fullmatch(version.rev):
            raise DataError(f"version of {version.path} names no commit (rev {version.rev!r})")
        label = f"{self.path}@{version.rev[:12]}"
        cached = self.cache_dir / f"{version.md5}{PurePosixPath(self.path).suffix}"
        # Files land here only by an atomic rename after their hash was checked.
        if not (cached.is_file() and cached.stat().st_size == version.size):
            self._fetch(version, cached, label)
        return _read_csv(cached, label)

    def _resolve_local_rev(self) -> tuple[Path, str]:
        repo = Path(self.source)
        if not repo.is_dir():
            raise DataError(f"data registry {repo} does not exist")
        proc = _git(["rev-parse", "--verify", "--quiet", f"{self.rev}^{{commit}}"], repo)
        if proc.returncode == 1:
            raise DataError(f"revision {self.rev!r} not found in data registry {repo}")
        if "not a git repository" in proc.stderr:
            raise DataError(f"data registry {repo} is not a git repository")
        if proc.returncode != 0:
            raise DataError(f"data registry {repo} is not usable: {_one_line(proc.stderr)}")
        return repo, proc.stdout.strip()

    def _resolve_url_rev(self) -> tuple[Path, str]:
        """Resolves with one `ls-remote` and keeps a shallow mirror of the commits it needs,
        so a check that finds no new data costs one round trip."""
        mirror = self.cache_dir / "registries" / f"{hashlib.sha256(self.repo.encode()).hexdigest()[:16]}.git"
        if not (mirror / "HEAD").is_file():
            mirror.mkdir(parents=True, exist_ok=True)
            _git(["init", "--quiet", "--bare"], mirror, error=f"could not create a git mirror in {mirror}")
        target = self.rev if _FULL_SHA.fullmatch(self.rev) else self._ls_remote(mirror)
        if _git(["cat-file", "-e", target], mirror).returncode != 0:
            fetch = ["fetch", "--quiet", "--depth=1", "--no-tags", "--no-write-fetch-head", self.repo, target]
            try:
                _git(fetch, mirror, error=f"could not fetch {self.rev} from data registry {self.repo}", timeout=300)
            except DataError as exc:
                raise DataUnavailable(str(exc)) from None
        sha = _git(["rev-parse", "--verify", f"{target}^{{commit}}"], mirror, error=f"{self.rev} is not a commit")
        return mirror, sha.stdout.strip()

    def _ls_remote(self, mirror: Path) -> str:
        error = f"data registry {self.repo} is unreachable"
        try:
            out = _git(["ls-remote", self.repo, self.rev], mirror, error=error, timeout=120).stdout
        except DataError as exc:
            raise DataUnavailable(str(exc)) from None
        refs: dict[str, str] = {}
        for line in out.splitlines():
            sha, _, name = line.partition("\t")
            refs[name] = sha
        for name in (self.rev, f"refs/heads/{self.rev}", f"refs/tags/{self.rev}"):
            if name in refs:
                return refs[name]
        raise DataError(f"revision {self.rev!r} not found in data registry {self.repo}")

    def _tracked_out_via_dvc(self, sha: str) -> tuple[str, int]:
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
            raise DataError(f"{self.path} is not tracked by DVC in {where}") from None
        except Exception as exc:
            raise DataError(f"DVC could not read {self.path} in {where}: {_one_line(str(exc))}") from exc
        md5 = (info.get("dvc_info") or {}).get("md5")
        if info.get("type") == "directory":
            raise DataError(f"{self.path} is a directory in {where}, not a CSV file")
        if not md5:
            raise DataError(f"{self.path} is in git but not tracked by DVC in {where}")
        return str(md5), int(info["size"])

    def _fetch(self, version: DatasetVersion, cached: Path, label: str) -> None:
        import dvc.api
        from dvc_data.hashfile.hash import file_md5

        self.cache_dir.mkdir(parents=True, exist_ok=True)
        fd, part = tempfile.mkstemp(dir=self.cache_dir, prefix=f".{version.md5}.", suffix=".part")
        try:
            digest = hashlib.md5(usedforsecurity=False)
            repo = self.repo if self.is_url else self.source
            with (
                os.fdopen(fd, "wb") as out,
                dvc.api.open(self.path, repo=repo, rev=version.rev, mode="rb") as src,
            ):
                while chunk := src.read(_CHUNK):
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
            raise DataUnavailable(f"could not fetch {label} from the DVC remote: {_one_line(str(exc))}") from exc
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(part)


class FileSource:
    """A plain CSV file as a source, for trying the product on a file without a registry."""

    def __init__(self, path: str | Path, *, cache_dir: Path | str | None = None) -> None:
        self.path = Path(path).expanduser().resolve()
        self.cache_dir = Path(cache_dir) if cache_dir is not None else _default_cache_dir()

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
            md5 = _file_md5(self.path)
            after = self._stat()
            if (after.st_size, after.st_mtime_ns) == (stat.st_size, stat.st_mtime_ns):
                with contextlib.suppress(OSError):
                    _write_atomic(sidecar, json.dumps({**stamp, "md5": md5}).encode())
        return DatasetVersion(source=str(self.path), path="", rev="", md5=md5, size=stat.st_size)

    def pull(self, version: DatasetVersion) -> pd.DataFrame:
        if version.source != str(self.path):
            raise DataError(f"version of {version.source} given to the source {self.path}")
        try:
            content = self.path.read_bytes()
        except OSError as exc:
            raise DataError(f"data file {self.path} cannot be read: {exc.strerror}") from None
        actual = hashlib.md5(content, usedforsecurity=False).hexdigest()
        if actual != version.md5:
            raise DataError(f"data file {self.path} changed since it was checked (md5 {version.md5} -> {actual})")
        return _read_csv(io.BytesIO(content), str(self.path))

    def _stat(self) -> os.stat_result:
        try:
            return self.path.stat()
        except OSError as exc:
            raise DataError(f"data file {self.path} cannot be read: {exc.strerror}") from None


def source_from_settings() -> DvcRegistrySource | FileSource:
    from django.conf import settings

    registry = str(settings.DATA_REGISTRY)
    cache_dir = getattr(settings, "DATA_CACHE_DIR", None)
    if not _is_git_url(registry) and registry.lower().endswith(".csv"):
        return FileSource(registry, cache_dir=cache_dir)
    return DvcRegistrySource(registry, settings.DATA_PATH, settings.DATA_REV, cache_dir)


def init_registry(repo_dir: Path, remote: str, endpoint_url: str = "") -> None:
    """Creates a git + DVC registry the way a data engineer would, so it can be handed over
    and used with plain `git` and `dvc`. Safe to call on every start; it resumes a partial one.

    `endpoint_url` points an `s3://` remote at an S3-compatible server (MinIO, ...); it is
    committed with the remote, so every reader of the registry finds the data."""
    repo = Path(repo_dir).expanduser().resolve()
    if (repo / ".dvc" / "config").is_file() and _git(
        ["rev-parse", "--verify", "--quiet", "HEAD"], repo
    ).returncode == 0:
        return
    repo.mkdir(parents=True, exist_ok=True)
    _git(["init", "--quiet", "--initial-branch=main"], repo, error=f"git init in {repo} failed")
    if not (repo / ".dvc").is_dir():
        _dvc(["init", "--quiet"], repo, error=f"dvc init in {repo} failed")
    _dvc(["config", "core.analytics", "false"], repo, error="dvc config failed")
    remote_url = remote if _is_git_url(remote) else str(Path(remote).expanduser().resolve())
    _dvc(
        ["remote", "add", "--default", "--force", _REMOTE_NAME, remote_url],
        repo,
        error="dvc remote add failed",
    )
    if endpoint_url:
        _dvc(
            ["remote", "modify", _REMOTE_NAME, "endpointurl", endpoint_url],
            repo,
            error="dvc remote modify endpointurl failed",
        )
    files = [".dvc/config", ".dvc/.gitignore", ".dvcignore"]
    _git(["add", "--", *files], repo, error="git add failed")
    commit = [
        *_identity_args(repo),
        "commit",
        "--quiet",
        "-m",
        "Initialize the DVC data registry",
        "--",
        *files,
    ]
    _git(commit, repo, error=f"git commit in {repo} failed")


def publish(repo_dir: Path | str, path: str, csv_file: Path, message: str) -> DatasetVersion:
    """Publishes a CSV as the next version of `path`. The data is pushed to the DVC remote
    before the commit is made, so no commit ever names data the remote lacks; on any failure
    nothing is committed and the workspace is put back."""
    path = _check_tracked_path(path)
    csv_file = Path(csv_file)
    _validate_csv(csv_file)
    if not _is_git_url(str(repo_dir)):
        return _publish_local(Path(repo_dir).expanduser().resolve(), path, csv_file, message)
    url = str(repo_dir)
    with tempfile.TemporaryDirectory(prefix="registry-") as tmp:
        clone = Path(tmp) / "registry"
        _git(["clone", "--quiet", url, str(clone)], Path(tmp), error=f"could not clone {url}", timeout=300)
        version = _publish_local(clone, path, csv_file, message)
        _git(["push", "--quiet", "origin", "HEAD"], clone, error=f"git push to {url} failed", timeout=300)
    return dataclasses.replace(version, source=url)


def _publish_local(repo: Path, path: str, csv_file: Path, message: str) -> DatasetVersion:
    if not repo.is_dir():
        raise DataError(f"data registry {repo} does not exist")
    if not (repo / ".dvc").is_dir():
        raise DataError(f"{repo} is not a DVC data registry (no .dvc directory)")
    head = _git(["rev-parse", "--verify", "HEAD"], repo, error=f"data registry {repo} has no commit").stdout.strip()
    current = _tracked_out(repo, head, path)
    new_md5 = _file_md5(csv_file)
    if current and current[0] == new_md5:
        raise DataError(f"{csv_file} is identical to the published version of {path} (md5 {new_md5}, {head[:12]})")
    target = repo / path
    dvc_file = f"{path}.dvc"
    gitignore = str(PurePosixPath(path).parent / ".gitignore")
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = target.with_name(f".{target.name}.publish-new")
    backup = target.with_name(f".{target.name}.publish-backup")
    backup.unlink(missing_ok=True)
    had_previous = target.is_file()
    try:
        # Replace by rename, so a workspace file hard-linked into DVC's cache is never written through.
        shutil.copyfile(csv_file, staged)
        if had_previous:
            os.replace(target, backup)
        os.replace(staged, target)
        _dvc(["add", "--quiet", path], repo, error=f"dvc add {path} failed")
        _dvc(["push", "--quiet", dvc_file], repo, error=f"dvc push of {path} to the registry's remote failed")
        _git(["add", "--", dvc_file, gitignore], repo, error="git add failed")
        commit = [*_identity_args(repo), "commit", "--quiet", "-m", message, "--", dvc_file, gitignore]
        _git(commit, repo, error=f"git commit in {repo} failed")
    except (DataError, OSError) as exc:
        _undo_publish(repo, [dvc_file, gitignore])
        staged.unlink(missing_ok=True)
        if backup.exists():
            os.replace(backup, target)
        elif not had_previous:
            target.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise DataError(f"could not write {target}: {exc.strerror}") from None
        raise
    backup.unlink(missing_ok=True)
    sha = _git(["rev-parse", "HEAD"], repo).stdout.strip()
    recorded = _tracked_out(repo, sha, path)
    if recorded is None:
        raise DataError(f"commit {sha[:12]} in {repo} does not track {path}")
    return DatasetVersion(source=str(repo), path=path, rev=sha, md5=recorded[0], size=recorded[1])


def _undo_publish(repo: Path, files: list[str]) -> None:
    """Puts the registry's git files back as HEAD has them, whatever step failed."""
    _git(["reset", "--quiet", "--", *files], repo)
    tracked = _git(["ls-tree", "--name-only", "HEAD", "--", *files], repo).stdout.splitlines()
    for name in files:
        if name in tracked:
            _git(["checkout", "--quiet", "HEAD", "--", name], repo)
        else:
            (repo / name).unlink(missing_ok=True)


def _tracked_out(git_dir: Path, sha: str, path: str) -> tuple[str, int] | None:
    """DVC's md5 and size for `path` from its `.dvc` file at a commit; None if there is none."""
    from ruamel.yaml import YAML, YAMLError

    proc = _git(["cat-file", "-p", f"{sha}:{path}.dvc"], git_dir)
    if proc.returncode != 0:
        return None
    where = f"{path}.dvc at {sha[:12]}"
    try:
        doc = YAML(typ="safe").load(proc.stdout)
    except YAMLError as exc:
        raise DataError(f"{where} is not valid YAML: {_one_line(str(exc))}") from None
    name = PurePosixPath(path).name
    outs = doc.get("outs") if isinstance(doc, dict) else None
    out = next((o for o in outs or [] if isinstance(o, dict) and o.get("path") == name), None)
    if out is None or not out.get("md5") or out.get("size") is None:
        raise DataError(f"{where} records no md5 and size for {name}")
    if str(out["md5"]).endswith(".dir"):
        raise DataError(f"{path} is a directory in DVC ({where}), not a CSV file")
    return str(out["md5"]), int(out["size"])


def _read_csv(source: Path | IO[bytes], label: str) -> pd.DataFrame:
    with _csv_errors(label):
        frame = pd.read_csv(source)
    if len(frame) == 0:
        raise DataError(f"{label} has a header but no rows")
    return frame


def _validate_csv(csv_file: Path) -> None:
    """Parses the whole file in chunks, so publishing a large file needs little memory."""
    if not csv_file.is_file():
        raise DataError(f"{csv_file} does not exist or is not a file")
    rows = 0
    with _csv_errors(str(csv_file)), pd.read_csv(csv_file, chunksize=_CSV_CHUNK_ROWS) as chunks:
        for chunk in chunks:
            rows += len(chunk)
    if rows == 0:
        raise DataError(f"{csv_file} has a header but no rows")


@contextlib.contextmanager
def _csv_errors(label: str) -> Iterator[None]:
    try:
        yield
    except pd.errors.EmptyDataError:
        raise DataError(f"{label} is empty: a CSV needs a header and at least one row") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{label} is not a valid CSV file: {_one_line(str(exc))}") from None


def _git(
    args: list[str], cwd: Path, *, error: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return _run(["git", *args], cwd, error=error, timeout=timeout)


def _dvc(args: list[str], cwd: Path, *, error: str) -> subprocess.CompletedProcess[str]:
    return _run([*_dvc_command(), *args], cwd, error=error, timeout=None)


def _run(cmd: list[str], cwd: Path, *, error: str | None, timeout: float | None) -> subprocess.CompletedProcess[str]:
    """Runs git or dvc confined to `cwd`: without the caller's repository variables and with a
    ceiling, so a registry path that is not a repository is never mistaken for an enclosing one."""
    if not cwd.is_dir():
        raise DataError(f"{error or cmd[0]}: {cwd} does not exist")
    env = {key: value for key, value in os.environ.items() if key not in _REPO_LOCATION_VARS}
    env.update(DVC_NO_ANALYTICS="1", GIT_TERMINAL_PROMPT="0", GIT_CEILING_DIRECTORIES=str(cwd.parent))
    try:
        proc = subprocess.run(
            cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except FileNotFoundError:
        raise DataError(f"{error or cmd[0]}: {cmd[0]} is not installed") from None
    except subprocess.TimeoutExpired:
        raise DataError(f"{error or cmd[0]}: no answer after {timeout:.0f} s") from None
    if error is not None and proc.returncode != 0:
        raise DataError(f"{error}: {_one_line(proc.stderr or proc.stdout)}")
    return proc


def _dvc_command() -> list[str]:
    beside_python = Path(sys.executable).with_name("dvc")
    if beside_python.is_file():
        return [str(beside_python)]
    on_path = shutil.which("dvc")
    return [on_path] if on_path else [sys.executable, "-m", "dvc"]


def _identity_args(repo: Path) -> list[str]:
    """Lets commits work on a machine with no git identity, without overriding a configured one."""
    configured = _git(["config", "--get-regexp", r"^user\.(name|email)$"], repo).stdout
    present = {line.split(" ", 1)[0] for line in configured.splitlines()}
    return [arg for key, value in _FALLBACK_IDENTITY.items() if key not in present for arg in ("-c", f"{key}={value}")]


def _is_git_url(value: str) -> bool:
    return "://" in value or bool(_SCP_LIKE_URL.match(value))


def _check_tracked_path(path: str) -> str:
    pure = PurePosixPath(path)
    if not path or pure.is_absolute() or ".." in pure.parts or str(pure) == ".":
        raise DataError(f"dataset path {path!r} must be a file path relative to the registry root")
    return str(pure)


def _default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "retraining-data"


def _file_md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _write_atomic(target: Path, content: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, part = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.replace(part, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(part)


def _one_line(text: str) -> str:
    """The line of a tool's output that says what went wrong, without the tool's prefix."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return "no details given"
    flagged = [line for line in lines if re.match(r"(ERROR|error|fatal):", line)]
    return re.sub(r"^(ERROR|error|fatal):\s*", "", flagged[0] if flagged else lines[0])
