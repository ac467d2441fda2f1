"""The demo dataset: Palmer penguins, published to the registry in growing batches.

Batches let a fresh install show the whole loop (new data found, challenger trained, compared,
deployed) without any download: `palmerpenguins` ships the rows. The package lists them grouped by
species, so they are shuffled with a fixed seed first: every batch then holds all three species,
and the batches are the same on every machine.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from retraining.data import DataError, DatasetVersion, DvcRegistrySource, init_registry, publish

DEMO_BATCHES = 3
_BATCH_FRACTIONS = (0.6, 0.8, 1.0)
_SHUFFLE_SEED = 7


def demo_frame(batch: int) -> pd.DataFrame:
    if not 1 <= batch <= DEMO_BATCHES:
        raise ValueError(f"demo batch must be between 1 and {DEMO_BATCHES}, got {batch}")
    return _shuffled_penguins().head(_batch_rows(batch)).copy()


def ensure_demo_registry(repo_dir: Path, remote: str, path: str, endpoint_url: str = "") -> DatasetVersion | None:
    """Also finishes a registry whose first start stopped before batch 1 was published."""
    init_registry(repo_dir, remote, endpoint_url)
    try:
        DvcRegistrySource(repo_dir, path, rev="HEAD").version()
    except DataError:
        return _publish_batch(repo_dir, path, 1)
    return None


def publish_next_demo_batch(repo_dir: Path, path: str) -> DatasetVersion:
    published = _published_rows(Path(repo_dir) / path)
    sizes = [_batch_rows(batch) for batch in range(1, DEMO_BATCHES + 1)]
    if published not in sizes:
        raise DataError(f"{path} has {published} rows, which is no demo batch ({sizes}); publish a CSV instead")
    current = sizes.index(published) + 1
    if current == DEMO_BATCHES:
        raise DataError(f"all {DEMO_BATCHES} demo batches are already published ({published} rows)")
    return _publish_batch(repo_dir, path, current + 1)


@functools.cache
def _shuffled_penguins() -> pd.DataFrame:
    from palmerpenguins import load_penguins

    penguins = load_penguins()
    order = np.random.default_rng(_SHUFFLE_SEED).permutation(len(penguins))
    return penguins.iloc[order].reset_index(drop=True)


def _batch_rows(batch: int) -> int:
    return round(len(_shuffled_penguins()) * _BATCH_FRACTIONS[batch - 1])


def _published_rows(csv_file: Path) -> int:
    """Reads the registry's workspace copy: the demo registry is ours, so it is the current version."""
    try:
        return len(pd.read_csv(csv_file))
    except FileNotFoundError:
        raise DataError(f"{csv_file} is missing; restore it with `dvc checkout` in the registry") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{csv_file} is not a valid CSV file: {str(exc).strip()}") from None


def _publish_batch(repo_dir: Path, path: str, batch: int) -> DatasetVersion:
    frame = demo_frame(batch)
    with tempfile.TemporaryDirectory(prefix="demo-batch-") as tmp:
        csv_file = Path(tmp) / Path(path).name
        frame.to_csv(csv_file, index=False)
        message = f"Publish demo penguins, batch {batch} of {DEMO_BATCHES} ({len(frame)} rows)"
        return publish(repo_dir, path, csv_file, message)
