"""The compare step: the challenger against the champion on holdout rows neither trained on,
and, when the challenger is kept, the champion against the one it replaced (rollback).

Rows a compared model trained on are found through the training-row keys each model keeps
(ml/lineage.py) and dropped before any model is scored; with too few rows left, no
decision is made on contaminated ones. A model whose training rows are unknown (registered by
hand) is compared only on rows first published after it was registered (published.py).
"""

from dataclasses import replace
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd

from ml import lineage
from ml.evaluate import Score, evaluate, restrict
from ml.gate.policy import Decision, decide, guard_comparisons, paired_comparison, regressed
from ml.keys import SplitKey
from ml.lineage import Unseen
from ml.positive import classes, label_changes
from ml.split import Exclusion
from ml.task import CLASSIFICATION, Task
from retraining.pipeline.fresh import judged_rows, whole_reason
from retraining.pipeline.published import Published, too_few_unseen
from retraining.pipeline.resources import Resources
from retraining.pipeline.state import Champion, RunState, Verdict

# A version replaced or rolled away from within this time needs the stricter level to be served again.
RETURN_WINDOW = timedelta(days=30)


def compare(state: RunState, resources: Resources) -> RunState:
    """The policy's verdict on holdout rows no compared model trained on; when the challenger is
    kept, whether the champion itself regressed below the one it replaced."""
    champion = state.champion
    task = _task(state)
    if champion is None:
        comparison = judge(state.policy, state.setup.target, state.holdout, state.challenger.score, None, task)
        return _compared(state, comparison)
    published = Published(state, resources)
    compared = {
        f"challenger v{state.challenger.version}": state.trained_on,
        f"champion v{champion.version}": lineage.trained_on(resources.models, champion.version),
    }
    unseen = _unseen(published, compared, {f"champion v{champion.version}": champion.version})
    exclusion = lineage.exclusion(state.holdout, compared, _holdout_keys(state), unseen)
    record = lineage.exclusion_record(exclusion)
    # Computed here, where both key sets are loaded, and kept with the run: comparing two runs later
    # reads it rather than fetching two models' artifacts on page load.
    changed = lineage.rows_changed(state.trained_on, compared[f"champion v{champion.version}"])
    record["training_rows_vs_champion"] = {"champion": champion.version, **changed} if changed else None
    held = lineage.rows_changed(state.held_out, lineage.held_out(resources.models, champion.version))
    record["holdout_rows_vs_champion"] = {"champion": champion.version, **held} if held else None
    too_few = _too_few(exclusion, unseen, state.setup.min_clean_holdout_rows)
    if too_few is not None:
        decision = Decision(False, "too_few_clean_rows", [too_few, *exclusion.reasons])
        return _compared(state, Verdict(decision, exclusion=record))
    holdout, truth = _clean_rows(state.holdout, state.setup.target, exclusion.clean, task)
    challenger_score = restrict(state.challenger.score, truth, exclusion.clean)
    champion_score = _score(
        resources, champion.version, holdout, state.setup.target, state.challenger.score.positive, task
    )
    judged = judged_rows(state, published, exclusion.clean)
    record["judged_on"] = judged.record
    said = []
    if judged.new:
        # Both models on the same new rows; the whole clean holdout's figures said beside.
        whole = {"challenger": challenger_score.metrics, f"champion v{champion.version}": champion_score.metrics}
        record["judged_on"] = {**judged.record, "whole_holdout": whole}
        said = [judged.record["why"], whole_reason(whole, state.policy.get("primary_metric", ""), len(holdout))]
        holdout, truth, subset = _subset(holdout, truth, judged.rows[exclusion.clean])
        challenger_score, champion_score = (
            restrict(challenger_score, truth, subset),
            restrict(champion_score, truth, subset),
        )
    challenger = replace(state.challenger, score=challenger_score)
    comparison = replace(
        judge(state.policy, state.setup.target, holdout, challenger.score, champion_score, task), exclusion=record
    )
    labels = _labels(state, champion_score) if task is CLASSIFICATION else {}
    comparison.decision.reasons.extend([*said, *exclusion.reasons, *_label_reasons(labels, champion.version)])
    state = replace(state, challenger=challenger, labels=labels)
    previous = resources.deployments.previous(champion) if not comparison.decision.deploy else None
    if previous is not None:
        comparison = _regression(state, resources, published, comparison, compared, unseen, previous, judged.rows)
    return _compared(state, comparison)


def _subset(holdout: pd.DataFrame, truth: np.ndarray, keep: np.ndarray) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    return holdout[keep].reset_index(drop=True), truth[keep], keep


def _unseen(published: Published, compared: dict[str, Any], versions: dict[str, str]) -> dict[str, Unseen]:
    """For each compared model of unknown training rows, the holdout rows it can be proved never to have seen."""
    return {name: published.unseen(versions[name]) for name in versions if compared[name] is None}


def _too_few(exclusion: Exclusion, unseen: dict[str, Unseen], minimum: int) -> str | None:
    """Why no decision can be made on these rows: first a model of unknown training rows with too
    few rows it can be proved never to have seen; None when there are enough clean rows."""
    for name, proved in unseen.items():
        if proved.count < minimum:
            return too_few_unseen(proved, name, minimum)
    return exclusion.too_few(minimum)


