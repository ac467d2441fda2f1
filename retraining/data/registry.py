"""The data registry itself: creating one, and publishing a new version of a dataset into it."""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from ml.redact import redact
from retraining.data.base import DataError, DatasetVersion, check_tracked_path, file_md5
from retraining.data.formats import format_for
from retraining.data.vcs import dvc, git, identity_args, is_git_url, tracked_out

_REMOTE_NAME = "storage"


def init_registry(repo_dir: Path, remote: str, endpoint_url: str = "") -> None:
    """Creates a git + DVC registry the way a data engineer would, so it can be handed over
    and used with plain `git` and `dvc`. Safe to call on every start; it resumes a partial one.

    `endpoint_url` points an `s3://` remote at an S3-compatible server (MinIO, ...); it is
    committed with the remote, so every reader of the registry finds the data."""
    repo = Path(repo_dir).expanduser().resolve()
    if (repo / ".dvc" / "config").is_file() and git(["rev-parse", "--verify", "--quiet", "HEAD"], repo).returncode == 0:
        return
    repo.mkdir(parents=True, exist_ok=True)
    git(["init", "--quiet", "--initial-branch=main"], repo, error=f"git init in {repo} failed")
    if not (repo / ".dvc").is_dir():
        dvc(["init", "--quiet"], repo, error=f"dvc init in {repo} failed")
    dvc(["config", "core.analytics", "false"], repo, error="dvc config failed")
    remote_url = remote if is_git_url(remote) else str(Path(remote).expanduser().resolve())
    dvc(
        ["remote", "add", "--default", "--force", _REMOTE_NAME, remote_url],
        repo,
        error="dvc remote add failed",
    )
    if endpoint_url:
        dvc(
            ["remote", "modify", _REMOTE_NAME, "endpointurl", endpoint_url],
            repo,
            error="dvc remote modify endpointurl failed",
        )
    files = [".dvc/config", ".dvc/.gitignore", ".dvcignore"]
    git(["add", "--", *files], repo, error="git add failed")
    commit = [
        *identity_args(repo),
        "commit",
        "--quiet",
        "-m",
        "Initialize the DVC data registry",
        "--",
        *files,
    ]
    git(commit, repo, error=f"git commit in {repo} failed")


def publish(
    repo_dir: Path | str, path: str, csv_file: Path, message: str, sidecars: Mapping[str, str] | None = None
) -> DatasetVersion:
    """Publishes a file as the next version of `path`, checked first in the format of `path`'s suffix.
    The data is pushed to the DVC remote before the commit is made, so no commit ever names data
    the remote lacks; on any failure nothing is committed and the workspace is put back.

    `sidecars` (path in the registry: text) are small files kept in git itself, committed with the
    data so that what is said of a version (its provenance) cannot be separated from it."""
    sidecars = dict(sidecars or {})
    for name in sidecars:
        check_tracked_path(name)
    path = check_tracked_path(path)
    if any(c in path for c in "*?["):
        folder = path.split("/")[0]
        raise DataError(f"{path} is a glob: a file is published into its folder ({folder}), not into a glob")
    csv_file = Path(csv_file)
    into_folder = not PurePosixPath(path).suffix
    if into_folder:
        # A folder of files (DATA_PATH=data): the file is added to it under its own name.
        format_for(csv_file).validate(csv_file)
    else:
        format_for(path).validate(csv_file)
    publish_local = _publish_into_folder if into_folder else _publish_local
    if not is_git_url(str(repo_dir)):
        return publish_local(Path(repo_dir).expanduser().resolve(), path, csv_file, message, sidecars)
    url = str(repo_dir)
    with tempfile.TemporaryDirectory(prefix="registry-") as tmp:
        clone = Path(tmp) / "registry"
        git(["clone", "--quiet", url, str(clone)], Path(tmp), error=f"could not clone {url}", timeout=300)
        version = publish_local(clone, path, csv_file, message, sidecars)
        git(["push", "--quiet", "origin", "HEAD"], clone, error=f"git push to {url} failed", timeout=300)
    return dataclasses.replace(version, source=url)


def _publish_local(repo: Path, path: str, csv_file: Path, message: str, sidecars: dict[str, str]) -> DatasetVersion:
    if not repo.is_dir():
        raise DataError(f"data registry {repo} does not exist")
    if not (repo / ".dvc").is_dir():
        raise DataError(f"{repo} is not a DVC data registry (no .dvc directory)")
    head = git(["rev-parse", "--verify", "HEAD"], repo, error=f"data registry {repo} has no commit").stdout.strip()
    current = tracked_out(repo, head, path)
    new_md5 = file_md5(csv_file)
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
        _add_push_commit(repo, path, message, sidecars)
    except (DataError, OSError) as exc:
        _undo_publish(repo, [dvc_file, gitignore, *sidecars])
        staged.unlink(missing_ok=True)
        if backup.exists():
            os.replace(backup, target)
        elif not had_previous:
            target.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise DataError(f"could not write {target}: {exc.strerror}") from None
        raise
    backup.unlink(missing_ok=True)
    sha = git(["rev-parse", "HEAD"], repo).stdout.strip()
    recorded = tracked_out(repo, sha, path)
    if recorded is None:
        raise DataError(f"commit {sha[:12]} in {repo} does not track {path}")
    return DatasetVersion(source=redact(str(repo)), path=path, rev=sha, md5=recorded[0], size=recorded[1])


