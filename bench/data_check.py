"""How long checking the data registry for new data takes, for a small and a large dataset.

The pipeline's "no new data -> skipped" path costs one `DvcRegistrySource.version()`, which reads
DVC's metadata and never the data: its cost must not grow with the dataset. This script builds two
real git + DVC registries (local-directory remotes) in a temporary folder, one holding a ~1 MB CSV
and one a ~500 MB CSV, times `version()` on both (median of 20 calls, a fresh source object each
call, as a scheduled check would), times one cold `pull()` of the small one, and deletes the folder.

The large file repeats one block of synthetic rows: formatting 500 MB of distinct numbers would
take a minute and changes nothing here, since DVC and git only see bytes and a hash.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
CALLS = 20
DATA_PATH = "data/penguins.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small-mb", type=float, default=1.0)
    parser.add_argument("--large-mb", type=float, default=500.0)
    args = parser.parse_args()
    print(f"reproduce: cd {ROOT} && {sys.executable} bench/data_check.py", flush=True)

    sys.path.insert(0, str(ROOT))
    from retraining.data import DvcRegistrySource, init_registry, publish

    work = Path(tempfile.mkdtemp(prefix="bench-data-check-"))
    try:
        sources = {}
        for label, megabytes in (("small", args.small_mb), ("large", args.large_mb)):
            csv_file = write_csv(work / f"{label}.csv", int(megabytes * 1e6))
            repo = work / f"{label}-registry"
            init_registry(repo, str(work / f"{label}-remote"))
            started = time.perf_counter()
            version = publish(repo, DATA_PATH, csv_file, f"Publish the {label} dataset")
            print(
                f"published {label}: {version.size / 1e6:.1f} MB in {time.perf_counter() - started:.1f} s", flush=True
            )
            sources[label] = (repo, version.size)

        def check(repo: Path) -> Callable[[], object]:
            return lambda: DvcRegistrySource(repo, DATA_PATH).version()

        small_repo, small_size = sources["small"]
        large_repo, large_size = sources["large"]
        small = median_seconds(check(small_repo))
        large = median_seconds(check(large_repo))

        shutil.rmtree(small_repo / ".dvc" / "cache")
        source = DvcRegistrySource(small_repo, DATA_PATH, cache_dir=work / "pull-cache")
        version = source.version()
        started = time.perf_counter()
        rows = len(source.pull(version))
        cold = time.perf_counter() - started
        started = time.perf_counter()
        source.pull(version)
        warm = time.perf_counter() - started

        print()
        print(f"{'measure':<44} {'dataset':>10} {'time':>10}")
        row(f"version(), median of {CALLS}", small_size, small)
        row(f"version(), median of {CALLS}", large_size, large)
        print(f"{'version() ratio large / small (medians)':<44} {'':>10} {large / small:>9.2f}x")
        row(f"pull() cold: remote, imports dvc ({rows} rows)", small_size, cold)
        row("pull() again, from the cache dir", small_size, warm)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def row(measure: str, size: int, seconds: float) -> None:
    print(f"{measure:<44} {size / 1e6:>7.1f} MB {seconds * 1e3:>7.1f} ms")


def write_csv(path: Path, target_bytes: int) -> Path:
    rng = np.random.default_rng(7)
    rows = 50_000
    block = pd.DataFrame(
        {
            "bill_length_mm": rng.normal(44, 5, rows).round(1),
            "bill_depth_mm": rng.normal(17, 2, rows).round(1),
            "flipper_length_mm": rng.integers(170, 232, rows),
            "body_mass_g": rng.integers(2700, 6300, rows),
            "species": rng.choice(["Adelie", "Chinstrap", "Gentoo"], rows),
        }
    )
    header = block.head(0).to_csv(index=False).encode()
    body = block.to_csv(index=False, header=False).encode()
    with path.open("wb") as out:
        out.write(header)
        written = len(header)
        while written + len(body) <= target_bytes:
            out.write(body)
            written += len(body)
        for line in body.splitlines(keepends=True):
            if written >= target_bytes:
                break
            out.write(line)
            written += len(line)
    return path


def median_seconds(call: Callable[[], object]) -> float:
    """After one warm-up call: a serving process pays its imports once, not on every check."""
    call()
    timings = []
    for _ in range(CALLS):
        started = time.perf_counter()
        call()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


if __name__ == "__main__":
    main()
