"""git and dvc as subprocesses, confined to the repository they are pointed at."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath

from ml.redact import redact
from retraining.data.base import DataError, one_line

_SCP_LIKE_URL = re.compile(r"^[\w.-]+@[\w.-]+:")
# SQLAlchemy's dialect names (and the `postgres` Heroku writes): never a git transport.
_DATABASE_SCHEMES = frozenset(
    {"postgres", "postgresql", "mysql", "mariadb", "sqlite", "mssql", "oracle", "cockroachdb", "redshift", "duckdb"}
)
_FALLBACK_IDENTITY = {"user.name": "retraining", "user.email": "retraining@localhost"}
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


def git(
    args: list[str], cwd: Path, *, error: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return _run(["git", *args], cwd, error=error, timeout=timeout)


def dvc(args: list[str], cwd: Path, *, error: str) -> subprocess.CompletedProcess[str]:
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
        # git and DVC quote the remote they failed to reach, credentials included.
        raise DataError(redact(f"{error}: {one_line(proc.stderr or proc.stdout)}"))
    return proc


def _dvc_command() -> list[str]:
    beside_python = Path(sys.executable).with_name("dvc")
    if beside_python.is_file():
        return [str(beside_python)]
    on_path = shutil.which("dvc")
    return [on_path] if on_path else [sys.executable, "-m", "dvc"]


def identity_args(repo: Path) -> list[str]:
    """Lets commits work on a machine with no git identity, without overriding a configured one."""
    configured = git(["config", "--get-regexp", r"^user\.(name|email)$"], repo).stdout
    present = {line.split(" ", 1)[0] for line in configured.splitlines()}
    return [arg for key, value in _FALLBACK_IDENTITY.items() if key not in present for arg in ("-c", f"{key}={value}")]


def is_git_url(value: str) -> bool:
    return "://" in value or bool(_SCP_LIKE_URL.match(value))


def is_database_url(value: str) -> bool:
    """A SQLAlchemy database URL (`postgres://`, `postgresql+psycopg://`, `sqlite:///`): git would
    take it for a remote helper it lacks and fail as if the registry were down."""
    scheme, separator, _ = value.partition("://")
    return bool(separator) and scheme.split("+")[0].lower() in _DATABASE_SCHEMES


DATABASE_URL_IN_REGISTRY = (
    "DATA_REGISTRY={url} is a database URL, not a git + DVC data registry: set DATA_SOURCE_URL to the "
    "database (with DATA_TABLE or DATA_QUERY), and leave DATA_REGISTRY unset or a git URL; "
    "the database is snapshotted into the registry"
)


def tracked_out(git_dir: Path, sha: str, path: str, *, directory: bool = False) -> tuple[str, int] | None:
    """DVC's md5 and size for `path` from its `.dvc` file at a commit; None if there is none.
    A tracked folder is refused unless `directory` is asked for (its md5 ends in `.dir`)."""
    from ruamel.yaml import YAML, YAMLError

    proc = git(["cat-file", "-p", f"{sha}:{path}.dvc"], git_dir)
    if proc.returncode != 0:
        return None
    where = f"{path}.dvc at {sha[:12]}"
    try:
        doc = YAML(typ="safe").load(proc.stdout)
    except YAMLError as exc:
        raise DataError(f"{where} is not valid YAML: {one_line(str(exc))}") from None
    name = PurePosixPath(path).name
    outs = doc.get("outs") if isinstance(doc, dict) else None
    out = next((o for o in outs or [] if isinstance(o, dict) and o.get("path") == name), None)
    if out is None or not out.get("md5") or out.get("size") is None:
        raise DataError(f"{where} records no md5 and size for {name}")
    if str(out["md5"]).endswith(".dir") != directory:
        if directory:
            raise DataError(f"{path} is a file in DVC ({where}), not a folder")
        raise DataError(
            f"{path} is a folder in DVC ({where}), not a data file: name it without a suffix or with a glob"
        )
    return str(out["md5"]), int(out["size"])
