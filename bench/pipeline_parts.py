"""The pipeline's own per-row work on a large frame, each part timed alone (no world to build).

On bench/pipeline.py's synthetic rows: the row-hash split, prepare_features (a copy of the
training features), and the MLflow signature as log_model infers it (on signature_rows) and as it
was inferred before (on every training row). Peak RSS of this process at the end.
Usage: .venv/bin/python bench/pipeline_parts.py --rows 1200000
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_200_000)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from mlflow.models import infer_signature
    from pipeline import synthetic

    from predictor.registry import signature_rows
    from retraining.steps.split import split
    from retraining.steps.train import prepare_features

    frame = synthetic(args.rows, seed=1)
    print(f"{args.rows} rows, {frame.memory_usage(deep=True).sum() / 2**20:.0f} MiB in memory")
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    started = time.perf_counter()
    training, _ = split(frame, 0.2)
    print(f"{'split (row keys, vectorized)':<44}{time.perf_counter() - started:>9.2f} s")
    started = time.perf_counter()
    features = prepare_features(training, "label")
    print(f"{'prepare_features (training rows)':<44}{time.perf_counter() - started:>9.2f} s")
    started = time.perf_counter()
    sample = infer_signature(signature_rows(features))
    print(f"{'signature on signature_rows':<44}{time.perf_counter() - started:>9.2f} s")
    started = time.perf_counter()
    whole = infer_signature(features)
    print(f"{'signature on every training row (before)':<44}{time.perf_counter() - started:>9.2f} s")
    print(f"same schema: {sample.inputs == whole.inputs}")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
