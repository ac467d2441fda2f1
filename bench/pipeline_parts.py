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

    from ml.features import prepare_features
    from ml.split import split
    from predictor.serving.packaging import signature_rows

    frame = synthetic(args.rows, seed=1)
    print(f"{args.rows} rows, {frame.memory_usage(deep=True).sum() / 2**20:.0f} MiB in memory")
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    print(f"{'part':<44}{'wall s':>9}{'CPU s':>9}")
    started, cpu = time.perf_counter(), time.process_time()
    training, _ = split(frame, 0.2)
    _line("split (row keys)", started, cpu)
    started, cpu = time.perf_counter(), time.process_time()
    features = prepare_features(training, "label")
    _line("prepare_features (training rows)", started, cpu)
    started, cpu = time.perf_counter(), time.process_time()
    sample = infer_signature(signature_rows(features))
    _line("signature on signature_rows", started, cpu)
    started, cpu = time.perf_counter(), time.process_time()
    whole = infer_signature(features)
    _line("signature on every training row (before)", started, cpu)
    print(f"same schema: {sample.inputs == whole.inputs}")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


def _line(part: str, started: float, cpu: float) -> None:
    print(f"{part:<44}{time.perf_counter() - started:>9.2f}{time.process_time() - cpu:>9.2f}", flush=True)


if __name__ == "__main__":
    main()