def _publish_into_folder(
    repo: Path, folder: str, new_file: Path, message: str, sidecars: dict[str, str]
) -> DatasetVersion:
    """Adds a file to a DVC-tracked folder: the folder is checked out whole first (else `dvc add`
    would record it without the files the workspace lacks), then added, pushed and committed."""
    if not repo.is_dir():
        raise DataError(f"data registry {repo} does not exist")
    if not (repo / ".dvc").is_dir():
        raise DataError(f"{repo} is not a DVC data registry (no .dvc directory)")
    target = repo / folder / new_file.name
    dvc_file = f"{folder}.dvc"
    gitignore = str(PurePosixPath(folder).parent / ".gitignore")
    if (repo / dvc_file).is_file():
        dvc(["pull", "--quiet", dvc_file], repo, error=f"dvc pull of {folder} from the registry's remote failed")
    if target.exists():
        raise DataError(f"{folder} already holds a file named {new_file.name}: a new day's file needs a new name")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        shutil.copyfile(new_file, target)
        _add_push_commit(repo, folder, message, sidecars)
    except (DataError, OSError) as exc:
        _undo_publish(repo, [dvc_file, gitignore, *sidecars])
        target.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise DataError(f"could not write {target}: {exc.strerror}") from None
        raise
    sha = git(["rev-parse", "HEAD"], repo).stdout.strip()
    recorded = tracked_out(repo, sha, folder, directory=True)
    if recorded is None:
        raise DataError(f"commit {sha[:12]} in {repo} does not track {folder}")
    return DatasetVersion(source=redact(str(repo)), path=folder, rev=sha, md5=recorded[0], size=recorded[1])


def _add_push_commit(repo: Path, path: str, message: str, sidecars: dict[str, str]) -> None:
    """`dvc add` a file or folder, push its data to the remote, commit its .dvc file and .gitignore
    (and the sidecars, written now)."""
    dvc_file = f"{path}.dvc"
    gitignore = str(PurePosixPath(path).parent / ".gitignore")
    dvc(["add", "--quiet", path], repo, error=f"dvc add {path} failed")
    dvc(["push", "--quiet", dvc_file], repo, error=f"dvc push of {path} to the registry's remote failed")
    for name, text in sidecars.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text, encoding="utf-8")
    files = [dvc_file, gitignore, *sidecars]
    git(["add", "--", *files], repo, error="git add failed")
    commit = [*identity_args(repo), "commit", "--quiet", "-m", message, "--", *files]
    git(commit, repo, error=f"git commit in {repo} failed")


def read_sidecars(repo_dir: Path | str, folder: str) -> dict[str, str]:
    """The text of each file in `folder` of the registry's newest commit ({} when there is none):
    what earlier publications committed beside their data."""
    folder = check_tracked_path(folder)
    if not is_git_url(str(repo_dir)):
        return _sidecars_at_head(Path(repo_dir).expanduser().resolve(), folder)
    url = str(repo_dir)
    with tempfile.TemporaryDirectory(prefix="registry-") as tmp:
        clone = Path(tmp) / "registry"
        git(
            ["clone", "--quiet", "--depth", "1", url, str(clone)],
            Path(tmp),
            error=f"could not clone {url}",
            timeout=300,
        )
        return _sidecars_at_head(clone, folder)


def _sidecars_at_head(repo: Path, folder: str) -> dict[str, str]:
    if not repo.is_dir():
        raise DataError(f"data registry {repo} does not exist")
    listed = git(["ls-tree", "--name-only", "HEAD", f"{folder}/"], repo)
    texts = {}
    for name in listed.stdout.splitlines() if listed.returncode == 0 else []:
        texts[name] = git(["show", f"HEAD:{name}"], repo, error=f"could not read {name} in {repo}").stdout
    return texts


def _undo_publish(repo: Path, files: list[str]) -> None:
    """Puts the registry's git files back as HEAD has them, whatever step failed."""
    git(["reset", "--quiet", "--", *files], repo)
    tracked = git(["ls-tree", "--name-only", "HEAD", "--", *files], repo).stdout.splitlines()
    for name in files:
        if name in tracked:
            git(["checkout", "--quiet", "HEAD", "--", name], repo)
        else:
            (repo / name).unlink(missing_ok=True)
