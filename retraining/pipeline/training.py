"""The train step: the challenger fitted on the training rows (the built-in estimator or the
team's TRAINING_PIPELINE), scored on the holdout, and logged to MLflow with everything that
traces and reproduces it: its lineage, how the data was read, its profile and the training setup.
"""

import json
from dataclasses import replace
from typing import Any

import pandas as pd

from ml import lineage
from ml.drift.profile import build_profile, summarise
from ml.estimators import train
from ml.evaluate import evaluate
from ml.features import prepare_features
from ml.kinds import Kinds
from ml.plugin import build, columns_by_kind
from ml.positive import Positive, PositiveClassError, canonical, classes
from ml.positive import resolve as resolve_positive
from ml.split import non_features, split_key
from ml.task import CLASSIFICATION
from retraining import plugin
from retraining.models import RetrainingRun
from retraining.pipeline.memory import release_free_memory
from retraining.pipeline.recent import RECORD as RECENT
from retraining.pipeline.recent import fell_back, recent_rows
from retraining.pipeline.resources import Resources
from retraining.pipeline.state import Challenger, RunState
from retraining.pipeline.validation import split_rows
from retraining.runs.setup import TrainingSetup

Status = RetrainingRun.Status
# The whole training setup, logged beside each model (retraining/runs/setup.py; it holds no secret).
SETUP_ARTIFACT = "training_setup.json"


def setup_artifact(setup: TrainingSetup) -> bytes:
    return json.dumps({"fingerprint": setup.fingerprint, "setup": setup.serialise()}, sort_keys=True).encode()


def train_challenger(state: RunState, resources: Resources) -> RunState:
    setup = state.setup
    target, id_column = setup.target, setup.id_column
    excluded = non_features(target, id_column, state.left_out)
    release_free_memory()  # the frame, let go once split, before fitting
    if state.training is None:
        # Validation could not key this data (no id column, no feature): this names why.
        key = state.split_key or split_key(state.frame, target, id_column, state.left_out, salt=setup.salt)
        state = split_rows(state, key)
    key, training, holdout = state.split_key, state.training, state.holdout
    rows = state.rows
    if len(holdout) == 0 or training[target].nunique() < 2:
        reason = f"the split left too few rows to train and score a model ({rows})"
        return replace(state, status=Status.REJECTED, reasons=[reason])
    task = state.task.task if state.task is not None else CLASSIFICATION
    positive = None
    if task is CLASSIFICATION:
        try:
            positive = _kept(resolve_positive(training[target], declared_positive(state)), state)
        except PositiveClassError as exc:
            return replace(state, status=Status.REJECTED, reasons=[str(exc)])
    state = replace(state, positive=positive)
    # Prepared once: the model, its signature, input example and profile all read these.
    features = prepare_features(training, target, excluded)
    team, made_by = team_estimator(setup, state.params, features, state.kinds, state.policy)
    # After a shift, the rows new since the champion's data weighted to their share (recent.py).
    recent = recent_rows(state, resources)
    model = train(
        training,
        target,
        state.estimator,
        state.params,
        setup.seed,
        excluded,
        features,
        pipeline=team,
        name=made_by,
        task=task,
        weights=recent.weights,
    )
    recent = fell_back(recent, model, made_by or f"estimator {state.estimator}")
    score = evaluate(model, holdout, target, positive.label if positive else None, task)
    record = lineage.record(
        target=target,
        features=list(map(str, features.columns)),
        excluded=excluded,
        key=key,
        holdout_fraction=setup.holdout_fraction,
        app_version=setup.app_version,
        estimator=state.estimator,
        params=state.params,
        seed=setup.seed,
        data={**state.dataset.as_dict(), "fingerprint": state.fingerprint},
    )
    if recent.record:
        # How the rows were weighted: reproduce weights alike; the run page says it.
        record[RECENT] = recent.record
    pipeline = {"path": setup.pipeline, "version": plugin.version(setup.pipeline)} if setup.pipeline else {}
    if pipeline:
        # The team's code as well as ours: reproduce imports the same path, the version says whether it changed.
        record["pipeline"] = pipeline
    if state.kinds is not None:
        # How the data was read and what each column was taken for: reproduce reads the columns back.
        record |= {
            **state.reading,
            "columns": state.kinds.as_dict(),
            "ignored": state.kinds.ignored,
            "dates": state.kinds.dates,
        }
    # What new data and live inputs are compared with; an id column is never a drift signal.
    profile = build_profile(features.drop(columns=[id_column or ""], errors="ignore"), score.predictions)
    logged = resources.models.log_model(
        model,
        params={
            **({"pipeline": setup.pipeline} if setup.pipeline else {"estimator": state.estimator}),
            **state.params,
            "seed": setup.seed,
            "recent_rows_share": setup.recent_rows_share,
        },
        metrics={**score.metrics, "rows_train": rows["train"], "rows_holdout": rows["holdout"]},
        tags={
            **{f"data.{k}": str(v) for k, v in state.dataset.as_dict().items()},
            **{f"data.rows_{k}": str(v) for k, v in rows.items()},
            **lineage.tags(record),
            "data.holdout_fraction": str(setup.holdout_fraction),
            "data.id_column": id_column or "(row hash)",
            "retraining.run": str(state.run_id),
            "retraining.trigger": state.trigger,
            "retraining.setup_fingerprint": setup.fingerprint,
            **(
                {"retraining.pipeline": pipeline["path"], "retraining.pipeline_version": pipeline["version"]}
                if pipeline
                else {}
            ),
            # With the data it was found in: a deployment made by moving the alias by hand records
            # it too, so live quality scores served answers on the same class (predictor/predlog/).
            "data.positive_class": positive.label if positive else "",
            # Likewise the task: a run checks its data's task against the champion's.
            "data.task": task.name,
        },
        signature_input=features,
        input_example=features.head(5),
        run_name=f"run-{state.run_id}",
        profile=profile,
        artifacts={
            **lineage.artifacts(state.trained_on, record, state.held_out),
            SETUP_ARTIFACT: setup_artifact(setup),
        },
        ignored=state.kinds.ignored if state.kinds is not None else [*state.left_out, *filter(None, [id_column])],
        dates=state.kinds.dates if state.kinds is not None else {},
    )
    challenger = Challenger(version=logged.version, run_id=logged.run_id, score=score)
    note = f"challenger v{logged.version}: " + _fmt(score.metrics)
    if recent.record.get("weighted"):
        note += f"; rows new since the champion's data: {recent.record['weight_share']:.0%} of the fit"
    return replace(
        state,
        challenger=challenger,
        lineage=record,
        profile=summarise(profile),
        note=note,
        champion_rows=recent.champion_rows if recent.champion_rows is not None else state.champion_rows,
    )


