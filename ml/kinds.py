"""What each column of the data is to the model: its kind, and whether it was set, declared or inferred.

Kinds: `numeric` (scaled), `categorical` (one-hot), `boolean`, `datetime` (read as its numeric
parts), `text` (free text declared as such, used as a category), `id` (keys rows, never an input),
`excluded` (never an input) and `target` (the label). The settings (`TARGET_COLUMN`,
`DATA_ID_COLUMN`, `EXCLUDE_COLUMNS`) win over the data's schema file, which wins over inference.

Inference, for a column nobody declared:
- a boolean column, or text holding only true/false, is boolean;
- a number column is numeric; text of digits with leading zeros ("02111") is categorical, never a number;
- text whose values all read as dates or timestamps is datetime;
- text that is mostly distinct values with spaces in them is free text: left out, with a warning
  naming the column, since one category per whole string teaches nothing and bloats the model;
- any other text is categorical.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

KINDS = ("numeric", "categorical", "boolean", "datetime", "text", "id", "excluded", "target")
# Kinds that are never model inputs.
LEFT_OUT = frozenset({"id", "excluded", "target"})
_TRUE_FALSE = frozenset({"true", "false"})
_LEADING_ZERO = r"0\d+"
_HEAD = 1000
# Free text: most values distinct, and most with a space in them (a sentence, not a code).
_TEXT_DISTINCT_SHARE = 0.5
_TEXT_MIN_DISTINCT = 50
# The numeric parts a datetime column is read as; the hour only where some value has a time.
DATE_PARTS = {"year": "year", "month": "month", "dayofweek": "day_of_week"}


class KindError(ValueError):
    """A declared kind is unknown, or names a column the data does not have."""


@dataclass(frozen=True)
class Kinds:
    """Each column's kind and where it came from ("setting", "declared" or "inferred")."""

    kinds: dict[str, str]
    origin: dict[str, str]
    # The datetime columns with a time of day: they get an hour part too.
    timed: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    def of(self, kind: str) -> list[str]:
        return [name for name, found in self.kinds.items() if found == kind]

    @property
    def left_out(self) -> list[str]:
        """Columns that are never model inputs as they are: the label, ids, exclusions, free text
        not declared as text, and datetime columns (their parts are the inputs)."""
        return [
            name
            for name, kind in self.kinds.items()
            if kind in LEFT_OUT or kind == "datetime" or (kind == "text" and self.origin[name] == "inferred")
        ]

    @property
    def ignored(self) -> list[str]:
        """Columns a client may send with a whole record and that the model ignores: every column
        left out but the target and the datetime columns (ids, exclusions, free text)."""
        return [name for name in self.left_out if self.kinds[name] not in ("target", "datetime")]

    @property
    def dates(self) -> dict[str, bool]:
        """Each datetime column, and whether it has an hour part: serving reads a sent date as its parts."""
        return {name: name in self.timed for name in self.of("datetime")}

    def as_dict(self) -> dict[str, Any]:
        return {
            "columns": {name: {"kind": kind, "origin": self.origin[name]} for name, kind in self.kinds.items()},
            "timed": list(self.timed),
        }

    @classmethod
    def from_dict(cls, recorded: Mapping[str, Any]) -> Kinds:
        columns = recorded.get("columns", {})
        return cls(
            kinds={name: spec["kind"] for name, spec in columns.items()},
            origin={name: spec["origin"] for name, spec in columns.items()},
            timed=tuple(recorded.get("timed", ())),
        )


def check_declared(declared: Mapping[str, str], label: str) -> dict[str, str]:
    """The declared kinds, or KindError naming each unknown kind."""
    bad = {name: kind for name, kind in declared.items() if kind not in KINDS}
    if bad:
        named = "; ".join(f"{name!r}: {kind!r}" for name, kind in bad.items())
        raise KindError(f"{label} declares unknown column kinds ({named}); the kinds are {', '.join(KINDS)}")
    return {str(name): str(kind) for name, kind in declared.items()}


