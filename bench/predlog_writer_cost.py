"""What the prediction log costs per logged row in the serving process, on SQLite and on PostgreSQL.

Builds requests of --rows rows shaped as the demo penguins model's (four numbers, two texts, three class
probabilities) and measures, as CPU time of the calling thread (the GIL's holder for all but the database's own
work on SQLite): `record` on the request path, per request; the writer's row building (`_rows`) and its write
(`insert`, with the hourly counts, in one transaction) per 1,000 rows. Each figure is the best of --repeat batches
of --requests requests, so the machine's other load shows less.

Usage: .venv/bin/python bench/predlog_writer_cost.py [--rows 1000] [--requests 10] [--repeat 7]
           [--database-url postgres://postgres@127.0.0.1:5432/NAME]
Without --database-url: a fresh SQLite file in a temporary folder. The PostgreSQL database must exist; the
prediction table and its hourly counts are emptied first and at the end.
"""

from __future__ import annotations

import argparse
import time
from types import SimpleNamespace

import numpy as np
from prediction_log_size import migrated_django

CLASSES = np.array(["Adelie", "Chinstrap", "Gentoo"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    migrated_django(args.database_url, "bench-log-writer-")
    from django.db import connection

    from predictor.models import HourPredictions, HourVolume, Prediction
    from predictor.predlog.writing import Writer, insert

    tables = (Prediction, HourVolume, HourPredictions)
    for model in tables:
        model.objects.all().delete()
    served = SimpleNamespace(version="1", name="bench", classes=CLASSES, task="classification")
    rng = np.random.default_rng(1)
    writer = Writer(max_pending=10**9)
    writer.stop()  # `record` only queues: nothing is written behind the measurements
    best = {"record": np.inf, "rows": np.inf, "insert": np.inf}
    for _ in range(args.repeat):
        entries = [_request(args.rows, served, rng) for _ in range(args.requests)]
        started = time.thread_time()
        for entry in entries:
            writer.record(entry[0], served, *entry[3:])
        best["record"] = min(best["record"], (time.thread_time() - started) / args.requests)
        started = time.thread_time()
        rows, _ = writer._rows(entries)
        built = time.thread_time()
        insert(rows)
        done = time.thread_time()
        per_thousand = 1000 / len(rows)
        best["rows"] = min(best["rows"], (built - started) * per_thousand)
        best["insert"] = min(best["insert"], (done - built) * per_thousand)
    print(f"{connection.vendor}: {args.requests} requests of {args.rows} rows, best of {args.repeat}")
    print(f"  record, per request:                {best['record'] * 1e6:8.1f} us")
    print(f"  writer, building rows, per 1,000:   {best['rows'] * 1e3:8.2f} ms")
    print(f"  writer, insert + counts, per 1,000: {best['insert'] * 1e3:8.2f} ms")
    print(f"  writer, total per 1,000 rows:       {(best['rows'] + best['insert']) * 1e3:8.2f} ms")
    for model in tables:
        model.objects.all().delete()


def _request(count: int, served: SimpleNamespace, rng: np.random.Generator) -> tuple:
    """One answered request as the predict function hands it to the log."""
    from predictor.predlog import new_ids

    columns = {
        "bill_length_mm": rng.normal(44, 5, count).round(1),
        "bill_depth_mm": rng.normal(17, 2, count).round(1),
        "flipper_length_mm": rng.normal(200, 14, count).round(0),
        "body_mass_g": rng.normal(4200, 800, count).round(0),
        "island": np.array(rng.choice(["Biscoe", "Dream", "Torgersen"], count).tolist(), dtype=object),
        "sex": np.array(rng.choice(["male", "female", None], count).tolist(), dtype=object),
    }
    proba = np.ascontiguousarray(rng.dirichlet(np.ones(len(CLASSES)), count))
    return (new_ids(count), time.time(), served, columns, CLASSES[proba.argmax(axis=1)].tolist(), proba, None)


if __name__ == "__main__":
    main()
