"""How much disk the prediction log takes per logged prediction, on SQLite and on PostgreSQL.

Writes --rows predictions of the demo penguins model (7 input columns, 3 class probabilities)
through the writer's own row building and INSERTs, a tenth of them labelled, into an empty
database, then measures the table with its indexes: the file's growth on SQLite (after a
checkpoint), pg_total_relation_size on PostgreSQL. Prints bytes per row and the size of a day of
one million predictions.

Usage: .venv/bin/python bench/prediction_log_size.py [--rows 100000]
           [--database-url postgres://postgres@127.0.0.1:5432/NAME]
Without --database-url: a fresh SQLite file in a temporary folder. The PostgreSQL database must
exist; its prediction table is emptied first and at the end.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def migrated_django(database_url: str, prefix: str) -> None:
    """Django set up on `database_url` (empty: a fresh SQLite file in a temporary folder), migrated."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["VAR_DIR"] = str(workdir / "var")
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    else:
        os.environ.pop("DATABASE_URL", None)
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    migrated_django(args.database_url, "bench-log-size-")
    from django.db import connection
    from django.db.models import F

    from demo.batches import demo_frame
    from ml.features import prepare_features
    from predictor.models import Prediction
    from predictor.predlog import new_ids
    from predictor.predlog.writing import Writer, insert

    Prediction.objects.all().delete()
    before = _size(connection)
    features = prepare_features(demo_frame(1), "species")
    classes = np.array(["Adelie", "Chinstrap", "Gentoo"])
    served = SimpleNamespace(version="12", classes=classes, name="penguins-classifier", task="classification")
    writer, rng = Writer(), np.random.default_rng(0)
    started = time.perf_counter()
    for start in range(0, args.rows, 1000):
        rows = features.sample(1000, replace=True, random_state=start).reset_index(drop=True)
        columns = {name: rows[name].to_numpy(dtype=float if rows[name].dtype.kind in "fi" else object) for name in rows}
        proba = rng.dirichlet([1, 1, 1], 1000)
        entry = (new_ids(1000), time.time(), served, columns, classes[proba.argmax(axis=1)].tolist(), proba, None)
        built, _ = writer._rows([entry])
        insert(built)
        labelled = [row[0] for row in built[::10]]
        Prediction.objects.filter(id__in=labelled).update(label=F("prediction"), labelled_at=F("created_at"))
    elapsed = time.perf_counter() - started
    after = _size(connection)
    per_row = (after - before) / args.rows
    print(f"{connection.vendor}: {args.rows} rows written in {elapsed:.1f} s ({args.rows / elapsed:.0f} rows/s)")
    print(f"table + indexes: {(after - before) / 1e6:.1f} MB -> {per_row:.0f} bytes per logged prediction")
    print(f"one day of 1,000,000 predictions: {per_row * 1e6 / 1e9:.2f} GB; 30 days: {per_row * 30e6 / 1e9:.1f} GB")
    if connection.vendor == "postgresql":
        Prediction.objects.all().delete()


def _size(connection) -> int:  # type: ignore[no-untyped-def]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE predictor_prediction")
            cursor.execute("SELECT pg_total_relation_size('predictor_prediction')")
            return int(cursor.fetchone()[0])
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        cursor.execute("PRAGMA page_count")
        pages = cursor.fetchone()[0]
        cursor.execute("PRAGMA page_size")
        return int(pages * cursor.fetchone()[0])


if __name__ == "__main__":
    main()