def team_estimator(
    setup: TrainingSetup, params: dict[str, Any], features: pd.DataFrame, kinds: Kinds | None, policy: dict[str, Any]
) -> tuple[Any, str]:
    """The unfitted estimator of the team's pipeline (TRAINING_PIPELINE) and what errors call it, or
    (None, "") for the built-in one. Imported and checked before anything is fitted (ml/plugin.py)."""
    if not setup.pipeline:
        return None, ""
    factory = plugin.load(setup.pipeline)
    metric = str(policy.get("primary_metric") or "accuracy")
    estimator = build(factory, setup.pipeline, params, columns_by_kind(features, kinds), setup.seed, metric)
    return estimator, f"TRAINING_PIPELINE {setup.pipeline}"


def declared_positive(state: RunState) -> str:
    """The positive class declared in the run's policy (the panel), else by POSITIVE_CLASS, else ""."""
    return str(state.policy.get("positive_class") or state.setup.positive_class or "")


def _kept(positive: Positive | None, state: RunState) -> Positive | None:
    """The champion's positive class when none is declared and the rarer class changed with the
    data: the event the model exists to find stays the one both models are judged on, so a shift
    that makes it the commoner class does not turn the guard onto the other class."""
    recorded = state.champion.data_version.get("positive_class") if state.champion else ""
    if positive is None or declared_positive(state) or not recorded or canonical(recorded) == positive.label:
        return positive
    if canonical(recorded) not in classes(state.training[state.setup.target]):
        return positive
    reason = f"champion v{state.champion.version}'s positive class, kept (the rarer class now: {positive.label})"
    return Positive(canonical(recorded), reason)


def _fmt(metrics: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())
