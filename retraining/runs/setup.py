"""The training setup: everything a run trains and judges with besides its data, as one frozen object.

It is read from settings (and the promotion policy) when a run is queued, stored on the run row,
and read back by whichever process executes the run: a worker with other settings, or a run
queued again after its process died, trains exactly what its starter asked for. It is logged
beside the model (its fingerprint as a tag, the whole setup as an artifact).

The fingerprint names what the model is made of: the target, the columns it reads and leaves out,
the estimator (or a team's pipeline) and its params, the seed, the split. Two setups with the same fingerprint train the
same model on the same data. Left out of it, though stored: the policy and the positive class (they
judge a challenger differently but train the same one, so neither forces a retraining on its own),
the data checks (they accept or refuse data, they do not shape the model) and the app's version.
"""

import dataclasses
import hashlib
import json
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from ml.drift.drift import Thresholds
from ml.keys import DEFAULT_SALT

# The fields that are not what the model is made of (see the module's docstring).
NOT_FINGERPRINTED = frozenset(
    {
        "policy",
        "positive_class",
        "app_version",
        "min_rows",
        "max_missing_share",
        "max_classes",
        "min_clean_holdout_rows",
        "judge_on_new_rows",
        "drift",
        "recent_rows_share",
    }
)


class SetupError(ValueError):
    """A stored setup that cannot be read back: names the field that is wrong."""


@dataclass(frozen=True)
class TrainingSetup:
    """What a run trains and judges with, frozen when the run is queued."""

    target: str
    id_column: str | None
    exclude: tuple[str, ...]
    estimator: str
    params: dict[str, Any]
    seed: int
    holdout_fraction: float
    # The salt of the first model's split key; later models inherit their champion's key and salt.
    salt: str = DEFAULT_SALT
    # A team's own pipeline (`package.module:callable`, retraining/plugin.py) instead of `estimator`;
    # "" for the built-in one, and then left out of the fingerprint, as setups before it were.
    pipeline: str = ""
    # Columns' kinds declared by setting, by name; empty, as no setting declares them yet. A team
    # declares kinds in the data's schema file (retraining/data/schema.py), read at the data's own
    # commit; a change to that file alone is not new data, so a run on it is forced.
    kinds: dict[str, str] = field(default_factory=dict)
    # "classification" or "regression" as declared by TASK; "" infers it from the target at each
    # run (ml/task.py). Fingerprinted when set: a declared task makes another model.
    task: str = ""
    # Leave rows without a label out (counted on the run) instead of refusing the version.
    drop_unlabelled: bool = False
    policy: dict[str, Any] = field(default_factory=dict)
    # The class a binary task's precision, recall, F1 and ROC AUC are for; "" lets ml.positive
    # choose. Like the policy, it changes how models are judged, not what is trained.
    positive_class: str = ""
    min_rows: int = 50
    max_missing_share: float = 0.5
    max_classes: int = 50
    min_clean_holdout_rows: int = 30
    # Which holdout rows decide when the data moved under the champion (JUDGE_ON_NEW_ROWS): it
    # judges a challenger differently, it does not train another one.
    judge_on_new_rows: str = "shift"
    # The weight share of the rows new since the champion's data when a run trains after a shift
    # (RECENT_ROWS_SHARE; 0 off, as runs queued before it). Not fingerprinted: on the champion's own
    # data no row is new, so it trains the same model there; what a model was trained with is in its
    # lineage record (`recent`), which reproduce reads.
    recent_rows_share: float = 0.0
    app_version: str = ""
    drift: Thresholds = field(default_factory=Thresholds)

    @classmethod
    def from_settings(cls, policy: dict[str, Any] | None = None) -> "TrainingSetup":
        """The setup this process's settings describe, under `policy` (the current one when queued)."""
        return cls(
            target=settings.TARGET_COLUMN,
            id_column=settings.DATA_ID_COLUMN or None,
            exclude=tuple(settings.EXCLUDE_COLUMNS),
            estimator=settings.TRAINING_ESTIMATOR,
            pipeline=settings.TRAINING_PIPELINE,
            task=settings.TASK,
            params=dict(settings.TRAINING_PARAMS),
            seed=settings.TRAINING_SEED,
            holdout_fraction=settings.HOLDOUT_FRACTION,
            drop_unlabelled=settings.DROP_UNLABELLED_ROWS,
            policy=dict(policy or {}),
            positive_class=settings.POSITIVE_CLASS,
            min_rows=settings.MIN_TRAINING_ROWS,
            max_missing_share=settings.MAX_MISSING_SHARE,
            max_classes=settings.MAX_CLASSES,
            min_clean_holdout_rows=settings.MIN_CLEAN_HOLDOUT_ROWS,
            judge_on_new_rows=settings.JUDGE_ON_NEW_ROWS,
            recent_rows_share=settings.RECENT_ROWS_SHARE,
            app_version=settings.APP_VERSION,
            drift=Thresholds(
                psi=settings.DRIFT_PSI_THRESHOLD, alpha=settings.DRIFT_ALPHA, min_rows=settings.DRIFT_MIN_ROWS
            ),
        )

    def serialise(self) -> dict[str, Any]:
        """Plain JSON values, field for field (a nested dataclass becomes a dict, a tuple a list)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def deserialise(cls, data: dict[str, Any]) -> "TrainingSetup":
        """The setup `serialise` wrote; a field added since takes its default, an unknown one is an error."""
        return _build(cls, data, "setup")

    @property
    def fingerprint(self) -> str:
        """sha256 of the canonical JSON of the fields that make the model (see the module's docstring)."""
        made_of = _made_of(self.serialise())
        canonical = json.dumps(made_of, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def differences(self, other: "TrainingSetup") -> list[str]:
        """The fingerprinted fields in which `other` differs from this one, by name."""
        mine, theirs = _made_of(self.serialise()), _made_of(other.serialise())
        return [name for name in {**mine, **theirs} if mine.get(name) != theirs.get(name)]


def _made_of(serialised: dict[str, Any]) -> dict[str, Any]:
    """The fingerprinted fields. An inferred task ("") and the built-in estimator's empty pipeline
    are left out, so every setup made before either could be set keeps its fingerprint, and its
    champion is not retrained for it."""
    made_of = {name: value for name, value in serialised.items() if name not in NOT_FINGERPRINTED}
    for optional in ("task", "pipeline"):
        if not made_of.get(optional):
            made_of.pop(optional, None)
    return made_of


def _build(kind: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise SetupError(f"{where}: expected an object, got {type(data).__name__}")
    hints = typing.get_type_hints(kind)
    names = {f.name for f in dataclasses.fields(kind)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise SetupError(f"{where}: unknown field(s) {', '.join(unknown)}")
    values = {}
    for name in names & set(data):
        values[name] = _value(hints[name], data[name], f"{where}.{name}")
    try:
        return kind(**values)
    except TypeError as exc:
        raise SetupError(f"{where}: {exc}") from None


def _value(hint: Any, value: Any, where: str) -> Any:
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else ()
    if options:  # X | None
        return None if value is None else _value(next(o for o in options if o is not type(None)), value, where)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, where)
    if typing.get_origin(hint) is tuple:
        if not isinstance(value, list | tuple):
            raise SetupError(f"{where}: expected a list, got {type(value).__name__}")
        return tuple(value)
    return value
