"""What a run's holdout could tell, in plain words: the same sentences on the run page, in the
REST run and in the notification, written once here from what the run recorded."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from retraining.models import RetrainingRun

if TYPE_CHECKING:
    from ml.gate.significance import Comparison


def comparison(run: RetrainingRun) -> Comparison | None:
    """The paired comparison the run recorded, or None (a first model, too few clean rows, an old run)."""
    # Imported when a run is worded, not with the notification channels: scipy and scikit-learn
    # stay out of processes that only watch (check_drift).
    from ml.gate.significance import Comparison

    return Comparison(**run.comparison) if run.comparison else None


def holdout_sentences(run: RetrainingRun) -> list[str]:
    """Which rows the decision rested on, the interval next to the p-value, and the smallest
    gain this holdout could detect."""
    sentences = _exclusion(run.holdout_exclusion) if run.holdout_exclusion else []
    paired = comparison(run)
    if paired is not None:
        sentences += paired.describe()
    return sentences


def positive_sentence(run: RetrainingRun) -> str:
    """Which class precision, recall, F1 and ROC AUC were computed for, and why; "" when the run
    did not record it (it never scored a model, or it was made before the class was recorded)."""
    if run.positive_class:
        return f"Precision, recall, F1 and ROC AUC are for the class {run.positive_class!r}: {run.positive_reason}."
    # More than two classes (the reason says so); nothing for a run made before the class was recorded.
    return f"{run.positive_reason[:1].upper()}{run.positive_reason[1:]}." if run.positive_reason else ""


def _exclusion(record: dict[str, Any]) -> list[str]:
    rows, clean = record.get("rows", 0), record.get("clean", 0)
    excluded = record.get("excluded") or {}
    per_model = ", ".join(f"{name}: {count}" for name, count in excluded.items())
    why = "a compared model trained on them"
    if record.get("unknown"):
        # Rows of a model of unknown training rows are excluded unless proved new to it.
        why += f", or may have ({', '.join(record['unknown'])}: training rows unknown)"
    sentences = [
        f"{rows - clean} of the {rows} holdout rows were excluded because {why}"
        f" ({per_model or 'none known'}); {clean} rows were compared"
    ]
    judged = record.get("judged_on") or {}
    if judged.get("rows") == "new":
        sentences.append(
            f"the decision rested on the {judged.get('new', 0)} of them the data added since the champion's"
            " version (JUDGE_ON_NEW_ROWS); the figures on all of them are kept beside"
        )
    rollback = record.get("rollback")
    if rollback:
        dropped = ", ".join(f"{name}: {count}" for name, count in (rollback.get("excluded") or {}).items())
        sentences.append(
            f"the rollback check compared {rollback.get('clean', 0)} of the {rollback.get('rows', 0)} holdout rows"
            f" ({dropped} excluded)"
        )
    return sentences
