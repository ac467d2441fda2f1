"""The pipeline's steps, in the order the flow runs them (retraining/pipeline/flow.py); the validate
and compare steps have modules of their own (validation.py, compare.py).

A step is a function of the run's state and the resources that returns the new state
(retraining/pipeline/state.py); it never touches the database itself, and what it needs to know
of the configuration comes with the state (`state.setup`), not from settings.
"""

import json
import logging
from dataclasses import replace
from typing import Any

import pandas as pd

from ml import lineage
from ml.drift.profile import build_profile
from ml.estimators import train
from ml.evaluate import evaluate
from ml.features import prepare_features
from ml.kinds import Kinds, apply, resolve
from ml.plugin import build, columns_by_kind
from ml.positive import PositiveClassError
from ml.positive import resolve as resolve_positive
from ml.split import non_features, split_key
from ml.task import CLASSIFICATION
from predictor.models import Deployment
from retraining import plugin
from retraining.data import BadData
from retraining.models import RetrainingRun
from retraining.pipeline.memory import release_free_memory
from retraining.pipeline.resources import Resources
from retraining.pipeline.state import Challenger, Champion, RunState
from retraining.pipeline.validation import split_rows
from retraining.runs.setup import TrainingSetup

logger = logging.getLogger(__name__)
Status = RetrainingRun.Status
# The whole training setup, logged beside each model (retraining/runs/setup.py; it holds no secret).
SETUP_ARTIFACT = "training_setup.json"


def setup_artifact(setup: TrainingSetup) -> bytes:
    return json.dumps({"fingerprint": setup.fingerprint, "setup": setup.serialise()}, sort_keys=True).encode()


def check(state: RunState, resources: Resources) -> RunState:
    champion = resources.deployments.champion()
    version = resources.source.version()
    state = replace(state, champion=champion, dataset=version)
    new_data = f"new data {version.md5} ({_size(version.size)})"
    if champion is None:
        return replace(state, note=new_data)
    if version.same_data(champion.data_version):
        if state.evidence:
            return nothing_to_learn_from(state, champion.version)
        already = f"no new data since version {champion.version} ({version.md5})"
        return _judge_again(state, champion) or replace(
            state,
            status=Status.SKIPPED,
            reasons=[already + _unknown_setup(champion)],
            note=f"no new data: {version.md5} is what v{champion.version} was trained on",
        )
    setup = (state.setup.fingerprint, state.policy)
    decided = resources.history.already_decided(state.run_id, setup, version, champion)
    if decided is not None:
        if state.evidence:
            return nothing_to_learn_from(state, champion.version)
        run_id, status = decided
        if state.forced:
            return replace(state, note=f"{version.md5} was judged by run #{run_id} ({status}); {_forced(state)}")
        reason = f"no new data since run #{run_id} judged {version.md5} against v{champion.version}"
        note = f"no new data: run #{run_id} already judged {version.md5} ({status})"
        return replace(state, status=Status.SKIPPED, reasons=[f"{reason} ({status})"], note=note)
    if champion.data_version.get("md5") == version.md5:
        # The same bytes under a changed schema file: read differently, so judged again.
        new_data = f"the data's schema file changed since v{champion.version} ({version.md5} read anew)"
    return replace(state, note=new_data)


def _size(size: int | None) -> str:
    return "size unknown" if size is None else f"{size} bytes"


def _judge_again(state: RunState, champion: Champion) -> RunState | None:
    """The champion's own data trained again: forced, or because the setup changed since; else None."""
    if state.forced:
        return replace(state, note=f"no new data since v{champion.version}; {_forced(state)}")
    recorded = champion.data_version.get("setup_fingerprint")
    if recorded and recorded != state.setup.fingerprint:
        note = (
            f"no new data since v{champion.version}, but the training setup changed "
            f"({recorded[:12]} -> {state.setup.fingerprint[:12]}): training again on the same data"
        )
        return replace(state, note=note)
    return None


def _unknown_setup(champion: Champion) -> str:
    if champion.data_version.get("setup_fingerprint"):
        return ""
    return f"; v{champion.version}'s training setup was not recorded, so a changed setup is not seen: force the run"


def _forced(state: RunState) -> str:
    by, at, why = (state.forced.get(name) for name in ("by", "at", "why"))
    return f"forced by {by or 'unknown'} at {at or 'unknown'}: {why or 'no reason given'}"


def nothing_to_learn_from(state: RunState, champion_version: str) -> RunState:
    """A run started by drift or falling quality, with no new data: retraining on the data the
    champion already learnt from cannot fix either, so the run says what is needed instead."""
    found = state.evidence.get("summary") or f"the {state.trigger} trigger fired"
    reason = f"{found}; no new labelled data since v{champion_version}: publish data"
    return replace(state, status=Status.SKIPPED, reasons=[reason], note="no new labelled data: publish data")


