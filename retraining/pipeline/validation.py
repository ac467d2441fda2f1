"""The validate step: what the model learns (the task, declared or inferred from the target), the
pulled data checked before anything is trained (ml/validate.py: every problem at once), and the
rows split into training and holdout rows by the champion's split key carried over.

Validating never loads a model: the champion's schema and training profile are what it reads.
"""

from dataclasses import replace

import numpy as np

from ml import lineage
from ml.keys import SplitError, SplitKey, row_keys
from ml.split import canonical_split, split_key
from ml.task import CLASSIFICATION, Inferred, TaskError, infer
from ml.validate import validate
from retraining.models import RetrainingRun
from retraining.pipeline.memory import release_free_memory
from retraining.pipeline.resources import Resources
from retraining.pipeline.state import RunState

Status = RetrainingRun.Status


def validate_data(state: RunState, resources: Resources) -> RunState:
    state = _task(state)
    if state.ended_early:
        return state
    # The champion's schema, not the champion: validating never loads a model.
    schema = resources.models.schema(state.champion.version) if state.champion else None
    reference = resources.models.profile(state.champion.version) if state.champion else None
    key = _split_key(state, resources)
    # Each row's key is computed once: the one-sided class check and the split both read them.
    keys = row_keys(state.frame, key) if key is not None else None
    setup = state.setup
    checked = validate(
        state.frame,
        setup.target,
        min_rows=setup.min_rows,
        max_missing_share=setup.max_missing_share,
        max_classes=setup.max_classes,
        holdout_fraction=setup.holdout_fraction,
        id_column=setup.id_column,
        expected_columns=schema.columns if schema else None,
        known_categories=schema.categories if schema else None,
        reference=reference,
        drift_thresholds=setup.drift,
        reject_on_drift=bool(state.policy.get("reject_on_drift", False)),
        key=key,
        keys=keys,
        ignored=[*state.left_out, *([setup.id_column] if setup.id_column else [])],
        task=state.task.task,
    )
    checked.warnings[:0] = _reading_warnings(state)
    state = replace(state, split_key=key, validation=checked)
    if not checked.ok:
        return replace(state, status=Status.REJECTED, reasons=checked.problems)
    if key is not None:
        release_free_memory()  # what reading and checking the data left behind, before the split's copy
        state = split_rows(state, key, keys)
    task = f"{state.task.task.name} ({state.task.reason})"
    return replace(state, note="; ".join([*checked.warnings, task]) if checked.warnings else f"valid; {task}")


def _task(state: RunState) -> RunState:
    """What the model learns, declared (TASK) or inferred from the target, and why; a run whose data
    is another task than its champion's fails: the champion's holdout figures and live quality
    could not be compared with the challenger's."""
    setup = state.setup
    if setup.target not in state.frame.columns:
        inferred = Inferred(CLASSIFICATION, "the target column is missing")  # validation names it
    else:
        try:
            inferred = infer(state.frame[setup.target], setup.max_classes, setup.task)
        except TaskError as exc:
            return replace(state, status=Status.REJECTED, reasons=[str(exc)])
    state = replace(state, task=inferred, reading={**state.reading, "task": _task_record(inferred)})
    champion = state.champion
    if champion is None:
        return state
    served = champion.data_version.get("task") or CLASSIFICATION.name
    if served != inferred.task.name:
        reason = (
            f"the data's task is {inferred.task.name} ({inferred.reason}), but champion v{champion.version} is a "
            f"{served} model: a {inferred.task.name} challenger cannot be judged against it. The champion stays; "
            f"set TASK={served} to keep learning a {served}, or deploy a {inferred.task.name} model by hand"
        )
        return replace(
            state, status=Status.FAILED, reasons=[reason], note=f"task changed: {served} -> {inferred.task.name}"
        )
    return state


def _task_record(inferred: Inferred) -> dict[str, str]:
    return {
        "name": inferred.task.name,
        "reason": inferred.reason,
        **({"warning": inferred.warning} if inferred.warning else {}),
    }


def _reading_warnings(state: RunState) -> list[str]:
    warnings = list(state.kinds.warnings) if state.kinds is not None else []
    if state.task is not None and state.task.warning:
        warnings.append(state.task.warning)
    left_out = state.reading.get("unlabelled_left_out")
    if left_out:
        warnings.append(f"{left_out} rows without a label in {state.setup.target!r} left out (DROP_UNLABELLED_ROWS)")
    return warnings


def split_rows(state: RunState, key: SplitKey, keys: np.ndarray | None = None) -> RunState:
    """The training and holdout rows in canonical order (the same rows in any order train the same
    model), in place of the frame: from here on the run holds each row once."""
    parts = canonical_split(state.frame, state.setup.holdout_fraction, key, keys)
    return replace(
        state,
        frame=None,
        split_key=key,
        training=parts.training,
        holdout=parts.holdout,
        holdout_keys=parts.holdout_keys,
        trained_on=parts.trained_on,
    )


def _split_key(state: RunState, resources: Resources) -> SplitKey | None:
    """The champion's split key carried over to this data (ml/split.py), or None when this data
    cannot be keyed (a missing id column): validation and training then say what is wrong."""
    inherited = lineage.recorded_key(resources.models, state.champion.version) if state.champion else None
    try:
        setup = state.setup
        return split_key(state.frame, setup.target, setup.id_column, state.left_out, inherited, salt=setup.salt)
    except SplitError:
        return None
