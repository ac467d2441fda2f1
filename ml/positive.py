"""Labels as one class whatever their type, and the class a binary task's precision, recall, F1 and
ROC AUC are about.

A label column read from CSV one month as 0/1 and the next as 0.0/1.0, or a boolean column written
as True/False, holds the same classes: `normalise` gives each the one text form training fits, the
served model answers with and scoring compares, so a change of type alone never changes a class.

With two classes, which one is positive decides what precision, recall and F1 measure: sklearn's
default (the label that sorts second) scores "ok" in fraud/ok data, so a model that never flags
fraud looks excellent. `resolve` picks it: the one declared (POSITIVE_CLASS or the policy), else 1
for 0/1 and boolean labels, else the rarer class in the training data, the event a rare-event model
exists to find. With more than two classes metrics stay macro averages and no class is positive.
"""

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

# Text that reads as a number: "1", "1.0", "-2", "1e3". Anything else is a name and kept as it is.
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_INTEGER = re.compile(r"^[+-]?\d+$")
_BOOLEAN = {"true": "1", "false": "0"}
BINARY = ("0", "1")


class PositiveClassError(ValueError):
    """A declared positive class that cannot apply: more than two classes, or a class the data lacks."""


@dataclass(frozen=True)
class Positive:
    """The class precision, recall, F1 and ROC AUC are computed for, and why it is that one."""

    label: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"label": self.label, "reason": self.reason}


def canonical(value: Any) -> Any:
    """One label's canonical text: True, 1, 1.0 and "1" are "1"; "1.5" is "1.5"; a name is itself.
    A gap (None, NaN) stays a gap."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return value
    if isinstance(value, (bool, np.bool_)):
        return "1" if value else "0"
    text = str(value).strip()
    if text.lower() in _BOOLEAN:
        return _BOOLEAN[text.lower()]
    if _INTEGER.match(text):
        return str(int(text))  # exactly, however many digits
    if _NUMBER.match(text):
        number = float(text)
        if math.isfinite(number):
            return str(int(number)) if number.is_integer() else repr(number)
    return str(value)


def normalise(values: Any) -> np.ndarray:
    """Labels (a column, an array, a list) as an object array of canonical text, gaps kept: each
    distinct value is converted once, so the cost grows with the classes, not the rows."""
    column = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values, dtype=object))
    codes, distinct = pd.factorize(column, use_na_sentinel=True)
    mapped = np.array([canonical(v) for v in distinct] + [np.nan], dtype=object)
    return mapped[codes]


def classes(values: Iterable[Any]) -> list[str]:
    """The distinct canonical classes of some labels, sorted, gaps left out."""
    return sorted({c for c in normalise(list(values)) if isinstance(c, str)})


def resolve(training_labels: Any, declared: str | None = None) -> Positive | None:
    """The positive class of a task whose training labels are these, or None with more than two
    classes (or fewer than two). A `declared` class must be one of the two."""
    labels = normalise(training_labels)
    present = pd.Series(labels).dropna()
    counts = present.value_counts()
    found = sorted(counts.index)
    if declared not in (None, ""):
        return _declared(canonical(declared), declared, found)
    if len(found) != 2:
        return None
    if tuple(found) == BINARY:
        return Positive("1", "labels are 0/1 (or true/false): 1 is the positive class")
    # The rarer class is the event a model on imbalanced data is for; a tie takes the second, as sklearn.
    rarer = min(found, key=lambda c: (counts[c], -found.index(c)))
    share = counts[rarer] / len(present)
    return Positive(rarer, f"the rarer class in the training data ({share:.1%} of {len(present)} rows)")


def _declared(label: str, declared: str, found: list[str]) -> Positive:
    if len(found) > 2:
        raise PositiveClassError(
            f"POSITIVE_CLASS={declared!r} is set, but the labels have {len(found)} classes: a positive class "
            "applies to two classes only (with more, precision, recall and F1 are macro averages); unset it"
        )
    if label not in found:
        raise PositiveClassError(
            f"POSITIVE_CLASS={declared!r} is not a class of the training labels ({', '.join(map(repr, found))})"
        )
    return Positive(label, f"declared as POSITIVE_CLASS={declared!r}")


def served_positive(recorded: str | None, classes: Iterable[Any] | None) -> str | None:
    """The positive class live quality scores a served version on: the one its run recorded, else
    1 when its classes are 0/1 (or true/false), else None (unknown: sklearn's default applies)."""
    if recorded:
        return canonical(recorded)
    if classes is not None and tuple(sorted(normalise(list(classes)))) == BINARY:
        return "1"
    return None


def label_changes(data: Iterable[str], champion: Iterable[str]) -> dict[str, list[str]]:
    """The classes of the data against those the champion was trained on (both canonical): which
    appeared, which disappeared. Empty lists when they are the same set."""
    ours, theirs = set(classes(data)), set(classes(champion))
    return {"appeared": sorted(ours - theirs), "disappeared": sorted(theirs - ours)}
