"""The retraining pipeline, read top to bottom like the DAG it replaces:

check for new data -> pull -> validate -> train the challenger -> compare with the champion on
the same holdout -> deploy, or keep (and roll back a regressed champion) -> notify.

`STEPS` is the whole pipeline: the panel shows it, a stopping worker reads which steps it may
interrupt, and `execute` runs it. A step is a function of the run's state and the edges that
returns the new state (retraining/state.py); it never touches the database itself. Adding a
step is one function here and one entry in `STEPS`.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Protocol

import numpy as np
from django.conf import settings
from django.utils import timezone

from ml import lineage
from ml.drift.profile import build_profile
from ml.estimators import train
from ml.evaluate import evaluate
from ml.features import prepare_features
from ml.keys import SplitError, SplitKey, row_keys
from ml.split import canonical_split, non_features, split_key
from ml.validate import validate
from predictor import drift_check
from predictor.models import Deployment
from retraining.data import BadData
from retraining.models import RetrainingRun
from retraining.pipeline.compare import compare
from retraining.pipeline.memory import release_free_memory
from retraining.pipeline.resources import Edges, real_edges, trace_in_mlflow, transient, unreachable
from retraining.pipeline.state import Challenger, RunState
from retraining.runs.recorder import Progress, Recorder
from retraining.runs.retries import Attempt
from retraining.runs.shutdown import WorkerStopped

logger = logging.getLogger(__name__)
Status = RetrainingRun.Status


def check(state: RunState, edges: Edges) -> RunState:
    champion = edges.deployments.champion()
    version = edges.source.version()
    state = replace(state, champion=champion, dataset=version)
    if champion is None:
        return replace(state, note=f"new data {version.md5} ({version.size} bytes)")
    if champion.data_version.get("md5") == version.md5:
        if state.evidence:
            return nothing_to_learn_from(state, champion.version)
        return replace(
            state,
            status=Status.SKIPPED,
            reasons=[f"no new data since version {champion.version} ({version.md5})"],
            note=f"no new data: {version.md5} is what v{champion.version} was trained on",
        )
    setup = (state.estimator, state.params, state.policy)
    decided = edges.history.already_decided(state.run_id, setup, version.md5, champion)
    if decided is not None:
        if state.evidence:
            return nothing_to_learn_from(state, champion.version)
        run_id, status = decided
        reason = f"no new data since run #{run_id} judged {version.md5} against v{champion.version}"
        note = f"no new data: run #{run_id} already judged {version.md5} ({status})"
        return replace(state, status=Status.SKIPPED, reasons=[f"{reason} ({status})"], note=note)
    return replace(state, note=f"new data {version.md5} ({version.size} bytes)")


def nothing_to_learn_from(state: RunState, champion_version: str) -> RunState:
    """A run started by drift or falling quality, with no new data: retraining on the data the
    champion already learnt from cannot fix either, so the run says what is needed instead."""
    found = state.evidence.get("summary") or f"the {state.trigger} trigger fired"
    reason = f"{found}; no new labelled data since v{champion_version}: publish data"
    return replace(state, status=Status.SKIPPED, reasons=[reason], note="no new labelled data: publish data")


def pull(state: RunState, edges: Edges) -> RunState:
    try:
        frame = edges.source.pull(state.dataset)
    except BadData as exc:
        return replace(state, status=Status.REJECTED, reasons=[str(exc)])
    content = lineage.fingerprint(frame)
    state = replace(state, frame=frame, fingerprint=content)
    champion = state.champion
    if champion is not None and champion.data_version.get("fingerprint") == content:
        if state.evidence:
            return nothing_to_learn_from(state, champion.version)
        return replace(
            state,
            status=Status.SKIPPED,
            reasons=[f"no new data: the same rows v{champion.version} was trained on, in another order ({content})"],
            note=f"no new data: the rows of v{champion.version} reordered",
        )
    return replace(state, note=f"{len(frame)} rows, {len(frame.columns)} columns")


def validate_data(state: RunState, edges: Edges) -> RunState:
    # The champion's schema, not the champion: validating never loads a model.
    schema = edges.models.schema(state.champion.version) if state.champion else None
    reference = edges.models.profile(state.champion.version) if state.champion else None
    key = _split_key(state, edges)
    # Each row's key is computed once: the one-sided class check and the split both read them.
    keys = row_keys(state.frame, key) if key is not None else None
    checked = validate(
        state.frame,
        settings.TARGET_COLUMN,
        min_rows=settings.MIN_TRAINING_ROWS,
        max_missing_share=settings.MAX_MISSING_SHARE,
        max_classes=settings.MAX_CLASSES,
        holdout_fraction=settings.HOLDOUT_FRACTION,
        id_column=settings.DATA_ID_COLUMN or None,
        expected_columns=schema.columns if schema else None,
        known_categories=schema.categories if schema else None,
        reference=reference,
        drift_thresholds=drift_check.configured_thresholds(),
        reject_on_drift=bool(state.policy.get("reject_on_drift", False)),
        key=key,
        keys=keys,
    )
    state = replace(state, split_key=key, validation=checked)
    if not checked.ok:
        return replace(state, status=Status.REJECTED, reasons=checked.problems)
    if key is not None:
        release_free_memory()  # what reading and checking the data left behind, before the split's copy
        state = _split(state, key, keys)
    return replace(state, note="; ".join(checked.warnings) or "valid")


def _split(state: RunState, key: SplitKey, keys: np.ndarray | None = None) -> RunState:
    """The training and holdout rows in canonical order (the same rows in any order train the same
    model), in place of the frame: from here on the run holds each row once."""
    parts = canonical_split(state.frame, settings.HOLDOUT_FRACTION, key, keys)
    return replace(
        state,
        frame=None,
        split_key=key,
        training=parts.training,
        holdout=parts.holdout,
        holdout_keys=parts.holdout_keys,
        trained_on=parts.trained_on,
    )


def _split_key(state: RunState, edges: Edges) -> SplitKey | None:
    """The champion's split key carried over to this data (steps/split.py), or None when this data
    cannot be keyed (a missing id column): validation and training then say what is wrong."""
    inherited = lineage.recorded_key(edges.models, state.champion.version) if state.champion else None
    try:
        return split_key(
            state.frame, settings.TARGET_COLUMN, settings.DATA_ID_COLUMN or None, settings.EXCLUDE_COLUMNS, inherited
        )
    except SplitError:
        return None


def train_challenger(state: RunState, edges: Edges) -> RunState:
    target = settings.TARGET_COLUMN
    id_column = settings.DATA_ID_COLUMN or None
    excluded = non_features(target, id_column, settings.EXCLUDE_COLUMNS)
    release_free_memory()  # the frame, let go once split, before fitting
    if state.training is None:
        # Validation could not key this data (no id column, no feature): this names why.
        state = _split(state, state.split_key or split_key(state.frame, target, id_column, settings.EXCLUDE_COLUMNS))
    key, training, holdout = state.split_key, state.training, state.holdout
    rows = state.rows
    if len(holdout) == 0 or training[target].nunique() < 2:
        reason = f"the split left too few rows to train and score a model ({rows})"
        return replace(state, status=Status.REJECTED, reasons=[reason])
    # Prepared once: the model, its signature, input example and profile all read these.
    features = prepare_features(training, target, excluded)
    model = train(training, target, state.estimator, state.params, settings.TRAINING_SEED, excluded, features)
    score = evaluate(model, holdout, target)
    record = lineage.record(
        target=target,
        features=list(map(str, features.columns)),
        excluded=excluded,
        key=key,
        holdout_fraction=settings.HOLDOUT_FRACTION,
        app_version=settings.APP_VERSION,
        estimator=state.estimator,
        params=state.params,
        seed=settings.TRAINING_SEED,
        data={**state.dataset.as_dict(), "fingerprint": state.fingerprint},
    )
    logged = edges.models.log_model(
        model,
        params={"estimator": state.estimator, **state.params, "seed": settings.TRAINING_SEED},
        metrics={**score.metrics, "rows_train": rows["train"], "rows_holdout": rows["holdout"]},
        tags={
            **{f"data.{k}": str(v) for k, v in state.dataset.as_dict().items()},
            **{f"data.rows_{k}": str(v) for k, v in rows.items()},
            **lineage.tags(record),
            "data.holdout_fraction": str(settings.HOLDOUT_FRACTION),
            "data.id_column": settings.DATA_ID_COLUMN or "(row hash)",
            "retraining.run": str(state.run_id),
            "retraining.trigger": state.trigger,
        },
        signature_input=features,
        input_example=features.head(5),
        run_name=f"run-{state.run_id}",
        # What new data and live inputs are compared with; an id column is never a drift signal.
        profile=build_profile(features.drop(columns=[settings.DATA_ID_COLUMN], errors="ignore"), score.predictions),
        artifacts=lineage.artifacts(state.trained_on, record),
    )
    challenger = Challenger(version=logged.version, run_id=logged.run_id, score=score)
    note = f"challenger v{logged.version}: " + _fmt(score.metrics)
    return replace(state, challenger=challenger, lineage=record, note=note)


def deploy(state: RunState, edges: Edges) -> RunState:
    challenger, decision = state.challenger, state.comparison.decision
    edges.models.check_serves(challenger.version)
    deployment_id = edges.deployments.deploy(
        challenger.version,
        source=Deployment.Source.BOOTSTRAP if state.champion is None else Deployment.Source.PIPELINE,
        reason="; ".join(decision.reasons),
        user=state.user,
        run_id=challenger.run_id,
        metrics=challenger.score.metrics,
        data_version={**state.dataset.as_dict(), "rows": state.rows, "fingerprint": state.fingerprint},
    )
    return replace(
        state,
        deployment_id=deployment_id,
        status=Status.DEPLOYED,
        reasons=decision.reasons,
        note=f"champion is now v{challenger.version}",
    )


def keep(state: RunState, edges: Edges) -> RunState:
    reasons = list(state.comparison.decision.reasons)
    edges.models.tag(state.challenger.version, "retraining.rejected", "; ".join(reasons))
    champion = f"v{state.champion.version}" if state.champion else "-"
    return replace(state, status=Status.KEPT, reasons=reasons, note=f"kept champion {champion}")


def rollback(state: RunState, edges: Edges) -> RunState:
    """The seed's promise: the champion regressed below the one before it, which is served again."""
    champion, comparison = state.champion, state.comparison
    previous = comparison.previous
    reason = (
        f"regression: champion v{champion.version} fell below the previous champion v{previous.version} "
        f"on run #{state.run_id}'s holdout ({'; '.join(comparison.rollback.reasons)}); "
        f"rolled back to v{previous.version}"
    )
    deployment_id = edges.deployments.deploy(
        previous.version,
        source=Deployment.Source.ROLLBACK,
        reason=reason,
        user=state.user,
        run_id=previous.run_id,
        metrics=comparison.previous_score.metrics,
        data_version=previous.data_version,
    )
    note = f"kept the challenger out; rolled back to v{previous.version}"
    return replace(state, deployment_id=deployment_id, reasons=[*state.reasons, reason], note=note)