def _regression(
    state: RunState,
    resources: Resources,
    published: Published,
    comparison: Verdict,
    compared: dict[str, Any],
    unseen: dict[str, Unseen],
    previous: Champion,
    scored: np.ndarray,
) -> Verdict:
    """The champion against the one it replaced, on rows none of the three models trained on (nor
    may have, when its training rows are unknown). A version replaced or rolled away from recently
    needs the stricter return level to come back."""
    name = f"previous champion v{previous.version}"
    compared = {**compared, name: lineage.trained_on(resources.models, previous.version)}
    unseen = {**unseen, **_unseen(published, compared, {name: previous.version})}
    exclusion = lineage.exclusion(state.holdout, compared, _holdout_keys(state), unseen)
    record = {**comparison.exclusion, "rollback": lineage.exclusion_record(exclusion)}
    too_few = _too_few(exclusion, unseen, state.setup.min_clean_holdout_rows)
    # The rows the challenger was judged on (the new ones, when it was): the rollback check's too.
    keep = exclusion.clean & scored
    if too_few is None and keep.sum() < state.setup.min_clean_holdout_rows:
        too_few = f"{int(keep.sum())} of the judged rows left, fewer than MIN_CLEAN_HOLDOUT_ROWS"
    if too_few is not None:
        comparison.decision.reasons.append(f"no rollback check: {too_few}")
        return replace(comparison, exclusion=record)
    task = _task(state)
    holdout, truth = _clean_rows(state.holdout, state.setup.target, keep, task)
    # The champion was scored on the rows `scored` marks; these are a subset of them.
    champion_score = restrict(comparison.champion_score, truth, keep[scored])
    previous_score = _score(resources, previous.version, holdout, state.setup.target, champion_score.positive, task)
    returning = previous.version in resources.deployments.recently_replaced(RETURN_WINDOW)
    back = paired_comparison(state.policy, truth, champion_score, previous_score, returning=returning)
    verdict = regressed(
        state.policy, champion_score.metrics, previous_score.metrics, back, returning=returning, task=task
    )
    rollback = verdict if verdict.deploy else None
    return replace(comparison, previous=previous, previous_score=previous_score, rollback=rollback, exclusion=record)


def _clean_rows(holdout: pd.DataFrame, target: str, keep: np.ndarray, task: Task) -> tuple[pd.DataFrame, np.ndarray]:
    """The holdout rows `keep` marks and their labels as the task reads them; the holdout itself,
    not a copy, when it is every row (the usual case, spared a copy and the challenger's rescoring)."""
    rows = holdout if keep.all() else holdout[keep].reset_index(drop=True)
    return rows, task.labels(rows[target])


def _task(state: RunState) -> Task:
    return state.task.task if state.task is not None else CLASSIFICATION


def _holdout_keys(state: RunState) -> dict[SplitKey, np.ndarray]:
    """The holdout rows' keys the split computed, so that matching them costs no hashing."""
    if state.split_key is None or state.holdout_keys is None:
        return {}
    return {state.split_key: state.holdout_keys}


def _compared(state: RunState, comparison: Verdict) -> RunState:
    decision = comparison.decision
    note = _verdict(decision.deploy, decision.rule)
    return replace(state, verdict=comparison, reasons=decision.reasons, note=note)


def judge(
    policy: dict[str, Any],
    target: str,
    holdout: pd.DataFrame,
    challenger: Score,
    champion: Score | None,
    task: Task = CLASSIFICATION,
) -> Verdict:
    """Challenger against champion (if there is one) on the same holdout rows, under the policy."""
    if champion is None:
        return Verdict(decide(policy, challenger.metrics, None, task=task))
    truth = task.labels(holdout[target])
    paired = paired_comparison(policy, truth, champion, challenger)
    guards = guard_comparisons(policy, truth, champion, challenger)
    decision = decide(policy, challenger.metrics, champion.metrics, paired, task=task, guards=guards)
    return Verdict(decision=decision, champion_score=champion, paired=paired)


def _score(
    resources: Resources, version: str, holdout: pd.DataFrame, target: str, positive: str | None, task: Task
) -> Score:
    """A served version (champion or the one before it), loaded to be scored on this holdout, on the
    same positive class as the challenger and with its answers as canonical classes (numbers for a
    regression)."""
    return evaluate(resources.models.load(version), holdout, target, positive, task)


def _labels(state: RunState, champion: Score) -> dict[str, list[str]]:
    """The data's classes (training and holdout rows) against the classes the champion knows, both
    canonical: a change of type alone (0/1 to 0.0/1.0) is no change. Unknown without the champion's
    classes (a model without probabilities)."""
    target = state.setup.target
    data = classes([*state.training[target].unique(), *state.holdout[target].unique()])
    if not champion.classes:
        return {"data": data}
    return {"data": data, "champion": list(champion.classes), **label_changes(data, champion.classes)}


def _label_reasons(labels: dict[str, list[str]], version: str) -> list[str]:
    reasons = []
    if labels.get("appeared"):
        reasons.append(f"labels new in this data, unknown to champion v{version}: {', '.join(labels['appeared'])}")
    if labels.get("disappeared"):
        gone = ", ".join(labels["disappeared"])
        reasons.append(f"labels champion v{version} was trained on and absent from this data: {gone}")
    return reasons


def _verdict(deploy: bool, rule: str) -> str:
    return f"{'deploy' if deploy else 'keep'} ({rule})"
