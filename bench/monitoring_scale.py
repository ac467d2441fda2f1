"""Monitoring at production volume: the readers of live figures on a PostgreSQL log of millions of rows.

Fills the prediction log of a PostgreSQL database with `--days` days of a service answering
`--per-day` predictions a day, a share `--labels` of them labelled, with one INSERT ... SELECT over
generate_series per day (not the API: a day of a million rows takes seconds, not hours). Inputs
are rows of the demo churn data; each prediction's probability of "yes" is uniform, its label
drawn from that probability (so live ROC AUC is near 0.83). The log's row budget is raised to hold
it all. The hourly rollups are then built with `manage.py rebuild_rollups`'s own code (timed: the
backfill of a log written before rollups existed).

Then times, with the rollups and without them (every reader made to count its whole window from
the rows, as before the rollups, by giving `rollups.whole_hours` no whole hour), p50 of --repeat:
the Monitoring page (/panel/monitoring/), GET /api/v1/monitoring, the dashboard's poll
(/panel/live.json), the degradation trigger's judgement (`triggers.judge_quality`), each in
process through Django's test client; and `manage.py check_drift` (the beat's watch: the drift
window and the quality judgement; the triggers are switched off so no run starts) in a fresh
process, its wall time and peak RSS.

Usage (the database must exist; its log is emptied first; the champion is trained there with
`manage.py bootstrap` when none is deployed, in --var-dir):
    nice .venv/bin/python bench/monitoring_scale.py --database-url postgres://postgres@127.0.0.1:5432/NAME \
        [--days 7] [--per-day 1000000] [--labels 0.3] [--repeat 5] [--var-dir var/bench] [--keep] [--fill-only]
With --keep an existing log of the same size is timed again without refilling it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FILL = """
INSERT INTO {table} (id, created_at, model_version, inputs, prediction, probabilities, label, labelled_at)
SELECT (lpad(to_hex((extract(epoch FROM t) * 1000)::bigint), 12, '0') || substr(md5(g::text), 13, 20))::uuid,
       t, %(version)s, s.inputs, CASE WHEN p >= 0.5 THEN 'yes' ELSE 'no' END, jsonb_build_array(1 - p, p),
       CASE WHEN l THEN CASE WHEN random() < p THEN 'yes' ELSE 'no' END END, CASE WHEN l THEN t END
FROM (SELECT g, %(end)s - (g + random()) * %(step)s * interval '1 microsecond' AS t,
             random() AS p, random() < %(share)s AS l
      FROM generate_series(%(first)s, %(last)s) g) x
JOIN bench_inputs s ON s.k = x.g %% %(templates)s
"""

# check_drift in a fresh process, as `manage.py check_drift` runs; "without" makes it read rows only.
# Prints the fixed cost of setting Django up apart from the check itself (which reads the champion's
# profile from its database copy, made by the first check: the first of the three runs).
DRIVER = """
import json, os, sys, time
started = time.perf_counter()
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
sys.path.insert(0, os.getcwd())
import django
django.setup()
from predictor.predlog import rollups
if sys.argv[1] == "without":
    rollups.whole_hours = lambda since, now: (now, now)
