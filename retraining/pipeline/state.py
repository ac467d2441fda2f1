"""What a run knows as it goes: plain dataclasses the steps read and return, never database rows.

Each step receives a `RunState` and returns a new one (`dataclasses.replace`), adding what it
found. The recorder writes `row_fields(state)` to the run row after every step, so adding a fact
to the run is a field here, one line in `row_fields`, and a column on the model.
"""

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from ml.evaluate import Score
from ml.gate.policy import Decision
from ml.gate.significance import Comparison
from ml.keys import SplitKey
from ml.kinds import Kinds
from ml.positive import Positive
from ml.split import TrainingRows
from ml.task import Inferred
from ml.validate import Validation
from retraining.data import DatasetVersion
from retraining.runs.setup import TrainingSetup

# What a run that scored a model with more than two classes records instead of a positive class.
MACRO = "more than two classes: no positive class, precision, recall and F1 are macro averages over the classes"
# How a step says it ended the run early: no new data, data unfit to train on, or data the
# champion's task cannot judge (a step that fails the run says why, and the champion stays).
ENDED_EARLY = frozenset({"skipped", "rejected", "failed"})


@dataclass(frozen=True)
class Champion:
    """A served version as the pipeline sees it (read from a Deployment row by the edge)."""

    deployment_id: int
    version: str
    created_at: datetime
    run_id: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    data_version: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Schema:
    """The champion's input columns ([{"name", "type", ...}]) and the categories it knows."""

    columns: list[dict[str, Any]]
    categories: dict[str, list[str]]


@dataclass(frozen=True)
class Challenger:
    """The model trained by this run, as logged and registered in MLflow."""

    version: str
    run_id: str
    score: Score


@dataclass(frozen=True)
class Verdict:
    """The challenger against the champion on the same holdout, and what the policy made of it.

    `rollback` is set when the challenger is kept and the champion fell below the champion served
    before it: that previous one is served again.
    """

    decision: Decision
    champion_score: Score | None = None
    # The paired test of the two models on the same rows: interval, p-value, detectable gain.
    paired: Comparison | None = None
    previous: Champion | None = None
    previous_score: Score | None = None
    rollback: Decision | None = None
    # Which holdout rows the compared models had trained on and were dropped (lineage.exclusion_record).
    exclusion: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunState:
    # What the run was asked to do (copied from its row when it is claimed).
    run_id: int
    trigger: str
    user: Any
    # The setup frozen when the run was queued (retraining/runs/setup.py): estimator, params, policy, columns.
    setup: TrainingSetup
    # Why a monitoring trigger started the run: {"summary", "drift", "degradation"} (retraining/monitoring/).
    evidence: dict[str, Any] = field(default_factory=dict)
    # Who made the run go ahead on data already judged, when and why ({} when nobody did).
    forced: dict[str, Any] = field(default_factory=dict)
    # What the steps found, in the order they find it.
    champion: Champion | None = None
    dataset: DatasetVersion | None = None
    # Labelled predictions the run published as that data ({} when it published none): rows,
    # sources, period (retraining/pipeline/feedback.py), said on the run because they are not a random sample.
    feedback: dict[str, Any] = field(default_factory=dict)
    frame: pd.DataFrame | None = None
    # The data's content whatever its row order (lineage.fingerprint).
    fingerprint: str = ""
    # Each column's kind (settings, the schema file, inference), and how the data was read:
    # {"read_as", "declared", "columns", "unlabelled_left_out"}, recorded with the model.
    kinds: Kinds | None = None
    reading: dict[str, Any] = field(default_factory=dict)
    # The split training uses, inherited from the champion; found before validation checks it.
    split_key: SplitKey | None = None
    # What the model learns (classification, regression): declared or inferred, and why (ml/task.py).
    task: Inferred | None = None
    validation: Validation | None = None
    training: pd.DataFrame | None = None
    trained_on: TrainingRows | None = None
    # What the challenger was made from, enough to make it again (`manage.py reproduce`).
    lineage: dict[str, Any] = field(default_factory=dict)
    # The challenger's drift profile in brief (ml/drift/profile.summarise), kept with the run so
    # that two runs' profiles are compared without loading either model's.
    profile: dict[str, Any] = field(default_factory=dict)
    holdout: pd.DataFrame | None = None
    # The holdout rows' keys under `split_key`, row for row (ml/split.py): computed once, by the split.
    holdout_keys: np.ndarray | None = None
    # The whole-row value hashes of the champion's data version (fresh.champion_rows): read once a
    # run, by the first step that asks (training weighs its new rows, compare judges on them).
    champion_rows: np.ndarray | None = None
    # The class precision, recall, F1 and ROC AUC are computed for, and why; None beyond two classes.
    positive: Positive | None = None
    # The data's classes against the champion's: {"data", "champion", "appeared", "disappeared"}.
    labels: dict[str, list[str]] = field(default_factory=dict)
    challenger: Challenger | None = None
    verdict: Verdict | None = None
    deployment_id: int | None = None
    notifications: dict[str, str] = field(default_factory=dict)
    # How the run ends: set by the step that decides it.
    status: str = ""
    reasons: list[str] = field(default_factory=list)
    # One line about the step just run, shown beside it in the panel.
    note: str = ""

    @classmethod
    def of(cls, run: Any) -> "RunState":
        """The starting state of a claimed run: what it was asked to do, with the setup it was queued with."""
        if run.setup:
            setup = TrainingSetup.deserialise(run.setup)
        else:  # queued before runs carried their setup: this process's settings, the row's training choices
            setup = replace(TrainingSetup.from_settings(run.policy), estimator=run.estimator, params=dict(run.params))
        return cls(
            run_id=run.pk,
            trigger=run.trigger,
            user=run.triggered_by,
            setup=setup,
            evidence=dict(run.evidence),
            forced=dict(run.forced),
        )

    @property
    def estimator(self) -> str:
        return self.setup.estimator

    @property
    def params(self) -> dict[str, Any]:
        return self.setup.params

    @property
    def policy(self) -> dict[str, Any]:
        return self.setup.policy

    def row_fields(self) -> dict[str, Any]:
        return row_fields(self)

    @property
    def left_out(self) -> tuple[str, ...]:
        """The columns besides the target and the id that are never model inputs: EXCLUDE_COLUMNS and
        what the columns' kinds leave out (exclusions, free text, datetime columns read as parts)."""
        setup = self.setup
        kinds = self.kinds.left_out if self.kinds is not None else []
        return tuple(c for c in dict.fromkeys([*setup.exclude, *kinds]) if c not in (setup.target, setup.id_column))

    @property
    def held_out(self) -> TrainingRows | None:
        """The holdout rows as a set of keys under the split key, as a model keeps them (ml/lineage.py)."""
        if self.split_key is None or self.holdout_keys is None:
            return None
        return TrainingRows(self.split_key, np.unique(self.holdout_keys))

    @property
    def ended_early(self) -> bool:
        return self.status in ENDED_EARLY

    @property
    def rows(self) -> dict[str, int]:
        # The frame is let go once split: its rows are the training rows and the holdout rows.
        if self.training is None or self.holdout is None:
            return {}
        return {
            "total": len(self.training) + len(self.holdout),
            "train": len(self.training),
            "holdout": len(self.holdout),
        }


