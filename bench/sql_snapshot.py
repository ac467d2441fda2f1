"""Peak Python memory of snapshotting a SQL table into a registry, chunked as the source does.

Builds a SQLite table of --rows rows (an id, three numbers, a text column) in a temporary folder,
then snapshots it through `SqlSource` into a fresh git + DVC registry, tracing Python allocations
(tracemalloc) during the read and the Parquet write; prints rows, seconds, peak MiB and the
Parquet file's size, for each --chunk given. Then the check that follows (nothing changed).

    .venv/bin/python bench/sql_snapshot.py --rows 1000000 --chunk 50000 --chunk 1000000
"""

import argparse
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from retraining.data import DvcRegistrySource, init_registry
from retraining.data.sql import SqlSource


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, action="append")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sql-bench-") as tmp:
        root = Path(tmp)
        url = f"sqlite:///{root / 'team.db'}"
        engine = sa.create_engine(url)
        rng = np.random.default_rng(0)
        for start in range(0, args.rows, 200_000):
            size = min(200_000, args.rows - start)
            pd.DataFrame(
                {
                    "id": np.arange(start, start + size),
                    "a": rng.normal(size=size),
                    "b": rng.normal(size=size),
                    "c": rng.integers(0, 100, size=size),
                    "label": rng.choice(["yes", "no", "maybe"], size=size),
                }
            ).to_sql("rows", engine, index=False, if_exists="append")
        engine.dispose()
        for chunk in args.chunk or [50_000]:
            repo = root / f"registry-{chunk}"
            init_registry(repo, str(root / f"remote-{chunk}"))
            into = DvcRegistrySource(repo, "data/rows.parquet", cache_dir=root / "cache")
            source = SqlSource(url, into, table="rows", watermark="id", chunk_rows=chunk)
            tracemalloc.start()
            began = time.perf_counter()
            version = source.version()
            took = time.perf_counter() - began
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
            began = time.perf_counter()
            assert source.version() == version
            check = time.perf_counter() - began
            print(
                f"rows {args.rows}  chunk {chunk}: snapshot {took:.1f} s, peak {peak:.0f} MiB, "
                f"Parquet {version.size / 2**20:.1f} MiB; unchanged check {check * 1000:.0f} ms"
            )


if __name__ == "__main__":
    main()