def notify(state: RunState, edges: Edges) -> RunState:
    outcome = edges.notifier.notify(state.run_id)
    note = ", ".join(f"{channel} {result}" for channel, result in outcome.items()) or "no channel configured"
    return replace(state, notifications=outcome, note=note)


@dataclass(frozen=True)
class Step:
    name: str
    function: Callable[[RunState, Edges], RunState]
    # Whether a stopping worker may abandon the run here: nothing outside the run has changed yet.
    interruptible: bool = False
    when: Callable[[RunState], bool] = lambda state: True
    # Runs once the run is closed (its outcome is final), whatever ended it.
    after_close: bool = False


STEPS = (
    Step("check", check, interruptible=True),
    Step("pull", pull, interruptible=True),
    Step("validate", validate_data, interruptible=True),
    Step("train", train_challenger, interruptible=True),
    Step("compare", compare, interruptible=True),
    Step("deploy", deploy, when=lambda state: state.comparison.decision.deploy),
    Step("keep", keep, when=lambda state: not state.comparison.decision.deploy),
    Step("rollback", rollback, when=lambda state: state.comparison.rollback is not None),
    # A skipped run is news only when monitoring started it: the team must publish data.
    Step("notify", notify, when=lambda state: state.status != Status.SKIPPED or bool(state.evidence), after_close=True),
)
STEP_NAMES = tuple(step.name for step in STEPS)


