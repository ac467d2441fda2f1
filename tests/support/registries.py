"""A real git + DVC data registry for the data edge's tests, and small git helpers."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from retraining.data import DatasetVersion, DvcRegistrySource, init_registry, publish

PATH = "data/penguins.csv"


@dataclass(frozen=True)
class Registry:
    repo: Path
    remote: Path
    first: DatasetVersion
    second: DatasetVersion
    seen_before_second: DatasetVersion


def write_csv(path: Path, rows: int, start: int = 0) -> Path:
    frame = pd.DataFrame({"bill_length_mm": [float(start + i) for i in range(rows)], "species": "Adelie"})
    frame.to_csv(path, index=False)
    return path


def git(repo: Path, *args: str) -> str:
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    return subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True).stdout


def commits(repo: Path) -> list[str]:
    return git(repo, "log", "--format=%H").split()


def remote_object(remote: Path, md5: str) -> Path:
    return remote / "files" / "md5" / md5[:2] / md5[2:]


def build_registry(root: Path) -> Registry:
    """Two published versions (3 rows, then 5), then the workspace copy and DVC's local cache
    deleted: from here on, the data exists only on the remote."""
    repo, remote = root / "registry", root / "remote"
    init_registry(repo, str(remote))
    first = publish(repo, PATH, write_csv(root / "v1.csv", rows=3), "First version")
    seen_before_second = DvcRegistrySource(repo, PATH).version()
    second = publish(repo, PATH, write_csv(root / "v2.csv", rows=5), "Second version")
    (repo / PATH).unlink()
    shutil.rmtree(repo / ".dvc" / "cache")
    return Registry(repo, remote, first, second, seen_before_second)


def build_folder_registry(root: Path, days: dict[str, pd.DataFrame]) -> Path:
    """A registry whose `data` folder of daily files is tracked by DVC as one directory, as a team
    keeps it (`dvc add data`); the data is on the remote and in the registry's workspace."""
    repo = root / "registry"
    init_registry(repo, str(root / "remote"))
    add_days(repo, days)
    return repo


def add_days(repo: Path, days: dict[str, pd.DataFrame]) -> str:
    """Writes each file into the tracked `data` folder, then `dvc add`, `dvc push` and a commit."""
    from retraining.data.vcs import dvc

    (repo / "data").mkdir(exist_ok=True)
    for name, frame in days.items():
        if name.endswith(".parquet"):
            frame.to_parquet(repo / "data" / name, index=False)
        else:
            frame.to_csv(repo / "data" / name, index=False)
    dvc(["add", "--quiet", "data"], repo, error="dvc add data failed")
    dvc(["push", "--quiet"], repo, error="dvc push failed")
    git(repo, "add", "data.dvc", ".gitignore")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "--quiet", "-m", f"Add {', '.join(days)}")
    return git(repo, "rev-parse", "HEAD").strip()
