"""What the control panel costs the server: the live poll against reloading the page, and due times.

An open dashboard polls `/panel/live.json` every 1.5 s while a run is active, and fetches
`/panel/chart.json` only when the poll's chart stamp changes. This script measures both next to
the alternative they replace (reloading the whole dashboard), on a throwaway
SQLite database filled with a long history (5,000 runs, 200 deployments), with Django's test client
in-process: median time of 100 requests, bytes and SQL queries per request. Two workers are on
record (one alive and running the active run, one stopped), as the header's worker health reads them.

With `--labels N,...` it then times the dashboard's quality badge (one GROUP BY of the served
version's labelled predictions, scored from the confusion counts) against judging the same
labels as the degradation trigger does (`retraining.monitoring.triggers.judge_quality`, which loads every
labelled prediction and bootstraps it), and the Monitoring page, for each number of labelled
predictions logged (3 classes, with probabilities, 85% right).

It also times the schedule's due-time search (`retraining.workers.schedule.previous_due`, which skips whole
days and hours that cannot match) against a naive minute-by-minute walk, for a daily schedule and
for the worst case, a leap-day schedule ("0 0 29 2 *") whose previous tick is up to four years back.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUESTS = 100
RUNS, DEPLOYMENTS = 5_000, 200


def median_ms(call: Callable[[], object], times: int) -> float:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def fill_history() -> None:
    from predictor.models import Deployment
    from retraining.models import RetrainingRun

    metrics = {"accuracy": 0.95, "precision": 0.94, "recall": 0.93, "f1": 0.935}
    step = {"name": "check", "status": "done", "duration": 0.1, "detail": "new data"}
    columns = {"columns": {f"c{n}": {"kind": "numeric", "origin": "inferred"} for n in range(20)}}
    # Each model's drift profile in brief, as the train step keeps it on the run (the compare page shows two).
    numeric = {"kind": "numeric", "rows": 8_000, "missing_share": 0.01, "mean": 4.2, "std": 1.3, "median": 4.0}
    profile = {
        "rows": 8_000,
        "features": {f"c{n}": numeric for n in range(20)},
        "predictions": {"kind": "categorical", "rows": 2_000, "shares": {"yes": 0.3, "no": 0.7}},
    }
    moved = {**numeric, "mean": 5.0}
    changed = {"champion": "4999", "added": 1_000, "removed": 10, "kept": 7_000}
    RetrainingRun.objects.bulk_create(
        RetrainingRun(trigger="schedule", status="kept", active=None, steps=[step] * 7, challenger_metrics=metrics,
                      champion_metrics=metrics, model_version=str(i), champion_version=str(i - 1),
                      dataset={"md5": f"md5-{i // 10}", "rev": f"rev-{i}", "path": "data/churn.csv", "size": 10**6},
                      rows={"total": 10_000, "train": 8_000, "holdout": 2_000},
                      lineage={"columns": columns, "read_as": {"format": "CSV"}}, profile=profile,
                      reasons=[f"kept: accuracy gain below 0.01 (run {i})"]) for i in range(RUNS)
    )  # fmt: skip
    from retraining.models import RunLog

    # The longest log a run keeps: RUN_LOG_MAX_BYTES of lines.
    line = "2026-12-07 10:00:00,000 INFO retraining.pipeline.training: fitted fold with 8000 rows in 0.42 s\n"
    logged = RetrainingRun.objects.create(trigger="schedule", status="deployed", active=None, champion_version="4999",
                                          model_version="5000", champion_metrics=metrics, challenger_metrics=metrics,
                                          dataset={"md5": "md5-new"}, lineage={"columns": columns},
                                          profile={**profile, "features": {**profile["features"], "c0": moved}},
                                          holdout_exclusion={"clean": 2_000, "training_rows_vs_champion": changed,
                                                             "holdout_rows_vs_champion": changed})  # fmt: skip
    RunLog.objects.create(run_id=logged.pk, text=line * (256 * 1024 // len(line)))
    Deployment.objects.bulk_create(
        Deployment(model_name="bench", version=str(i), source="pipeline", metrics=metrics) for i in range(DEPLOYMENTS)
    )
    from django.utils import timezone

    from retraining.models import WorkerHeartbeat

    active = RetrainingRun.objects.create(trigger="manual", status="running", step="train", steps=[step] * 3)
    # Two workers heard of: one alive running the active run, one stopped an hour ago.
    now = timezone.now()
    task = {"task": "retraining.tasks.retrain", "id": "t-1", "run_id": active.pk, "started_at": now.isoformat()}
    WorkerHeartbeat.objects.create(hostname="w1@bench", pid=1, queues=["celery"], running=[task],
                                   started_at=now, seen_at=now)  # fmt: skip
    gone = now - timedelta(hours=1)
    WorkerHeartbeat.objects.create(hostname="w2@bench", pid=2, queues=["celery"], started_at=gone, seen_at=gone,
                                   stopped_at=gone)  # fmt: skip


def bench_requests() -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    user = get_user_model().objects.create_user("bench", password="pw-bench-123", is_staff=True)
    client = Client()
    client.force_login(user)
    print(f"history: {RUNS} runs, {DEPLOYMENTS} deployments, one run active, 2 workers; median of {REQUESTS} requests")
    print(f"{'request':<28}{'median ms':>10}{'bytes':>10}{'queries':>9}")
    results = {}
    pages = (
        ("poll /panel/live.json", "/panel/live.json"),
        ("chart /panel/chart.json", "/panel/chart.json"),
        ("reload /panel/", "/panel/"),
        ("compare two runs", "/panel/runs/compare/?a={newest}&b={older}"),
        ("a run's log (256 KiB)", "/panel/runs/{newest}/log/"),
        ("API run log", "/api/v1/runs/{newest}/log"),
        ("runs filtered by text+date", "/panel/runs/?q=run+4321&since=2026-01-01"),
        ("data versions page", "/panel/data/"),
    )
    from retraining.models import RetrainingRun

    newest = RetrainingRun.objects.exclude(status="running").order_by("-pk").values_list("pk", flat=True).first()
    pages = tuple((label, url.format(newest=newest, older=newest - 1)) for label, url in pages)
    for label, url in pages:
        response = client.get(url)
        assert response.status_code == 200, response.status_code
        queries: list[str] = []

        def count(execute, sql, params, many, context, log=queries):  # type: ignore[no-untyped-def]
            log.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            client.get(url)
        ms = median_ms(lambda url=url: client.get(url), REQUESTS)
        results[label] = ms
        print(f"{label:<28}{ms:>10.2f}{len(response.content):>10}{len(queries):>9}")
    print(f"ratio reload / poll: {results['reload /panel/'] / results['poll /panel/live.json']:.1f}x")

    from retraining.panel import live
    from retraining.runs import store
    from retraining.workers import heartbeat

    active = store.active_run()
    health = median_ms(lambda: live.workers_state(heartbeat.liveness(), active), REQUESTS)
    print(f"of which worker health (one query): {health:.2f} ms")


def bench_badges(label_counts: list[int]) -> None:
    import numpy as np
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone

    from predictor import services
    from predictor.models import LoggedVersion, Prediction
    from predictor.predlog import new_ids
    from retraining.models import TriggerSettings
    from retraining.monitoring import triggers
    from retraining.panel import live

    client = Client()
    client.force_login(get_user_model().objects.get(username="bench"))
    trigger_settings = TriggerSettings.current()
    served = services.active_deployment()
    classes = ["Adelie", "Chinstrap", "Gentoo"]
    LoggedVersion.objects.get_or_create(version=served.version, defaults={"model_name": "bench", "classes": classes})
    rng = np.random.default_rng(0)
    heads = f"{'badge ms':>10}{'poll ms':>9}{'trigger judge ms':>18}{'monitoring page ms':>20}"
    print(f"\n{'labelled predictions':<22}{heads}")
    logged = 0
    for count in label_counts:
        now = timezone.now()
        truth = rng.integers(0, 3, count - logged)
        guess = np.where(rng.random(len(truth)) < 0.85, truth, (truth + 1) % 3)
        proba = rng.dirichlet([1, 1, 1], len(truth))
        Prediction.objects.bulk_create(
            (Prediction(id=i, created_at=now, model_version=served.version, inputs={}, prediction=classes[g],
                        probabilities=list(p), label=classes[t], labelled_at=now)
             for i, t, g, p in zip(new_ids(len(truth)), truth, guess, proba, strict=True)),
            batch_size=5_000,
        )  # fmt: skip
        logged = count
        badge = median_ms(lambda: live.quality_badge(served, timezone.now()), 20)
        poll = median_ms(lambda: client.get("/panel/live.json"), 20)
        judged = median_ms(lambda: triggers.judge_quality(served.version, trigger_settings, timezone.now()), 3)
        page = median_ms(lambda: client.get("/panel/monitoring/"), 3)
        print(f"{count:<22,}{badge:>10.2f}{poll:>9.2f}{judged:>18.1f}{page:>20.1f}")


def bench_due_times() -> None:
    from celery.schedules import crontab

    from retraining.workers.schedule import parse_cron, previous_due

    def naive(fields: dict[str, str], at: datetime) -> datetime:
        spec = crontab(**fields)
        moment = at.replace(second=0, microsecond=0)
        while not (
            moment.minute in spec.minute
            and moment.hour in spec.hour
            and moment.day in spec.day_of_month
            and moment.month in spec.month_of_year
            and (moment.weekday() + 1) % 7 in spec.day_of_week
        ):
            moment -= timedelta(minutes=1)
        return moment

    at = datetime(2027, 2, 28, 1, 0, tzinfo=UTC)
    print(f"\n{'previous due time':<28}{'skipping ms':>12}{'naive ms':>10}{'ratio':>8}")
    for cron in ("0 2 * * *", "0 0 29 2 *"):
        fields = parse_cron(cron)
        assert previous_due(fields, at) == naive(fields, at)
        fast = median_ms(lambda fields=fields: previous_due(fields, at), 20)
        slow = median_ms(lambda fields=fields: naive(fields, at), 3)
        print(f"{cron:<28}{fast:>12.3f}{slow:>10.1f}{slow / fast:>7.0f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", default="", help="labelled predictions to time the badge at, e.g. 1000,10000")
    label_counts = [int(n) for n in parser.parse_args().labels.split(",") if n]
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory(prefix="bench-panel-") as tmp:
        os.environ.update(VAR_DIR=tmp, DJANGO_SETTINGS_MODULE="config.settings")
        for name in ("DATABASE_URL", "REDIS_URL"):
            os.environ.pop(name, None)
        import django
        from django.conf import settings
        from django.core.management import call_command

        django.setup()
        settings.STORAGES = {
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
        settings.ALLOWED_HOSTS = ["testserver"]
        call_command("migrate", verbosity=0)
        fill_history()
        bench_requests()
        if label_counts:
            bench_badges(label_counts)
        bench_due_times()


if __name__ == "__main__":
    main()