def interruptible(name: str) -> bool:
    return any(step.name == name and step.interruptible for step in STEPS)


def execute(
    run_id: int,
    progress: Progress | None = None,
    edges: Edges | None = None,
    attempt: Attempt | None = None,
    worker: str = "",
) -> RetrainingRun:
    """Run a queued run to the end. A run that is not queued is left alone (redelivery).

    Given an `attempt` that is not the last (retraining/retries.py), a transient fault (MLflow or
    the data remote unreachable) puts the run back in the queue, saying what it waits for; the
    caller schedules the next attempt. On the last one it fails, saying it gave up. `worker`
    names the Celery worker running it, recorded as the run's owner.
    """
    recorder = Recorder.claim(run_id, progress, worker)
    if recorder is None:
        return RetrainingRun.objects.get(pk=run_id)
    edges = edges or real_edges()
    state = recorder.state()
    with recorder.working():
        try:
            state = run(state, edges, recorder, after_close=False)
            recorder.finish(state)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            if attempt is not None and transient(exc):
                what = unreachable(exc)
                if attempt.delay is not None:
                    at = timezone.localtime() + timedelta(seconds=attempt.delay)
                    waiting = (
                        f"{what}, attempt {attempt.number + 1} of {attempt.total}, "
                        f"next in {attempt.delay} s (at {at:%H:%M:%S %Z})"
                    )
                    logger.warning("run #%s: %s (%s)", run_id, waiting, error)
                    recorder.requeue(waiting, error)
                    return recorder.row()
                limit = f"RUN_RETRY_MAX_WAIT={settings.RUN_RETRY_MAX_WAIT} s"
                error = f"{what}: gave up after {attempt.total} attempts ({limit}); last error: {error}"
            logger.exception("run #%s failed", run_id)
            state = replace(state, status=Status.FAILED)
            recorder.finish(state, error, exc.signal_name if isinstance(exc, WorkerStopped) else "")
    trace_in_mlflow(recorder.row(), edges.models)
    run(state, edges, recorder, after_close=True)
    recorder.say(f"run #{run_id} finished: {state.status}")
    return recorder.row()


class StepRecorder(Protocol):
    def step(self, name: str, work: Callable[[RunState], RunState], state: RunState) -> RunState: ...


def run(state: RunState, edges: Edges, recorder: StepRecorder, *, after_close: bool) -> RunState:
    """The steps of one phase in order (before or after the run is closed), until one ends the run."""
    for step in STEPS:
        if step.after_close != after_close or not step.when(state):
            continue
        fresh = replace(state, note="")
        state = recorder.step(step.name, lambda current, step=step: step.function(current, edges), fresh)
        if state.ended_early and not after_close:
            break
    return state


def _fmt(metrics: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())
