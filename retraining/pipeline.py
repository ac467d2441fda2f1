"""The retraining pipeline, read top to bottom like the DAG it replaces:

check for new data -> pull -> validate -> train the challenger -> compare with the champion on
the same holdout -> deploy or keep -> notify.

The steps are plain functions (retraining.steps, retraining.policy); this module wires them to
the edges (the data registry, MLflow, the database) and records each step on the run row.
"""

import json
import logging
from typing import Any

from django.conf import settings

from predictor import registry, services
from predictor.inputs import known_categories
from predictor.models import Deployment
from predictor.serving import warm_up
from retraining import data, notify, runs
from retraining.models import RetrainingRun
from retraining.policy import Decision, decide, paired_comparison, regressed
from retraining.recording import Progress, Recorder, Stop, heartbeat
from retraining.steps.evaluate import Score, evaluate
from retraining.steps.split import non_features, split, split_key
from retraining.steps.train import prepare_features, train
from retraining.steps.validate import validate

logger = logging.getLogger(__name__)
Status = RetrainingRun.Status

STEPS = ("check", "pull", "validate", "train", "compare", "deploy", "keep", "notify")


def execute(run_id: int, progress: Progress | None = None, source: Any = None, retry: bool = False) -> RetrainingRun:
    """Run a queued run to the end. A run that is not queued is left alone (redelivery).

    With `retry`, a transient fault (MLflow or the data remote unreachable) puts the run back in
    the queue instead of failing it; the caller schedules the next attempt.
    """
    if not runs.claim(run_id):
        return RetrainingRun.objects.get(pk=run_id)
    run = RetrainingRun.objects.get(pk=run_id)
    recorder = Recorder(run, progress or (lambda line: None))
    with heartbeat(run.pk):
        try:
            status, fields = _steps(run, recorder, source or data.source_from_settings())
        except Stop as stop:
            status, fields = stop.status, {"reasons": stop.reasons}
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            if retry and transient(exc):
                logger.warning("run #%s hit a transient fault, to be retried: %s", run.pk, error)
                runs.requeue(run.pk, f"retrying after a transient fault: {error}")
                RetrainingRun.objects.filter(pk=run.pk).update(steps=recorder.steps)
                run.refresh_from_db()
                return run
            logger.exception("run #%s failed", run.pk)
            status, fields = Status.FAILED, {"error": error}
    fields["steps"] = recorder.steps
    runs.finish(run, status, **fields)
    _record_in_mlflow(run)
    if status != Status.SKIPPED:
        with recorder.step("notify") as note:
            outcome = notify.notify(run)
            note(", ".join(f"{channel} {result}" for channel, result in outcome.items()) or "no channel configured")
        RetrainingRun.objects.filter(pk=run.pk).update(notifications=outcome, steps=recorder.steps, step="")
    recorder.say(f"run #{run.pk} finished: {status}")
    run.refresh_from_db()
    return run