from django.core.management import call_command
def peak_mb():  # this process's own peak: ru_maxrss would keep the bench's, across exec
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024
ready, before = time.perf_counter(), peak_mb()
call_command("check_drift", stdout=open(os.devnull, "w"))
print(json.dumps({"fixed": ready - started, "fixed_mb": before, "check": time.perf_counter() - ready,
                  "peak_mb": peak_mb()}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--per-day", type=int, default=1_000_000)
    parser.add_argument("--labels", type=float, default=0.3)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--repeat-without", type=int, default=1, help="without the rollups, a page takes minutes")
    parser.add_argument("--var-dir", default=str(ROOT / "var" / "bench"))
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--fill-only", action="store_true", help="fill the log and build the rollups, time nothing")
    parser.add_argument("--skip-without", action="store_true", help="time the readers with the rollups only")
    args = parser.parse_args()
    total = args.days * args.per_day
    os.environ.update(
        DATABASE_URL=args.database_url,
        VAR_DIR=str(Path(args.var_dir).resolve()),
        PREDICTION_LOG_MAX_ROWS=str(max(total * 2, 1000)),
        PREDICTION_LOG_DAYS=str(args.days + 2),
        DJANGO_SETTINGS_MODULE="config.settings",
        ALLOWED_HOSTS="testserver",
    )
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    print(f"reproduce: cd {ROOT} && nice {sys.executable} bench/monitoring_scale.py {' '.join(sys.argv[1:])}")
    deployment = prepare(args.days)
    if not (args.keep and logged() == total):
        fill(deployment.version, args.days, args.per_day, args.labels)
    show_size(deployment.version)
    if args.fill_only:
        return
    timings = {"with": measure(deployment.version, args.repeat, without=False)}
    empty = dict.fromkeys(timings["with"], float("nan"))
    skipped = args.skip_without or not args.repeat_without
    timings["without"] = empty if skipped else measure(deployment.version, args.repeat_without, without=True)
    print(f"\n{'reader':<34}{'with rollups':>16}{'without':>16}   target")
    targets = {"page": "< 300 ms", "api": "< 300 ms", "poll": "< 50 ms", "trigger": "< 200 ms"}
    for key, label in (
        ("page", "Monitoring page, p50 ms"),
        ("api", "GET /api/v1/monitoring, p50 ms"),
        ("poll", "poll /panel/live.json, p50 ms"),
        ("trigger", "trigger judgement, p50 ms"),
        ("check_drift", "check_drift process, s"),
        ("check_drift_own", "  of which the check, s"),
        ("check_drift_rss", "check_drift peak RSS, MB"),
        ("check_drift_fixed_rss", "  before the check, MB"),
    ):
        target = targets.get(key, "< 2 s" if key.startswith("check_drift") and "rss" not in key else "< 300 MB")
        print(f"{label:<34}{timings['with'][key]:>16.1f}{timings['without'][key]:>16.1f}   {target}")


def prepare(days: int):  # type: ignore[no-untyped-def]
    """Migrate, deploy a champion if none is, date its deployment before the log, switch the
    triggers off (check_drift then judges but starts nothing) and sign a staff user in."""
    from django.core.management import call_command
    from django.utils import timezone

    from predictor.models import Deployment, LoggedVersion
    from retraining.models import TriggerSettings

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    if not Deployment.objects.exists():
        call_command("bootstrap")
    deployment = Deployment.objects.order_by("-id").first()
    Deployment.objects.filter(pk=deployment.pk).update(created_at=timezone.now() - timedelta(days=days + 1))
    deployment.refresh_from_db()
    LoggedVersion.objects.update_or_create(
        version=deployment.version, defaults={"model_name": deployment.model_name, "classes": ["no", "yes"]}
    )
    TriggerSettings.objects.update_or_create(pk=TriggerSettings.current().pk, defaults={
        "drift_enabled": False, "degradation_enabled": False})  # fmt: skip
    return deployment


def logged() -> int:
    from predictor.models import Prediction

    return Prediction.objects.count()


def fill(version: str, days: int, per_day: int, share: float) -> None:
    import pandas as pd
    from django.db import connection, transaction
    from django.utils import timezone

    from predictor.models import HourLabels, HourVolume, Prediction
    from predictor.predlog import rollups

    data = Path(os.environ["VAR_DIR"]) / "data-registry" / "data"
    # The demo's data is a folder of batches (data/churn/*.csv); older registries hold one churn.csv.
    source = data / "churn.csv" if (data / "churn.csv").is_file() else sorted((data / "churn").glob("*.csv"))[0]
    frame = pd.read_csv(source).drop(columns="churned")
    table = Prediction._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {table}, {HourVolume._meta.db_table}, {HourLabels._meta.db_table}")
        cursor.execute("DROP TABLE IF EXISTS bench_inputs")
        cursor.execute("CREATE TABLE bench_inputs (k int PRIMARY KEY, inputs jsonb)")
        rows = [(k, frame.iloc[[k]].to_json(orient="records")[1:-1]) for k in range(len(frame))]
        cursor.executemany("INSERT INTO bench_inputs VALUES (%s, %s::jsonb)", rows)
    end = timezone.now()
    step = 86_400e6 / per_day
    started = time.perf_counter()
    for day in range(days):
        first = day * per_day
        params = {"version": version, "end": end, "first": first, "last": first + per_day - 1}
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(FILL.format(table=table), {**params, "step": step, "share": share, "templates": len(rows)})
        print(f"day {day + 1}/{days} written ({time.perf_counter() - started:.0f} s)", flush=True)
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {table}")
    started = time.perf_counter()
    hours, labelled = rollups.rebuild()
    print(f"rebuild_rollups: {hours} version-hours, {labelled:,} labels in {time.perf_counter() - started:.0f} s")
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {HourVolume._meta.db_table}; ANALYZE {HourLabels._meta.db_table}")


def show_size(version: str) -> None:
    from django.db import connection

    from predictor.models import Prediction

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_total_relation_size(%s)", [Prediction._meta.db_table])
        size = cursor.fetchone()[0]
    labels = Prediction.objects.filter(label__isnull=False).count()
    print(f"log: {logged():,} predictions of v{version}, {labels:,} labelled, {size / 1e6:,.0f} MB with indexes")


def p50_ms(call: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def measure(version: str, repeat: int, without: bool) -> dict[str, float]:
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone

    from predictor.predlog import rollups
    from retraining.models import TriggerSettings
    from retraining.monitoring import triggers

    user, _ = get_user_model().objects.get_or_create(username="bench-monitoring", defaults={"is_staff": True})
    client = Client()
    client.force_login(user)
    whole_hours = rollups.whole_hours
    if without:
        rollups.whole_hours = lambda since, now: (now, now)
    try:

        def get(url: str) -> Callable[[], object]:
            def call() -> object:
                response = client.get(url)
                assert response.status_code == 200, (url, response.status_code)
                return response

            return call

        settings = TriggerSettings.current()
        result = {
            "page": p50_ms(get("/panel/monitoring/"), repeat),
            "api": p50_ms(get("/api/v1/monitoring"), repeat),
            "poll": p50_ms(get("/panel/live.json"), repeat),
            "trigger": p50_ms(lambda: triggers.judge_quality(version, settings, timezone.now()), repeat),
        }
    finally:
        rollups.whole_hours = whole_hours
    result.update(check_drift(without))
    print(f"{'without' if without else 'with'} rollups: {result}", flush=True)
    return result


def check_drift(without: bool) -> dict[str, float]:
    """check_drift in a fresh process, best of three: the whole process's wall seconds and peak RSS
    (MB), and the check's own seconds once imports and the champion's profile are loaded."""
    import json

    best: dict[str, float] = {}
    for _ in range(3):
        started = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-c", DRIVER, "without" if without else "with"], cwd=ROOT, stdout=subprocess.PIPE
        )
        output = child.stdout.read() if child.stdout else b""
        _, status = os.waitpid(child.pid, 0)
        child.returncode = status
        if status != 0:
            raise SystemExit(f"check_drift failed (status {status})")
        parts = json.loads(output.decode().strip().splitlines()[-1])
        run = {"check_drift": time.perf_counter() - started, "check_drift_rss": parts["peak_mb"],
               "check_drift_own": parts["check"], "check_drift_fixed_rss": parts["fixed_mb"]}  # fmt: skip
        if not best or run["check_drift"] < best["check_drift"]:
            best = run
    return best


if __name__ == "__main__":
    main()