def resolve(
    frame: pd.DataFrame,
    target: str,
    id_column: str | None = None,
    exclude: Iterable[str] = (),
    declared: Mapping[str, str] | None = None,
) -> Kinds:
    """Every column's kind: the settings first, then the declared kinds, then inference."""
    declared = dict(declared or {})
    kinds: dict[str, str] = {}
    origin: dict[str, str] = {}
    warnings: list[str] = []
    settings = {target: "target", **({id_column: "id"} if id_column else {}), **dict.fromkeys(exclude, "excluded")}
    for name in frame.columns:
        if name in settings:
            kinds[name], origin[name] = settings[name], "setting"
            if name in declared and declared[name] != settings[name]:
                warnings.append(
                    f"column {name!r} is declared {declared[name]} but the settings make it {settings[name]}"
                )
        elif name in declared:
            kind = declared[name]
            if kind == "target":
                # TARGET_COLUMN names the label; another column declared as one is not an input either.
                warnings.append(f"column {name!r} is declared the target, but TARGET_COLUMN is {target!r}: left out")
                kind = "excluded"
            kinds[name], origin[name] = kind, "declared"
        else:
            kinds[name], origin[name] = infer(frame[name]), "inferred"
            if kinds[name] == "text":
                warnings.append(
                    f"column {name!r} looks like free text (mostly distinct values): left out of the model; "
                    "declare it as text or categorical in the data's schema file to use it"
                )
    timed = tuple(name for name, kind in kinds.items() if kind == "datetime" and _has_time(frame[name]))
    return Kinds(kinds, origin, timed, tuple(warnings))


def infer(column: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(column):
        return "boolean"
    if pd.api.types.is_numeric_dtype(column):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(column):
        return "datetime"
    values = column.dropna()
    if values.empty:
        return "categorical"
    head = values.iloc[:_HEAD].astype(str)
    if set(head.str.lower().unique()) <= _TRUE_FALSE and set(values.astype(str).str.lower().unique()) <= _TRUE_FALSE:
        return "boolean"
    if head.str.fullmatch(_LEADING_ZERO).any():
        return "categorical"
    if head.str.contains(r"\d[-/]\d", regex=True).all() and _parses_as_dates(head):
        return "datetime"
    distinct = values.nunique()
    if (
        distinct >= _TEXT_MIN_DISTINCT
        and distinct > _TEXT_DISTINCT_SHARE * len(values)
        and head.str.contains(" ", regex=False).mean() > 0.5
    ):
        return "text"
    return "categorical"


def apply(frame: pd.DataFrame, kinds: Kinds) -> pd.DataFrame:
    """The frame as the model reads it: categorical and text columns as text, booleans as booleans,
    each datetime column's numeric parts beside it (`<name>_year`, `_month`, `_dayofweek`, `_hour`)."""
    out = frame.copy(deep=False)
    for name, kind in kinds.kinds.items():
        if name not in out.columns:
            continue
        column = out[name]
        if kind in ("categorical", "text") and not pd.api.types.is_string_dtype(column):
            out[name] = column.astype("string").astype(object).where(column.notna(), None)
        elif kind == "boolean" and not pd.api.types.is_bool_dtype(column):
            out[name] = column.astype(str).str.lower().map({"true": True, "false": False}).where(column.notna())
        elif kind == "numeric" and not pd.api.types.is_numeric_dtype(column):
            out[name] = pd.to_numeric(column, errors="coerce")
        elif kind == "datetime":
            for part, values in date_parts(column, name in kinds.timed).items():
                out[f"{name}_{part}"] = values
    return out


def part_names(name: str, timed: bool) -> list[str]:
    """The input columns a datetime column is read as."""
    return [f"{name}_{part}" for part in [*DATE_PARTS, *(["hour"] if timed else [])]]


def date_parts(column: pd.Series, timed: bool) -> dict[str, pd.Series]:
    when = pd.to_datetime(column, errors="coerce", format="ISO8601", utc=True)
    parts = {part: getattr(when.dt, attribute).astype("float64") for part, attribute in DATE_PARTS.items()}
    if timed:
        parts["hour"] = when.dt.hour.astype("float64")
    return parts


def _parses_as_dates(head: pd.Series) -> bool:
    try:
        parsed = pd.to_datetime(head, errors="coerce", format="ISO8601", utc=True)
    except (ValueError, TypeError):
        return False
    return bool(parsed.notna().all())


def _has_time(column: pd.Series) -> bool:
    when = pd.to_datetime(column, errors="coerce", format="ISO8601", utc=True).dropna()
    return bool(((when.dt.hour != 0) | (when.dt.minute != 0)).any())