def pull(state: RunState, resources: Resources) -> RunState:
    try:
        frame = resources.source.pull(state.dataset)
    except BadData as exc:
        return replace(state, status=Status.REJECTED, reasons=[str(exc)])
    content = lineage.fingerprint(frame)
    state = replace(state, frame=frame, fingerprint=content)
    champion = state.champion
    same_schema = champion is not None and champion.data_version.get("schema") == state.dataset.schema
    if champion is not None and champion.data_version.get("fingerprint") == content and same_schema:
        if state.evidence:
            return nothing_to_learn_from(state, champion.version)
        again = _judge_again(state, champion)
        if again is not None:
            return replace(again, note=f"the rows of v{champion.version} reordered; {again.note}")
        return replace(
            state,
            status=Status.SKIPPED,
            reasons=[f"no new data: the same rows v{champion.version} was trained on, in another order ({content})"],
            note=f"no new data: the rows of v{champion.version} reordered",
        )
    return _read_kinds(state, frame)


def _read_kinds(state: RunState, frame: pd.DataFrame) -> RunState:
    """Each column's kind resolved (settings, the schema file, inference) and applied; rows without a
    label left out when DROP_UNLABELLED_ROWS says so, counted."""
    setup = state.setup
    declared = frame.attrs.get("declared") or {}
    reading = {"read_as": frame.attrs.get("read_as", {}), "declared": declared}
    kinds = resolve(frame, setup.target, setup.id_column, setup.exclude, declared.get("columns"))
    frame = apply(frame, kinds)
    note = f"{len(frame)} rows, {len(frame.columns)} columns"
    if setup.drop_unlabelled and setup.target in frame.columns:
        unlabelled = frame[setup.target].isna()
        count = int(unlabelled.sum())
        reading["unlabelled_left_out"] = count
        if count:
            frame = frame.loc[~unlabelled].reset_index(drop=True)
            note += f"; {count} rows without a label left out (DROP_UNLABELLED_ROWS)"
    return replace(state, frame=frame, kinds=kinds, reading=reading, note=note)


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
            positive = resolve_positive(training[target], declared_positive(state))
        except PositiveClassError as exc:
            return replace(state, status=Status.REJECTED, reasons=[str(exc)])
    state = replace(state, positive=positive)
    # Prepared once: the model, its signature, input example and profile all read these.
    features = prepare_features(training, target, excluded)
    team, made_by = team_estimator(setup, state.params, features, state.kinds, state.policy)
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
    )
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
    logged = resources.models.log_model(
        model,
        params={
            **({"pipeline": setup.pipeline} if setup.pipeline else {"estimator": state.estimator}),
            **state.params,
            "seed": setup.seed,
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
        # What new data and live inputs are compared with; an id column is never a drift signal.
        profile=build_profile(features.drop(columns=[id_column or ""], errors="ignore"), score.predictions),
        artifacts={**lineage.artifacts(state.trained_on, record), SETUP_ARTIFACT: setup_artifact(setup)},
        ignored=state.kinds.ignored if state.kinds is not None else [*state.left_out, *filter(None, [id_column])],
        dates=state.kinds.dates if state.kinds is not None else {},
    )
    challenger = Challenger(version=logged.version, run_id=logged.run_id, score=score)
    note = f"challenger v{logged.version}: " + _fmt(score.metrics)
    return replace(state, challenger=challenger, lineage=record, note=note)


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


def deploy(state: RunState, resources: Resources) -> RunState:
    challenger, decision = state.challenger, state.verdict.decision
    resources.models.check_serves(challenger.version)
    deployment_id = resources.deployments.deploy(
        challenger.version,
        source=Deployment.Source.BOOTSTRAP if state.champion is None else Deployment.Source.PIPELINE,
        reason="; ".join(decision.reasons),
        user=state.user,
        run_id=challenger.run_id,
        metrics=challenger.score.metrics,
        data_version={
            **state.dataset.as_dict(),
            "rows": state.rows,
            "fingerprint": state.fingerprint,
            # What the next run's check compares its own setup with (a changed setup trains again).
            "setup_fingerprint": state.setup.fingerprint,
            # Live quality scores the served answers on the class the holdout metrics are for.
            "positive_class": state.positive.label if state.positive else "",
            "task": state.task.task.name if state.task is not None else CLASSIFICATION.name,
        },
    )
    return replace(
        state,
        deployment_id=deployment_id,
        status=Status.DEPLOYED,
        reasons=decision.reasons,
        note=f"champion is now v{challenger.version}",
    )


def keep(state: RunState, resources: Resources) -> RunState:
    reasons = list(state.verdict.decision.reasons)
    resources.models.tag(state.challenger.version, "retraining.rejected", "; ".join(reasons))
    champion = f"v{state.champion.version}" if state.champion else "-"
    return replace(state, status=Status.KEPT, reasons=reasons, note=f"kept champion {champion}")


def rollback(state: RunState, resources: Resources) -> RunState:
    """The seed's promise: the champion regressed below the one before it, which is served again."""
    champion, comparison = state.champion, state.verdict
    previous = comparison.previous
    reason = (
        f"regression: champion v{champion.version} fell below the previous champion v{previous.version} "
        f"on run #{state.run_id}'s holdout ({'; '.join(comparison.rollback.reasons)}); "
        f"rolled back to v{previous.version}"
    )
    deployment_id = resources.deployments.deploy(
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


def notify(state: RunState, resources: Resources) -> RunState:
    outcome = resources.notifier.notify(state.run_id)
    note = ", ".join(f"{channel} {result}" for channel, result in outcome.items()) or "no channel configured"
    return replace(state, notifications=outcome, note=note)


def _fmt(metrics: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())