def transient(exc: BaseException) -> bool:
    """A fault that may go away by itself: a service that did not answer, not bad data or code."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, data.DataUnavailable | ConnectionError | TimeoutError):
            return True
        text = str(seen)
        if any(sign in text for sign in _UNREACHABLE):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


# How MLflow's REST client and the requests/urllib3 stack say a server did not answer.
_UNREACHABLE = ("Max retries exceeded", "Connection refused", "TEMPORARILY_UNAVAILABLE", "timed out")


def _steps(run: RetrainingRun, recorder: Recorder, source: Any) -> tuple[str, dict[str, Any]]:
    target = settings.TARGET_COLUMN
    champion = services.active_deployment()

    with recorder.step("check") as note:
        version = source.version()
        _save(run, dataset=version.as_dict())
        if champion is not None and champion.data_version.get("md5") == version.md5:
            note(f"no new data: {version.md5} is what v{champion.version} was trained on")
            raise Stop(Status.SKIPPED, [f"no new data since version {champion.version} ({version.md5})"])
        decided = runs.already_decided(run, version.md5, champion) if champion is not None else None
        if decided is not None:
            note(f"no new data: run #{decided.pk} already judged {version.md5} ({decided.status})")
            reason = f"no new data since run #{decided.pk} judged {version.md5} against v{champion.version}"
            raise Stop(Status.SKIPPED, [f"{reason} ({decided.status})"])
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
        id_column = settings.DATA_ID_COLUMN or None
        excluded = non_features(target, id_column, settings.EXCLUDE_COLUMNS)
        key = split_key(frame, target, id_column, settings.EXCLUDE_COLUMNS)
        training, holdout = split(frame, settings.HOLDOUT_FRACTION, key)
        rows = {"total": len(frame), "train": len(training), "holdout": len(holdout)}
        _save(run, rows=rows)
        if len(holdout) == 0 or training[target].nunique() < 2:
            raise Stop(Status.REJECTED, [f"the split left too few rows to train and score a model ({rows})"])
        model = train(training, target, run.estimator, run.params, settings.TRAINING_SEED, excluded)
        challenger = evaluate(model, holdout, target)
        features = prepare_features(training, target, excluded)
        logged = registry.log_model(
            model,
            params={"estimator": run.estimator, **run.params, "seed": settings.TRAINING_SEED},
            metrics={**challenger.metrics, "rows_train": rows["train"], "rows_holdout": rows["holdout"]},
            tags={
                **{f"data.{k}": str(v) for k, v in version.as_dict().items()},
                **{f"data.rows_{k}": str(v) for k, v in rows.items()},
                "data.holdout_fraction": str(settings.HOLDOUT_FRACTION),
                "data.id_column": settings.DATA_ID_COLUMN or "(row hash)",
                "retraining.run": str(run.pk),
                "retraining.trigger": run.trigger,
            },
            signature_input=features,
            input_example=features.head(5),
            run_name=f"run-{run.pk}",
        )
        _save(run, mlflow_run_id=logged.run_id, model_version=logged.version, challenger_metrics=challenger.metrics)
        note(f"challenger v{logged.version}: " + _fmt(challenger.metrics))

    with recorder.step("compare") as note:
        decision, champion_score = _compare(run, champion, champion_loaded, holdout, challenger)
        previous, previous_score = _score_previous(run, champion, holdout)
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

    with recorder.step("keep") as note:
        registry.tag_version(logged.version, "retraining.rejected", "; ".join(decision.reasons))
        reasons = list(decision.reasons)
        truth = holdout[target].astype(str).to_numpy()
        rollback = _rollback_if_regressed(run, champion, champion_score, previous, previous_score, truth)
        if rollback is not None:
            reasons.append(rollback.reason)
            note(f"kept the challenger out; rolled back to v{rollback.version}")
            return Status.KEPT, {"reasons": reasons, "deployment": rollback}
        note(f"kept champion v{champion.version if champion else '-'}")
    return Status.KEPT, {"reasons": reasons}


def _compare(
    run: RetrainingRun, champion: Deployment | None, champion_loaded: Any, holdout: Any, challenger: Score
) -> tuple[Decision, Score | None]:
    target = settings.TARGET_COLUMN
    if champion is None or champion_loaded is None:
        decision = decide(run.policy, challenger.metrics, None)
        _save(run, decision_rule=decision.rule, reasons=decision.reasons)
        return decision, None
    champion_score = evaluate(champion_loaded.model, holdout, target)
    truth = holdout[target].astype(str).to_numpy()
    comparison = paired_comparison(run.policy, truth, champion_score, challenger)
    decision = decide(run.policy, challenger.metrics, champion_score.metrics, comparison)
    _save(
        run,
        champion_version=champion.version,
        champion_metrics=champion_score.metrics,
        decision_rule=decision.rule,
        reasons=decision.reasons,
        p_value=comparison.p_value,
    )
    return decision, champion_score


def _score_previous(
    run: RetrainingRun, champion: Deployment | None, holdout: Any
) -> tuple[Deployment | None, Score | None]:
    """The champion served before the current one, scored on the same holdout (for step 7)."""
    previous = champion.previous if champion is not None else None
    while previous is not None and previous.version == champion.version:
        previous = previous.previous
    if previous is None:
        return None, None
    previous_score = evaluate(registry.load_version(previous.version).model, holdout, settings.TARGET_COLUMN)
    _save(run, previous_champion_version=previous.version, previous_champion_metrics=previous_score.metrics)
    return previous, previous_score


def _rollback_if_regressed(
    run: RetrainingRun,
    champion: Deployment | None,
    champion_score: Score | None,
    previous: Deployment | None,
    previous_score: Score | None,
    truth: Any,
) -> Deployment | None:
    """The seed's promise: roll back automatically if the champion regressed.

    Reached only when the challenger did not beat the current champion: if the previous champion
    now beats the current one under the policy on today's holdout, at the stricter level for
    bringing back a replaced model, it is served again.
    """
    if champion is None or champion_score is None or previous is None or previous_score is None:
        return None
    comparison = paired_comparison(run.policy, truth, champion_score, previous_score, returning=True)
    verdict = regressed(run.policy, champion_score.metrics, previous_score.metrics, comparison, returning=True)
    if not verdict.deploy:
        return None
    reason = (
        f"regression: champion v{champion.version} fell below the previous champion v{previous.version} "
        f"on run #{run.pk}'s holdout ({'; '.join(verdict.reasons)}); rolled back to v{previous.version}"
    )
    return services.deploy(
        previous.version,
        source=Deployment.Source.ROLLBACK,
        reason=reason,
        user=run.triggered_by,
        run_id=previous.run_id,
        metrics=previous_score.metrics,
        data_version=previous.data_version,
    )


def _record_in_mlflow(run: RetrainingRun) -> None:
    """The decision and the timings, next to the model they concern, so MLflow alone explains it."""
    if not run.mlflow_run_id:
        return
    metrics = {f"champion_{k}": v for k, v in run.champion_metrics.items()}
    metrics |= {f"previous_champion_{k}": v for k, v in run.previous_champion_metrics.items()}
    metrics |= {f"seconds_{s['name']}": s.get("duration", 0.0) for s in run.steps}
    if run.p_value is not None:
        metrics["p_value"] = run.p_value
    tags = {
        "retraining.status": run.status,
        "retraining.rule": run.decision_rule,
        "retraining.reasons": "; ".join(run.reasons),
        "retraining.champion_version": run.champion_version or "-",
        "retraining.policy": json.dumps(run.policy, sort_keys=True),
    }
    try:
        registry.annotate_run(run.mlflow_run_id, tags=tags, metrics=metrics)
    except registry.RegistryError as exc:
        logger.warning("run #%s: %s", run.pk, exc)


def _save(run: RetrainingRun, **fields: Any) -> None:
    for name, value in fields.items():
        setattr(run, name, value)
    RetrainingRun.objects.filter(pk=run.pk).update(**fields)


def _fmt(metrics: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())
