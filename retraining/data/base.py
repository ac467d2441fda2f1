"""What every part of the data edge shares: its errors, a dataset version, paths and hashes."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ml.redact import redact

CHUNK = 1 << 20


class DataError(Exception):
    """A dataset could not be checked, fetched, read or published; the message names why."""

    def __init__(self, message: str) -> None:
        # Messages quote the registry, the remote and what git or DVC said: credentials masked.
        super().__init__(redact(message))


class BadData(DataError):
    """The data itself is unfit to read (not in its format, no rows, a column named twice): reject it."""


class NotTracked(DataError):
    """The dataset's path is not tracked at a commit (one made before it was first published)."""


class DataUnavailable(DataError):
    """The registry or its DVC remote did not answer: worth trying again later, unlike bad data."""


@dataclass(frozen=True)
class DatasetVersion:
    source: str
    path: str
    rev: str
    md5: str
    # None when DVC does not record it (a file inside a tracked folder): unknown, never guessed.
    size: int | None
    # The data's schema file as git (or its md5, beside a plain file) knows it; None without one.
    # A changed declaration reads the same bytes differently, so it is new data too.
    schema: str | None = None

    def as_dict(self) -> dict[str, str | int | None]:
        return dataclasses.asdict(self)

    def same_data(self, recorded: dict) -> bool:
        """Whether a version recorded as a dict (a run's dataset, a deployment's data_version) is
        this one: the same data, read under the same schema file."""
        return recorded.get("md5") == self.md5 and recorded.get("schema") == self.schema


def check_tracked_path(path: str) -> str:
    pure = PurePosixPath(path)
    if not path or pure.is_absolute() or ".." in pure.parts or str(pure) == ".":
        raise DataError(f"dataset path {path!r} must be a file path relative to the registry root")
    return str(pure)


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "retraining-data"


def file_md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_atomic(target: Path, content: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, part = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.replace(part, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(part)


def one_line(text: str) -> str:
    """The line of a tool's output that says what went wrong, without the tool's prefix."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return "no details given"
    flagged = [line for line in lines if re.match(r"(ERROR|error|fatal):", line)]
    # Tools quote the URL they failed on, credentials included.
    return redact(re.sub(r"^(ERROR|error|fatal):\s*", "", flagged[0] if flagged else lines[0]))
