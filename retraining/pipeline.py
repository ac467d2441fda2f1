"""The retraining pipeline, read top to bottom like the DAG it replaces:

check for new data -> pull -> validate -> train the challenger -> compare with the champion on
the same holdout -> deploy or keep -> notify.

The steps are plain functions (retraining.steps, retraining.policy); this module wires them to
the edges (the data registry, MLflow, the database) and records each step on the run row.
"""

import logging
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from predictor import registry, services
from predictor.models import Deployment
from predictor.serving import warm_up
from retraining import data, notify, runs
from retraining.models import RetrainingRun
from retraining.policy import decide, mcnemar_p_value, regressed
from retraining.steps.evaluate import evaluate
from retraining.steps.split import split
from retraining.steps.train import known_categories, prepare_features, train
from retraining.steps.validate import validate

logger = logging.getLogger(__name__)
Status = RetrainingRun.Status
Progress = Callable[[str], None]

STEPS = ("check", "pull", "validate", "train", "compare", "deploy", "notify")


class Stop(Exception):
    """A run that ends early on purpose (skipped, rejected), not a failure."""

    def __init__(self, status: str, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.status = status
        self.reasons = reasons


def execute(run_id: int, progress: Progress | None = None, source: Any = None) -> RetrainingRun:
    """Run a queued run to the end. A run that is not queued is left alone (redelivery)."""
    if not runs.claim(run_id):
        return RetrainingRun.objects.get(pk=run_id)
    run = RetrainingRun.objects.get(pk=run_id)
    recorder = Recorder(run, progress or (lambda line: None))
    with _heartbeat(run.pk):
        try:
            status, fields = _steps(run, recorder, source or data.source_from_settings())
        except Stop as stop:
            status, fields = stop.status, {"reasons": stop.reasons}
        except Exception as exc:
            logger.exception("run #%s failed", run.pk)
            status, fields = Status.FAILED, {"error": f"{type(exc).__name__}: {exc}"}
            recorder.fail(exc)
    fields["steps"] = recorder.steps
    runs.finish(run, status, **fields)
    if status != Status.SKIPPED:
        with recorder.step("notify"):
            outcome = notify.notify(run)
        RetrainingRun.objects.filter(pk=run.pk).update(notifications=outcome, steps=recorder.steps)
    recorder.say(f"run #{run.pk} finished: {status}")
    run.refresh_from_db()
    return run


def _steps(run: RetrainingRun, recorder: "Recorder", source: Any) -> tuple[str, dict[str, Any]]:
    target = settings.TARGET_COLUMN
    champion = services.active_deployment()

    with recorder.step("check") as note:
        version = source.version()
        _save(run, dataset=version.as_dict())
        if champion is not None and champion.data_version.get("md5") == version.md5:
            note(f"no new data: {version.md5} is what v{champion.version} was trained on")
            raise Stop(Status.SKIPPED, [f"no new data since version {champion.version} ({version.md5})"])
        note(f"new data {version.md5} ({version.size} bytes)")

    with recorder.step("pull") as note:
        frame = source.pull(version)
        note(f"{len(frame)} rows, {len(frame.columns)} columns")

    with recorder.step("validate") as note:
        champion_loaded = registry.load_version(champion.version) if champion else None
        checked = validate(
            frame,
            target,
            min_rows=settings.MIN_TRAINING_ROWS,
            max_missing_share=settings.MAX_MISSING_SHARE,
            expected_columns=champion_loaded.columns if champion_loaded else None,
            known_categories=known_categories(champion_loaded.model) if champion_loaded else None,
        )
        _save(run, validation=checked.as_dict())
        if not checked.ok:
            raise Stop(Status.REJECTED, checked.problems)
        note("; ".join(checked.warnings) or "valid")

    with recorder.step("train") as note:
        training, holdout = split(frame, settings.HOLDOUT_FRACTION, settings.DATA_ID_COLUMN or None)
        rows = {"total": len(frame), "train": len(training), "holdout": len(holdout)}
        _save(run, rows=rows)
        if holdout[target].nunique() < 1 or len(holdout) == 0:
            raise Stop(Status.REJECTED, ["the holdout is empty: the dataset is too small to score a model"])
        model = train(training, target, run.estimator, run.params, settings.TRAINING_SEED)
        challenger = evaluate(model, holdout, target)
        features = prepare_features(training, target)
        logged = registry.log_model(
            model,
            params={"estimator": run.estimator, **run.params, "seed": settings.TRAINING_SEED},
            metrics={**challenger.metrics, "rows_train": rows["train"], "rows_holdout": rows["holdout"]},
            tags={
                **{f"data.{k}": str(v) for k, v in version.as_dict().items()},
                "retraining.run": str(run.pk),
                "retraining.trigger": run.trigger,
            },
            signature_input=features,
            input_example=features.head(5),
            run_name=f"run-{run.pk}",
        )
        _save(
            run,
            mlflow_run_id=logged.run_id,
            model_version=logged.version,
            challenger_metrics=challenger.metrics,
        )
        note(f"challenger v{logged.version}: " + _fmt(challenger.metrics))

    with recorder.step("compare") as note:
        decision, champion_score = _compare(run, champion, champion_loaded, holdout, challenger)
        note(f"{'deploy' if decision.deploy else 'keep'} ({decision.rule})")

    data_version = {**version.as_dict(), "rows": rows}
    if decision.deploy:
        with recorder.step("deploy") as note:
            candidate = registry.load_version(logged.version)
            warm_up(candidate.model, candidate.input_example)
            deployment = services.deploy(
                logged.version,
                source=Deployment.Source.BOOTSTRAP if champion is None else Deployment.Source.PIPELINE,
                reason="; ".join(decision.reasons),
                user=run.triggered_by,
                run_id=logged.run_id,
                metrics=challenger.metrics,
                data_version=data_version,
            )
            note(f"champion is now v{logged.version}")
        return Status.DEPLOYED, {"deployment": deployment, "reasons": decision.reasons}

    with recorder.step("deploy") as note:
        registry.tag_version(logged.version, "retraining.rejected", "; ".join(decision.reasons))
        reasons = list(decision.reasons)
        rollback = _rollback_if_regressed(run, champion, holdout, champion_score, data_version)
        if rollback is not None:
            reasons.append(rollback.reason)
            note(f"kept the challenger out; rolled back to v{rollback.version}")
            return Status.KEPT, {"reasons": reasons, "deployment": rollback}
        note(f"kept champion v{champion.version if champion else '-'}")
    return Status.KEPT, {"reasons": reasons}


def _compare(run, champion, champion_loaded, holdout, challenger):  # type: ignore[no-untyped-def]
    target = settings.TARGET_COLUMN
    if champion_loaded is None:
        decision = decide(run.policy, challenger.metrics, None)
        _save(run, decision_rule=decision.rule, reasons=decision.reasons)
        return decision, None
    champion_score = evaluate(champion_loaded.model, holdout, target)
    truth = holdout[target].astype(str).to_numpy()
    p_value = mcnemar_p_value(truth, champion_score.predictions, challenger.predictions)
    decision = decide(run.policy, challenger.metrics, champion_score.metrics, p_value)
    _save(
        run,
        champion_version=champion.version,
        champion_metrics=champion_score.metrics,
        decision_rule=decision.rule,
        reasons=decision.reasons,
        p_value=p_value,
    )
    return decision, champion_score


def _rollback_if_regressed(run, champion, holdout, champion_score, data_version):  # type: ignore[no-untyped-def]
    """The seed's promise: roll back automatically if the champion regressed.

    The previous champion is scored on today's holdout too; if it now beats the current one under
    the policy (and the challenger was not good enough), it is served again.
    """
    if champion is None or champion_score is None or champion.previous is None:
        return None
    previous = champion.previous
    if previous.version == champion.version:
        return None
    previous_model = registry.load_version(previous.version)
    previous_score = evaluate(previous_model.model, holdout, settings.TARGET_COLUMN)
    _save(run, previous_champion_version=previous.version, previous_champion_metrics=previous_score.metrics)
    verdict = regressed(run.policy, champion_score.metrics, previous_score.metrics)
    if not verdict.deploy:
        return None
    reason = (
        f"regression: champion v{champion.version} fell below the previous champion v{previous.version} "
        f"on run #{run.pk}'s holdout ({'; '.join(verdict.reasons)})"
    )
    return services.deploy(
        previous.version,
        source=Deployment.Source.ROLLBACK,
        reason=reason,
        run_id=previous.run_id,
        metrics=previous_score.metrics,
        data_version=previous.data_version,
    )


def _save(run: RetrainingRun, **fields: Any) -> None:
    for name, value in fields.items():
        setattr(run, name, value)
    RetrainingRun.objects.filter(pk=run.pk).update(**fields)


def _fmt(metrics: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())


class Recorder:
    """Records each step's status and timing on the run row as it happens (the panel polls it)."""

    def __init__(self, run: RetrainingRun, say: Progress) -> None:
        self.run = run
        self.say = say
        self.steps: list[dict[str, Any]] = []

    @contextmanager
    def step(self, name: str) -> Iterator[Callable[[str], None]]:
        entry: dict[str, Any] = {"name": name, "status": "running", "started_at": timezone.now().isoformat()}
        self.steps.append(entry)
        RetrainingRun.objects.filter(pk=self.run.pk).update(step=name, steps=self.steps, heartbeat_at=timezone.now())
        started = time.perf_counter()

        def note(text: str) -> None:
            entry["detail"] = text

        try:
            yield note
        except Stop as stop:
            entry["status"] = "stopped"
            entry.setdefault("detail", "; ".join(stop.reasons))
            raise
        except Exception as exc:
            entry["status"] = "failed"
            entry["detail"] = f"{type(exc).__name__}: {exc}"
            raise
        else:
            entry["status"] = "done"
        finally:
            entry["duration"] = round(time.perf_counter() - started, 3)
            RetrainingRun.objects.filter(pk=self.run.pk).update(steps=self.steps)
            self.say(f"[{entry['status']:>7}] {name:<9} {entry['duration']:7.2f}s  {entry.get('detail', '')}")

    def fail(self, exc: BaseException) -> None:
        logger.debug("".join(traceback.format_exception(exc)))


@contextmanager
def _heartbeat(run_id: int) -> Iterator[None]:
    """Beat from a side thread so a long fit still shows the worker is alive."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(settings.RUN_HEARTBEAT_INTERVAL):
            try:
                runs.beat(run_id)
            except Exception:
                logger.warning("heartbeat for run #%s failed", run_id, exc_info=True)
            finally:
                close_old_connections()

    thread = threading.Thread(target=loop, name=f"heartbeat-{run_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
