"""Two runs' drift profiles side by side: per column the reference figures each run's model keeps
(ml/drift/profile.summarise, stored with the run), and how the newer differs from the older. A
profile is what later data and live inputs are measured against, so a shift here is a shift in
what "no drift" means."""

from dataclasses import dataclass, field
from typing import Any

from ml.drift.drift import PREDICTIONS, PREDICTIONS_LABEL

# Category shares shown per side, and shifts named per column, largest first.
SHOWN = 5
# A share that moved less than this (0.05 point) reads as unchanged at one decimal place.
_NOISE = 0.0005


@dataclass
class ProfileRow:
    name: str
    kind: str
    older: dict[str, Any] | None
    newer: dict[str, Any] | None
    change: list[str] = field(default_factory=list)
    # How far the column moved, to put the largest changes first: a share, or a mean shift in the older spread.
    size: float = 0.0

    @property
    def label(self) -> str:
        return PREDICTIONS_LABEL if self.name == PREDICTIONS else self.name

    @property
    def older_figures(self) -> str:
        return figures(self.older)

    @property
    def newer_figures(self) -> str:
        return figures(self.newer)


def side_by_side(older: Any, newer: Any) -> list[ProfileRow]:
    """Each column either run's model profiled, the largest change first, the predictions last;
    nothing when neither run kept a profile."""
    left, right = older.profile or {}, newer.profile or {}
    if not left and not right:
        return []
    before, after = left.get("features") or {}, right.get("features") or {}
    rows = [_row(name, before.get(name), after.get(name), older.pk, newer.pk) for name in {**before, **after}]
    rows.sort(key=lambda row: -row.size)
    if left.get(PREDICTIONS) or right.get(PREDICTIONS):
        rows.append(_row(PREDICTIONS, left.get(PREDICTIONS), right.get(PREDICTIONS), older.pk, newer.pk))
    return rows


def figures(column: dict[str, Any] | None) -> str:
    """One column's reference figures as people read them."""
    if column is None:
        return "not profiled"
    parts = []
    if column.get("kind") == "numeric":
        parts = [
            f"{name} {_number(column.get(key))}"
            for name, key in (("mean", "mean"), ("sd", "std"), ("median", "median"))
        ]
    else:
        shares = sorted((column.get("shares") or {}).items(), key=lambda item: -item[1])
        parts = [f"{name} {share:.1%}" for name, share in shares[:SHOWN]]
        if len(shares) > SHOWN:
            parts.append(f"{len(shares) - SHOWN} more")
    if "missing_share" in column:
        parts.append(f"missing {column['missing_share']:.1%}")
    return " · ".join(parts)


def _row(name: str, old: dict[str, Any] | None, new: dict[str, Any] | None, old_run: int, new_run: int) -> ProfileRow:
    kind = str((new or old or {}).get("kind") or "")
    if old is None or new is None:
        absent = old_run if old is None else new_run
        return ProfileRow(name, kind, old, new, [f"not in run #{absent}'s profile"], float("inf"))
    if old.get("kind") != new.get("kind"):
        return ProfileRow(name, kind, old, new, [f"read as {old.get('kind')}, now {new.get('kind')}"], float("inf"))
    shifts: list[tuple[str, float, str]] = []  # what moved, by how much, as words
    if kind == "numeric":
        shifts += _numeric(old, new)
    else:
        shares, before = new.get("shares") or {}, old.get("shares") or {}
        for category in {**before, **shares}:
            moved = shares.get(category, 0.0) - before.get(category, 0.0)
            shifts.append((category, abs(moved), f"{category} {_points(moved)}"))
    missing = (new.get("missing_share") or 0.0) - (old.get("missing_share") or 0.0)
    shifts.append(("missing", abs(missing), f"missing {_points(missing)}"))
    shifts = sorted((shift for shift in shifts if shift[1] >= _NOISE), key=lambda shift: -shift[1])
    return ProfileRow(
        name, kind, old, new, [words for _, _, words in shifts[:SHOWN]], max((s for _, s, _ in shifts), default=0.0)
    )


def _numeric(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, float, str]]:
    """The mean's and the spread's moves; the mean's also in the older spread, which is how far a
    shift is for drift's bins (cut at the older deciles)."""
    shifts = []
    spread = old.get("std") or 0.0
    for key, name in (("mean", "mean"), ("std", "sd")):
        if old.get(key) is None or new.get(key) is None or new[key] == old[key]:
            continue
        moved = new[key] - old[key]
        relative = moved / spread if spread else None
        scaled = f" ({relative:+.2f} sd)" if relative is not None and key == "mean" else ""
        shifts.append((name, abs(relative) if relative is not None else 1.0, f"{name} {moved:+.4g}{scaled}"))
    return shifts


def _number(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.4g}"


def _points(moved: float) -> str:
    return f"{moved * 100:+.1f} pt"
