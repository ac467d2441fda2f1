"""The pipeline's steps, in the order the flow runs them (retraining/pipeline/flow.py); the validate,
train and compare steps have modules of their own (validation.py, training.py, compare.py).

A step is a function of the run's state and the resources that returns the new state
(retraining/pipeline/state.py); it never touches the database itself, and what it needs to know
of the configuration comes with the state (`state.setup`), not from settings.
"""

from dataclasses import replace

import pandas as pd

from ml import lineage
from ml.kinds import apply, resolve
from ml.task import CLASSIFICATION
from predictor.models import Deployment
from retraining.data import BadData
from retraining.models import RetrainingRun
from retraining.pipeline.resources import Resources
from retraining.pipeline.state import Champion, RunState

Status = RetrainingRun.Status


def check(state: RunState, resources: Resources) -> RunState:
    champion = resources.deployments.champion()
    version = resources.source.version()
    state = replace(state, champion=champion, dataset=version)
    new_data = f"new data {version.md5} ({_size(version.size)})"
    if champion is None:
        return replace(state, note=new_data)
    if version.same_data(champion.data_version):
        if state.evidence:
            return from_feedback(state, resources) or nothing_to_learn_from(state, champion.version)
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
            return from_feedback(state, resources) or nothing_to_learn_from(state, champion.version)
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


def from_feedback(state: RunState, resources: Resources) -> RunState | None:
    """A monitoring run with no new data, when automatic publishing is on and enough labels are new:
    they are published as the next data version and the run goes on with it; else None."""
    if resources.feedback is None:
        return None
    published = resources.feedback.publish()
    if published is None:
        return None
    version = resources.source.version()
    sources = ", ".join(f"{name} ({rows})" for name, rows in published["sources"].items())
    period = f"{published['predicted_from'][:16]} .. {published['predicted_to'][:16]}"
    note = (
        f"published {published['rows']} labelled predictions as {published['file']} (labels from {sources}, "
        f"predictions of {period}): new data {version.md5}"
    )
    return replace(state, dataset=version, feedback=published, note=note)


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
