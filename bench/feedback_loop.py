"""Shifted demo traffic with 30% of its labels returned: does the automatic loop recover by itself?

Builds a throwaway world in a temporary folder (SQLite database, MLflow store, the demo's git + DVC
registry, a folder of partition files, with a local remote) and trains the first champion through
the pipeline, as `make run` does (`--after-step 4`: the README's steps 2 to 4 too, champion v2).
Then, in this process, as `manage.py simulate_traffic` and beat would:

- demo traffic (`demo.traffic`: rows of the champion's batch, shifted after `--shift-after`
  seconds) posted to `POST /api/v1/predict` with an API key, 20 rows a second of traffic, and the
  true labels of 30% of the rows posted to `POST /api/v1/feedback` every 2 seconds;
- every MONITOR_INTERVAL seconds of traffic, beat's check (`retraining.monitoring.triggers.watch`):
  drift, live quality, and a `drift` or `degradation` run when a trigger says so, executed at once
  (Celery eager) by the real pipeline, with automatic publishing of labelled predictions on.

Time is traffic time: the rows of a second are sent at once, so the bench does not wait; times
are in seconds of traffic at the demo's rate. After `--max-seconds` of traffic, the live accuracy
of the last `--window` seconds (every row against its true label) is set beside forests of the
same setup trained on as many true shifted rows as the loop published: all of them, and the
training side of the pipeline's split of them (the demo traffic repeats its customers, and a key
the split holds out is a customer no challenger ever trains on). Recovery: the first second after
the shift from which 60 s of live accuracy come within 2 points of the split forest.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from workspace import isolated_django

ROOT = Path(__file__).resolve().parents[1]
RATE = 20  # rows of traffic a second, as simulate_traffic's default


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--after-step", type=int, choices=(1, 4), default=1, help="the README step the loop follows")
    parser.add_argument("--label-share", type=float, default=0.3)
    parser.add_argument("--shift-after", type=int, default=60, help="seconds of traffic before the shift")
    parser.add_argument("--min-labels", type=int, default=500, help="trigger setting: new labels needed to publish")
    parser.add_argument("--max-seconds", type=int, default=660, help="seconds of traffic")
    parser.add_argument("--window", type=int, default=120, help="last seconds of traffic scored")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--max-guard-drop",
        type=float,
        help="promotion policy: most another metric may drop (unset: the policy's default)",
    )
    args = parser.parse_args()
    print(
        f"reproduce: cd {ROOT} && {sys.executable} bench/feedback_loop.py --after-step {args.after_step} "
        f"--label-share {args.label_share} --shift-after {args.shift_after} --min-labels {args.min_labels} "
        f"--max-seconds {args.max_seconds} --window {args.window} --seed {args.seed}"
        + (f" --max-guard-drop {args.max_guard_drop}" if args.max_guard_drop is not None else ""),
        flush=True,
    )
    isolated_django(
        "bench-feedback-",
        DATA_PATH="data/churn",
        DEMO_DATASET="churn",
        ALLOWED_HOSTS="testserver",
        FEEDBACK_REQUIRES_KEY="true",
        CELERY_TASK_ALWAYS_EAGER="true",
        LOG_LEVEL="WARNING",
    )
    from django.conf import settings

    from demo import batches

    batches.ensure_demo_registry(Path(settings.DATA_REGISTRY), settings.DATA_REMOTE, settings.DATA_PATH)
    from retraining.runs import store

    # Set before the first run: a policy changed later makes batch 3 new to judge again.
    policy = store.current_policy()
    if args.max_guard_drop is not None:
        policy.max_guard_drop = args.max_guard_drop
        policy.save()
    print(f"policy: {policy.primary_metric}, guard drop {policy.max_guard_drop}, significance {policy.significance}")
    started = time.monotonic()
    print(f"first champion: {first_champion(args.after_step)} ({time.monotonic() - started:.0f} s)", flush=True)
    loop(args)


def first_champion(after_step: int) -> str:
    """The champion as the README leaves it after `after_step`, trained by the pipeline itself."""
    from django.conf import settings

    from demo import batches
    from retraining.models import RetrainingRun
    from retraining.pipeline import flow
    from retraining.runs import store

    def run(trigger: str) -> RetrainingRun:
        queued, _ = store.start_run(trigger)
        return flow.execute(queued.pk)

    done = [run(RetrainingRun.Trigger.BOOTSTRAP)]
    if after_step == 4:
        for _ in range(2):
            batches.publish_next_demo_batch(Path(settings.DATA_REGISTRY), settings.DATA_PATH)
            done.append(run(RetrainingRun.Trigger.CLI))
    return ", ".join(f"run #{r.pk} {r.status} v{r.model_version}" for r in done)


def loop(args: argparse.Namespace) -> None:
    import numpy as np
    from django.conf import settings
    from django.test import Client

    from demo import traffic
    from predictor.api import apikeys
    from predictor.models import ApiKey
    from predictor.predlog import writing
    from retraining.models import RetrainingRun, TriggerSettings
    from retraining.monitoring import triggers

    TriggerSettings.objects.update_or_create(
        pk=1, defaults={"publish_feedback": True, "feedback_min_labels": args.min_labels}
    )
    key, prefix, hashed = apikeys.generate()
    ApiKey.objects.create(name="bench-client", prefix=prefix, hashed_key=hashed)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    model = served(client)
    champion = str(model["version"])
    rows = traffic.build_rows("churn", traffic.ServedModel.from_answer(model), seed=args.seed)
    rng = np.random.default_rng(args.seed)
    pending: list[dict[str, str]] = []
    # Per second of traffic: (shifted, version that answered, rows answered right).
    seconds: list[tuple[bool, str, int]] = []
    window: list[tuple[list[dict], list[str], list[str]]] = []
    recovery_run: RetrainingRun | None = None
    print(f"traffic: {rows.source}; shift after {args.shift_after} s: {rows.description}", flush=True)

    def post_labels() -> None:
        writing.writer().flush()
        if pending:
            answer = client.post("/api/v1/feedback", json.dumps({"feedback": pending}), content_type="application/json")
            assert answer.status_code == 200, answer.content
            pending.clear()

    for second in range(args.max_seconds):
        shifted = second >= args.shift_after
        records, labels = rows.draw(rng, RATE, shifted)
        answer = client.post("/api/v1/predict", json.dumps({"instances": records}), content_type="application/json")
        assert answer.status_code == 200, answer.content
        body = answer.json()
        version = str(answer["X-Model-Version"])
        predicted = [str(p) for p in body["predictions"]]
        seconds.append((shifted, version, sum(p == t for p, t in zip(predicted, labels, strict=True))))
        for pid, label in zip(body["prediction_ids"], labels, strict=True):
            if rng.random() < args.label_share:
                pending.append({"prediction_id": pid, "label": label})
        if second >= args.max_seconds - args.window:
            window.append((records, labels, predicted))
        if second % 2 == 1:
            post_labels()
        if second % settings.MONITOR_INTERVAL == settings.MONITOR_INTERVAL - 1:
            post_labels()
            tick = time.monotonic()
            looked = triggers.watch()
            note = looked.notes[-1] if looked.notes else ""
            print(f"{second + 1:>4} s  check: {note[:160]}", flush=True)
            if looked.started and looked.run is not None:
                run = RetrainingRun.objects.get(pk=looked.run.pk)
                feedback = run.dataset.get("feedback") or {}
                print(
                    f"       run #{run.pk} ({run.trigger}) {run.status} in {time.monotonic() - tick:.0f} s: "
                    f"{'; '.join(run.reasons)[:200]}; rows {run.rows}; from feedback {feedback.get('rows', 0)}",
                    flush=True,
                )
                recent = (run.lineage or {}).get("recent")
                if recent:
                    print(f"       training: {recent['why']}", flush=True)
                if run.status == RetrainingRun.Status.DEPLOYED:
                    recovery_run = run
                    served(client)
    report(args, seconds, window, recovery_run, champion, rows)


def served(client) -> dict:
    """GET /api/v1/model once this process serves the newest deployment, as a serving process's
    poll (every MODEL_POLL_INTERVAL seconds) would load it."""
    from predictor.serving import holder

    holder.holder().sync()
    answer = client.get("/api/v1/model")
    if answer.status_code != 200:
        raise SystemExit(f"no model served: {answer.content[:300]!r}")
    return answer.json()


def report(args, seconds, window, recovery_run, champion, rows) -> None:
    import numpy as np
    import pandas as pd
    from django.conf import settings

    from ml.estimators import train
    from ml.features import prepare_features
    from ml.split import split, split_key
    from retraining.models import RetrainingRun

    def accuracy(selected: list[tuple[bool, str, int]]) -> float:
        return sum(s[2] for s in selected) / (RATE * len(selected)) if selected else float("nan")

    before = accuracy([s for s in seconds if not s[0] and s[1] == champion])
    after = accuracy([s for s in seconds if s[0] and s[1] == champion])
    print(
        f"champion v{champion}: live accuracy {before:.3f} before the shift, {after:.3f} after ({after - before:+.3f})"
    )
    if recovery_run is None:
        print(f"no model deployed within {args.max_seconds} s of traffic")
        return
    # Every row published from feedback up to the recovering run: what the loop had to learn from.
    runs = RetrainingRun.objects.filter(pk__lte=recovery_run.pk)
    published = sum((run.dataset.get("feedback") or {}).get("rows", 0) for run in runs)
    records = [r for w in window for r in w[0]]
    labels = np.array([t for w in window for t in w[1]])
    loop_accuracy = float((np.array([p for w in window for p in w[2]]) == labels).mean())
    # As many true shifted rows, drawn from the same traffic with another seed: all of them trained
    # on, and only the training side of the pipeline's split (the same rows, by key, that the loop's
    # challenger could not train on; the demo traffic repeats its customers, so a held-out key is
    # one of them never seen).
    oracle_rows, oracle_labels = rows.draw(np.random.default_rng(args.seed + 1), published, shifted=True)
    frame = pd.DataFrame(oracle_rows)
    frame[settings.TARGET_COLUMN] = oracle_labels
    training, _ = split(frame, settings.HOLDOUT_FRACTION, split_key(frame, settings.TARGET_COLUMN))
    oracles = {}
    for name, rows_used in (("all", frame), ("split", training)):
        model = train(rows_used, settings.TARGET_COLUMN, settings.TRAINING_ESTIMATOR, settings.TRAINING_PARAMS, 42)
        oracles[name] = float((model.predict(prepare_features(pd.DataFrame(records))) == labels).mean())
    target = oracles["split"] - 0.02
    rolling = [accuracy(seconds[i : i + 60]) for i in range(args.shift_after, len(seconds) - 59)]
    reached = next((i for i, a in enumerate(rolling) if a >= target), None)
    print(
        f"last deployed: v{recovery_run.model_version} (run #{recovery_run.pk}, rows {recovery_run.rows}); "
        f"{published} rows published from feedback by runs up to it"
    )
    print(
        f"live accuracy on the last {len(labels):,} rows ({args.window} s) of shifted traffic: loop {loop_accuracy:.3f}"
    )
    for name, what in (("all", f"all {published}"), ("split", f"the training side ({len(training)}) of {published}")):
        print(
            f"  a forest trained on {what} true shifted rows: {oracles[name]:.3f}; loop - it "
            f"{loop_accuracy - oracles[name]:+.3f} (ratio {loop_accuracy / oracles[name]:.3f})"
        )
    said = "never" if reached is None else f"{reached} s after the shift (traffic time)"
    print(f"recovered {loop_accuracy - after:+.3f} of the shift's {after - before:+.3f}")
    print(f"60 s of live accuracy first within 2 points of the split forest ({target + 0.02:.3f}): {said}")


if __name__ == "__main__":
    main()