def row_fields(state: RunState) -> dict[str, Any]:
    """The run row's columns as this state fills them; what is not known yet is left out."""
    fields: dict[str, Any] = {
        "rows": state.rows,
        "reasons": state.reasons,
        "deployment_id": state.deployment_id,
        "notifications": state.notifications,
    }
    if state.dataset is not None:
        fields["dataset"] = state.dataset.as_dict() | ({"feedback": state.feedback} if state.feedback else {})
    if state.validation is not None:
        fields["validation"] = state.validation.as_dict()
    # Before a model records how its data was read, the run shows it from the pull on.
    fields["lineage"] = state.lineage or (
        {**state.reading, "columns": state.kinds.as_dict()} if state.kinds is not None else {}
    )
    if state.positive is not None:
        fields |= {"positive_class": state.positive.label, "positive_reason": state.positive.reason}
    elif state.challenger is not None:
        fields["positive_reason"] = MACRO
    fields["labels"] = state.labels
    fields["profile"] = state.profile
    if state.challenger is not None:
        fields |= {
            "mlflow_run_id": state.challenger.run_id,
            "model_version": state.challenger.version,
            "challenger_metrics": state.challenger.score.metrics,
        }
    compared = state.verdict
    if compared is not None:
        fields["decision_rule"] = compared.decision.rule
        fields["holdout_exclusion"] = compared.exclusion
        if compared.paired is not None:
            fields |= {"p_value": compared.paired.p_value, "comparison": compared.paired.as_dict()}
        if compared.champion_score is not None and state.champion is not None:
            fields |= {"champion_version": state.champion.version, "champion_metrics": compared.champion_score.metrics}
        if compared.previous is not None and compared.previous_score is not None:
            fields |= {
                "previous_champion_version": compared.previous.version,
                "previous_champion_metrics": compared.previous_score.metrics,
            }
    return {name: value for name, value in fields.items() if value not in (None, {}, [])}
