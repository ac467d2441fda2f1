"""The README's demo, steps 1 to 4, as a newcomer runs them on a fresh `var/`: every figure the
README quotes for them is checked against what the runs produced.

Tolerances: a score is quoted to 4 decimal places and must be within half a unit of its last
place (0.00005), so it is the run's own figure rounded; row counts, shares of rows and versions
exactly. Every number in those steps must be one of the checked figures, so a figure added to the
README without a check fails here. The steps run through `manage.py` in their own processes, on
the embedded defaults and none of the test suite's settings (the demo's churn data, the default
forest), as `make run` and the README's commands do.
"""

import json
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from demo import datasets

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
# A figure as the README writes it: a version (v2), a signed difference, a count with thousands separators.
NUMBER = re.compile(r"(?<![\w.+-])(?:v|[-+])?\d+(?:,\d{3})*(?:\.\d+)?")
# Numbers that name a thing rather than quote a result: the steps' own numbers and the batches'.
NAMES = re.compile(r"(?<![\w.,])\d\. \*\*|\bbatch \d\b|\bstep \d\b|\bsteps \d to \d\b")


@dataclass(frozen=True)
class Figure:
    pattern: str  # a regular expression whose group 1 is the quoted number
    actual: Callable[[dict], float]
    tolerance: float = 0.0


def score(run: int, side: str) -> Callable[[dict], float]:
    return lambda runs: runs[run][f"{side}_metrics"]["accuracy"]


FIGURES = [
    Figure(r"trained `churn-classifier` (v\d+)", lambda runs: int(runs[1]["model_version"])),
    Figure(r"batch 1: (\d+) of its", lambda runs: runs[1]["rows"]["train"]),
    Figure(r"of its (\d+) rows", lambda runs: runs[1]["rows"]["total"]),
    Figure(r"the other (\d+) held out", lambda runs: runs[1]["rows"]["holdout"]),
    Figure(r"The dashboard serves (v\d+)", lambda runs: int(runs[1]["model_version"])),
    Figure(r"with ([\d.]+) accuracy", score(1, "challenger"), 0.00005),
    Figure(r"on those (\d+) rows", lambda runs: runs[1]["rows"]["holdout"]),
    Figure(r"grows to ([\d,]+) rows", lambda runs: runs[2]["rows"]["total"]),
    Figure(r"challenger trains on ([\d,]+) rows;", lambda runs: runs[2]["rows"]["train"]),
    Figure(r"on the ([\d,]+) holdout rows", lambda runs: runs[2]["rows"]["holdout"]),
    Figure(r"it scores ([\d.]+) accuracy", score(2, "challenger"), 0.00005),
    Figure(r"against the champion's ([\d.]+) \(\+", score(2, "champion"), 0.00005),
    Figure(r"\((\+[\d.]+)\)", lambda runs: score(2, "challenger")(runs) - score(2, "champion")(runs), 0.00005),
    Figure(r"the run ends \*\*Deployed (v\d+)\*\*", lambda runs: int(runs[2]["model_version"])),
    Figure(r"\(([\d,]+) rows, \d+% more\)", lambda runs: runs[3]["rows"]["total"]),
    Figure(r"rows, (\d+)% more\)", lambda runs: round(100 * (runs[3]["rows"]["total"] / runs[2]["rows"]["total"] - 1))),
    Figure(r"challenger trains on ([\d,]+) rows and", lambda runs: runs[3]["rows"]["train"]),
    Figure(r"on ([\d,]+) holdout rows, scores", lambda runs: runs[3]["rows"]["holdout"]),
    Figure(r"scores ([\d.]+) against", score(3, "challenger"), 0.00005),
    Figure(r"against the champion's ([\d.]+) \(-", score(3, "champion"), 0.00005),
    Figure(r"\((-[\d.]+)\)", lambda runs: score(3, "challenger")(runs) - score(3, "champion")(runs), 0.00005),
    Figure(r"\*\*Kept champion (v\d+)\*\*", lambda runs: int(runs[3]["champion_version"])),
    Figure(r"flattened: (\d+) more rows", lambda runs: runs[3]["rows"]["total"] - runs[2]["rows"]["total"]),
    Figure(r"registered in MLflow \((v\d+)\)", lambda runs: int(runs[3]["model_version"])),
]


def demo_steps() -> str:
    text = README.read_text()
    # One line: a sentence the README wraps differently still reads the same.
    return " ".join(text[text.index("1. **First champion.**") : text.index("5. **Drift.**")].split())


def value(quoted: str) -> float:
    return float(quoted.removeprefix("v").replace(",", ""))


def manage(var: Path, *args: str) -> str:
    """One command as the README gives it, in a newcomer's environment: only the path and var/."""
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", str(var)), "VAR_DIR": str(var)}
    env |= {"DJANGO_SUPERUSER_USERNAME": "demo", "DJANGO_SUPERUSER_PASSWORD": "demo-pw-readme-1"}
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"manage.py {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def runs_in(var: Path) -> dict[int, dict]:
    with sqlite3.connect(var / "db.sqlite3") as db:
        db.row_factory = sqlite3.Row
        rows = db.execute("SELECT * FROM retraining_retrainingrun ORDER BY id").fetchall()
    runs = {}
    for row in rows:
        run = dict(zip(row.keys(), row, strict=True))
        for name in ("rows", "steps", "challenger_metrics", "champion_metrics"):
            run[name] = json.loads(run[name])
        runs[run["id"]] = run
    return runs


def test_every_number_in_the_steps_is_a_checked_figure():
    steps = demo_steps()
    named = [m.span() for m in NAMES.finditer(steps)]
    checked = [m.span(1) for figure in FIGURES for m in re.finditer(figure.pattern, steps)]
    for figure in FIGURES:
        assert re.search(figure.pattern, steps), f"the README no longer says {figure.pattern!r}"
    unchecked = [
        m.group()
        for m in NUMBER.finditer(steps)
        if m.span() not in checked and not any(a <= m.start() < b for a, b in named)
    ]
    assert not unchecked, f"figures in the README's demo that nothing checks: {unchecked}"


def test_the_readmes_demo_steps_1_to_4_give_the_figures_it_quotes(tmp_path):
    var = tmp_path / "var"
    # Step 1: what `make run` does before it starts the processes.
    manage(var, "migrate", "--noinput", "-v0")
    manage(var, "bootstrap")
    # Steps 2 and 3: publish the next batch, then a run (Retrain now runs this same pipeline).
    for _ in range(2):
        manage(var, "publish_data")
        manage(var, "retrain")
    # Step 4: once more, with nothing new.
    manage(var, "retrain")

    runs = runs_in(var)
    assert [runs[n]["status"] for n in sorted(runs)] == ["deployed", "deployed", "kept", "skipped"]
    assert [runs[n]["rows"]["total"] for n in (1, 2, 3)] == list(datasets.batch_sizes("churn"))
    check = next(step for step in runs[4]["steps"] if step["name"] == "check")
    assert check["duration"] < 1.0, f"step 4's check took {check['duration']} s, not a fraction of a second"

    steps = demo_steps()
    wrong = []
    for figure in FIGURES:
        for match in re.finditer(figure.pattern, steps):
            quoted, actual = value(match.group(1)), figure.actual(runs)
            if abs(quoted - actual) > figure.tolerance:
                wrong.append(f"{match.group(0)!r}: the run gave {actual}")
    assert not wrong, "the README quotes figures the demo does not give:\n" + "\n".join(wrong)
