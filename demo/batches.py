"""The demo data registry: a demo dataset (demo.datasets) published in growing batches.

Batches let a fresh install show the whole loop (new data found, challenger trained, compared,
deployed or kept) without any download. Which dataset is the DEMO_DATASET setting's choice.

The demo's DATA_PATH names a folder (data/churn), as a team's daily exports would: each batch is
a partition file holding the rows it adds (batch-2.csv: rows 201 to 2,000), read in name order as
the same rows the whole batch holds, and labelled traffic (manage.py publish_feedback) becomes one
more partition beside them. A DATA_PATH naming one file gets each whole batch as its next version.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
from django.conf import settings

from demo import datasets
from retraining.data import DataError, DatasetVersion, DvcRegistrySource, init_registry, publish
from retraining.data.folder import FolderSource, names_a_folder

DEMO_BATCHES = datasets.BATCHES


def demo_frame(batch: int, dataset: str | None = None) -> pd.DataFrame:
    return datasets.batch(dataset or settings.DEMO_DATASET, batch)


def ensure_demo_registry(
    repo_dir: Path, remote: str, path: str, endpoint_url: str = "", dataset: str | None = None
) -> DatasetVersion | None:
    """Also finishes a registry whose first start stopped before batch 1 was published."""
    init_registry(repo_dir, remote, endpoint_url)
    source = FolderSource if names_a_folder(path) else DvcRegistrySource
    try:
        source(repo_dir, path, rev="HEAD").version()
    except DataError:
        return _publish_batch(repo_dir, path, 1, dataset or settings.DEMO_DATASET)
    return None


def publish_next_demo_batch(repo_dir: Path, path: str, dataset: str | None = None) -> DatasetVersion:
    dataset = dataset or settings.DEMO_DATASET
    if names_a_folder(path):
        current = _published_partitions(Path(repo_dir) / path)
        if current == DEMO_BATCHES:
            raise DataError(f"all {DEMO_BATCHES} demo batches are already published ({_partition(current)} in {path})")
        return _publish_batch(repo_dir, path, current + 1, dataset)
    published = _published_rows(Path(repo_dir) / path)
    sizes = list(datasets.batch_sizes(dataset))
    if published not in sizes:
        raise DataError(
            f"{path} has {published} rows, which is no {dataset} demo batch ({sizes}); publish a CSV instead"
        )
    current = sizes.index(published) + 1
    if current == DEMO_BATCHES:
        raise DataError(f"all {DEMO_BATCHES} demo batches are already published ({published} rows)")
    return _publish_batch(repo_dir, path, current + 1, dataset)


def _partition(batch: int) -> str:
    return f"batch-{batch}.csv"


def _published_partitions(folder: Path) -> int:
    """The newest demo batch in the registry's workspace copy of the folder (0 when none): files of
    other names (labelled traffic) are not batches."""
    return max((n for n in range(1, DEMO_BATCHES + 1) if (folder / _partition(n)).is_file()), default=0)


def _published_rows(csv_file: Path) -> int:
    """Reads the registry's workspace copy: the demo registry is ours, so it is the current version."""
    try:
        return len(pd.read_csv(csv_file))
    except FileNotFoundError:
        raise DataError(f"{csv_file} is missing; restore it with `dvc checkout` in the registry") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{csv_file} is not a valid CSV file: {str(exc).strip()}") from None


def _publish_batch(repo_dir: Path, path: str, batch: int, dataset: str) -> DatasetVersion:
    frame = demo_frame(batch, dataset)
    into_folder = names_a_folder(path)
    if into_folder and batch > 1:
        frame = frame.iloc[len(demo_frame(batch - 1, dataset)) :]
    with tempfile.TemporaryDirectory(prefix="demo-batch-") as tmp:
        csv_file = Path(tmp) / (_partition(batch) if into_folder else Path(path).name)
        frame.to_csv(csv_file, index=False)
        rows = f"{len(frame)} rows" + (f" as {csv_file.name}" if into_folder else "")
        message = f"Publish demo {dataset}, batch {batch} of {DEMO_BATCHES} ({rows})"
        return publish(repo_dir, path, csv_file, message)
