"""How often the promotion policy changes the served model, with and without a real gain.

With the app's own split, train, evaluate, exclusion of trained-on rows, decide and regressed:

- A/A: champion and challenger trained on two independent draws of the same distribution (nothing
  changed); the challenger is judged on its own version's holdout. Every deployment is a change
  made on noise.
- A/B: the challenger is trained on three times more rows (worth points on a separate test set),
  with a holdout of 5,000 rows: a real gain that should be deployed.
- 30 days: each day a fresh draw and a challenger, with regression rollback (the previous champion
  must win at the return level); counts the changes of the served model.

Datasets, nothing downloaded: penguins (344 rows from the palmerpenguins package, each version a
resample with replacement), and two tables generated once with make_classification, numbers and
categories with gaps, each version a draw without replacement from a fixed pool: 1,000 rows a
version (two classes) and 20,000 rows a version (three classes); and a rare-event table, 2%
positives scored by F1 on the positive class (bench/promotion_rare.py); and a regression, house
prices at three sizes (1,000, 8,400 and 20,000 rows a version) judged on RMSE, its A/B challenger
trained on twice the rows (bench/promotion_data.py). Rates come with 95% Wilson intervals. The
targets are checked on the default policy; `--quick` exits 1 when one is missed. `--datasets`
runs only the named rows (e.g. `--datasets houses-s,houses-m,houses-l`).
"""

from __future__ import annotations

import argparse
import sys
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.promotion_data import DEFAULT, Population, decide, generated, houses, penguins, rare  # noqa: E402
from ml.estimators import train  # noqa: E402
from ml.evaluate import Score, evaluate  # noqa: E402
from ml.gate.policy import guard_comparisons, paired_comparison  # noqa: E402
from ml.gate.significance import RESAMPLES, paired_test  # noqa: E402
from ml.split import TrainingRows, exclude_trained_on, split, split_key, training_rows  # noqa: E402
from ml.task import REGRESSION  # noqa: E402

HOLDOUT_FRACTION = 0.25
MIN_CLEAN_ROWS = 30
ESTIMATOR, PARAMS, SEED = "random_forest", {"n_estimators": 10}, 42
DAYS = 30
# (A/A trials, A/B trials, simulated months) per dataset.
QUICK = {
    "penguins": (100, 0, 2), "mid": (100, 0, 2), "large": (100, 30, 1), "rare": (100, 30, 1),
    "houses-s": (100, 0, 1), "houses-m": (100, 30, 1), "houses-l": (100, 30, 1),
}  # fmt: skip
FULL = {
    "penguins": (400, 0, 10), "mid": (400, 0, 10), "large": (200, 100, 6), "rare": (200, 100, 6),
    "houses-s": (400, 0, 6), "houses-m": (200, 100, 6), "houses-l": (200, 100, 6),
}  # fmt: skip


@dataclass
class Version:
    """One dataset version and the challenger trained on it, as a run would produce them."""

    number: int
    holdout: pd.DataFrame
    model: object
    trained_on: TrainingRows


class Lab:
    """Builds versions as the pipeline would and scores models on one day's clean holdout rows."""

    def __init__(self, population: Population) -> None:
        self.population = population
        first = population.draw(np.random.default_rng(0), population.rows)
        self.key = split_key(first, population.target)
        self.scores: dict[tuple[int, int], Score] = {}

    def version(self, number: int, rows: int | None = None) -> Version:
        seed = [zlib.crc32(self.population.name.encode()), number, rows or 0]
        frame = self.population.draw(np.random.default_rng(seed), rows or self.population.rows).reset_index(drop=True)
        key = split_key(frame, self.population.target, inherited=self.key)
        training, holdout = split(frame, HOLDOUT_FRACTION, key)
        model = train(training, self.population.target, ESTIMATOR, PARAMS, SEED, task=self.population.task)
        return Version(number if rows is None else -1 - number, holdout, model, training_rows(training, key))

    def scored(self, versions: list[Version], day: Version) -> tuple[np.ndarray, list[Score]] | None:
        """Each model scored on the day's holdout rows none of them trained on; None when too few are left."""
        exclusion = exclude_trained_on(day.holdout, {f"v{v.number}": v.trained_on for v in versions})
        if exclusion.too_few(MIN_CLEAN_ROWS):
            return None
        clean = day.holdout[exclusion.clean]
        truth = self.population.task.labels(clean[self.population.target])
        if not exclusion.clean.all():
            return truth, [self.evaluate(v, clean) for v in versions]
        for v in versions:
            if (v.number, day.number) not in self.scores:
                self.scores[(v.number, day.number)] = self.evaluate(v, clean)
        return truth, [self.scores[(v.number, day.number)] for v in versions]

    def next_day(self) -> None:
        self.scores.clear()

    def evaluate(self, version: Version, rows: pd.DataFrame) -> Score:
        population = self.population
        return evaluate(version.model, rows, population.target, population.positive, population.task)

    def test_score(self, version: Version) -> float:
        assert self.population.test is not None
        return self.evaluate(version, self.population.test).metrics[self.population.metric]


def judge(lab: Lab, champion: Version, challenger: Version) -> dict[str, bool]:
    """Whether each policy deploys the challenger; too few clean rows is no deployment."""
    scored = lab.scored([champion, challenger], challenger)
    policies = lab.population.policies
    if scored is None:
        return dict.fromkeys(policies, False)
    truth, (ours, theirs) = scored
    task = lab.population.task
    return {
        name: decide(
            name,
            policy,
            theirs.metrics,
            ours.metrics,
            paired_comparison(policy, truth, ours, theirs),
            task=task,
            guards=guard_comparisons(policy, truth, ours, theirs),
        ).deploy
        for name, policy in policies.items()
    }


@dataclass
class Served:
    """The served model under one policy, day after day, and its changes per month."""

    name: str
    policy: dict
    champion: Version | None = None
    previous: Version | None = None
    changes: list[int] = field(default_factory=list)
    rollbacks: int = 0

    def day(self, lab: Lab, version: Version, first_of_month: bool) -> None:
        if first_of_month or self.champion is None:
            self.champion, self.previous = version, None
            self.changes.append(0)
            return
        compared = [self.champion, version] + ([self.previous] if self.previous is not None else [])
        scored = lab.scored(compared, version)
        if scored is None:
            return
        truth, scores = scored
        comparison = paired_comparison(self.policy, truth, scores[0], scores[1])
        guards = guard_comparisons(self.policy, truth, scores[0], scores[1])
        task = lab.population.task
        if decide(
            self.name, self.policy, scores[1].metrics, scores[0].metrics, comparison, task=task, guards=guards
        ).deploy:
            self.champion, self.previous = version, self.champion
            self.changes[-1] += 1
        elif self.previous is not None:
            back = paired_comparison(self.policy, truth, scores[0], scores[2], returning=True)
            # regressed(): decide() with the previous champion as the challenger, at the return level.
            again = decide(
                self.name, self.policy, scores[2].metrics, scores[0].metrics, back, returning=True, task=task
            )
            if again.deploy:
                self.champion, self.previous = self.previous, self.champion
                self.changes[-1] += 1
                self.rollbacks += 1


@dataclass
class Outcome:
    aa: list[dict[str, bool]] = field(default_factory=list)
    ab: list[dict[str, bool]] = field(default_factory=list)
    gains: list[float] = field(default_factory=list)
    served: dict[str, Served] = field(default_factory=dict)
    holdout_rows: list[int] = field(default_factory=list)
    note: str = ""
    rows: int = 0
    test_rows: int = 0
    seconds: float = 0.0
    checked: str = DEFAULT
    metric: str = "accuracy"
    regression: bool = False
    noise: str = ""


def measure(population: Population, aa_trials: int, ab_trials: int, months: int) -> Outcome:
    """Versions are built in order and dropped once used: day i of the simulation is version i,
    A/A trial t compares versions 2t and 2t+1, A/B trial t compares a smaller version (a third, or
    `population.shrink`) with 2t+1."""
    lab = Lab(population)
    outcome = Outcome(served={name: Served(name, policy) for name, policy in population.policies.items()})
    outcome.checked, outcome.metric = population.checked, population.metric
    outcome.regression, outcome.noise = population.task is REGRESSION, population.noise
    pending: Version | None = None
    for number in range(max(2 * aa_trials, months * DAYS)):
        lab.next_day()
        version = lab.version(number)
        outcome.holdout_rows.append(len(version.holdout))
        if number % 2 == 0:
            pending = version
        elif number // 2 < aa_trials and pending is not None:
            outcome.aa.append(judge(lab, pending, version))
            if number == 1:
                outcome.note = detectable_note(lab, pending, version)
            if number // 2 < ab_trials:
                small = lab.version(number // 2, rows=population.rows // population.shrink)
                big_score, small_score = lab.test_score(version), lab.test_score(small)
                # A regression's gain is the relative error reduction (5% lower RMSE: +5%).
                gain = (small_score - big_score) / small_score if outcome.regression else big_score - small_score
                outcome.gains.append(gain)
                outcome.ab.append(judge(lab, small, version))
        if number < months * DAYS:
            for served in outcome.served.values():
                served.day(lab, version, first_of_month=number % DAYS == 0)
    return outcome


def detectable_note(lab: Lab, champion: Version, challenger: Version) -> str:
    scored = lab.scored([champion, challenger], challenger)
    if scored is None:
        return "too few clean rows to compare"
    truth, (ours, theirs) = scored
    comparison = paired_comparison(lab.population.policies[lab.population.checked], truth, ours, theirs)
    return f"e.g. {comparison.describe()[1]} (the models disagree on {comparison.disagreements} rows)"


def wilson(hits: int, trials: int, z: float = 1.959964) -> tuple[float, float]:
    if trials == 0:
        return 0.0, 1.0
    share = hits / trials
    centre = (share + z * z / (2 * trials)) / (1 + z * z / trials)
    spread = z * np.sqrt(share * (1 - share) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return max(0.0, centre - spread), min(1.0, centre + spread)


def rate(hits: int, trials: int) -> str:
    low, high = wilson(hits, trials)
    return f"{hits:>3}/{trials:<3} {hits / max(trials, 1):>6.1%} [{low:5.1%}, {high:5.1%}]"


def run(name: str, plan: tuple[int, int, int]) -> Outcome:
    """One dataset, in its own process: only numbers come back, not the models."""
    begun = time.perf_counter()
    population = DATASETS[name]()
    outcome = measure(population, *plan)
    for served in outcome.served.values():
        served.champion = served.previous = None
    outcome.rows = population.rows
    outcome.test_rows = 0 if population.test is None else len(population.test)
    outcome.seconds = time.perf_counter() - begun
    return outcome


def report(dataset: str, outcome: Outcome) -> list[str]:
    missed = []
    holdout = int(np.median(outcome.holdout_rows))
    for name, served in outcome.served.items():
        deployed, trials = sum(o[name] for o in outcome.aa), len(outcome.aa)
        ab = rate(sum(o[name] for o in outcome.ab), len(outcome.ab)) if outcome.ab else "n/a (holdout < 2,000)"
        changes = served.changes
        print(
            f"{dataset:<9} {outcome.rows:>6} {holdout:>7}  {name:<22} {rate(deployed, trials):<30} "
            f"{ab:<30} {np.mean(changes):.2f}, {max(changes)}, {len(changes)}, {served.rollbacks}"
        )
        if name == outcome.checked:
            missed += targets(dataset, deployed, trials, outcome, name, changes)
    if outcome.gains:
        gains = np.array(outcome.gains)
        metric = "" if outcome.metric == "accuracy" else f" in {outcome.metric}"
        metric += " (lower, relative)" if outcome.regression else ""
        print(f"{'':<9} A/B gain{metric} on a separate test set of {outcome.test_rows} rows: mean {gains.mean():+.1%}, "
              f"smallest {gains.min():+.1%}")  # fmt: skip
    if outcome.noise:
        print(f"{'':<9} {outcome.noise}")
    print(f"{'':<9} {outcome.note}; {outcome.seconds:.0f} s", flush=True)
    return missed


def targets(name: str, deployed: int, trials: int, outcome: Outcome, policy: str, changes: list[int]) -> list[str]:
    missed = []
    if deployed / trials > 0.05 or wilson(deployed, trials)[1] > 0.10:
        missed.append(f"{name}: A/A deployed {deployed}/{trials}, target <= 5% with upper bound <= 10%")
    if np.mean(changes) > 1:
        missed.append(f"{name}: {np.mean(changes):.2f} changes in 30 days on average, target <= 1")
    if outcome.ab:
        hits = sum(o[policy] for o in outcome.ab)
        if hits / len(outcome.ab) < 0.9:
            missed.append(f"{name}: A/B deployed {hits}/{len(outcome.ab)}, target >= 90%")
        if outcome.regression and np.mean(outcome.gains) < 0.05:
            missed.append(f"{name}: the A/B RMSE is {np.mean(outcome.gains):.1%} lower on the test set, below 5%")
        elif not outcome.regression and np.mean(outcome.gains) < 0.02:
            missed.append(f"{name}: the A/B gain is {np.mean(outcome.gains):+.1%} on the test set, below 2 points")
        if np.median(outcome.holdout_rows) < 2000:
            missed.append(f"{name}: an A/B row needs a holdout of 2,000 rows or more")
    return missed


def speed_note() -> str:
    """One paired comparison on a 2,000-row, 3-class holdout, per metric (median of 5)."""
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, 2000)
    names = np.array(["a", "b", "c"])

    def outputs(strength: float) -> Score:
        logits = rng.normal(size=(2000, 3)) + strength * np.eye(3)[labels]
        probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        return Score({}, names[probabilities.argmax(1)], probabilities, list(names))

    ours, theirs = outputs(1.0), outputs(1.2)
    timings = []
    for metric in ("accuracy", "f1", "roc_auc"):
        seconds = []
        for _ in range(5):
            begun = time.perf_counter()
            paired_test(metric, names[labels], ours, theirs)
            seconds.append(time.perf_counter() - begun)
        timings.append(f"{metric} {np.median(seconds) * 1000:.0f} ms")
    return f"one paired comparison ({RESAMPLES} resamples) on a 2,000-row, 3-class holdout: " + ", ".join(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer trials; exit 1 when a target is missed")
    parser.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated rows to run (all)")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    chosen = [name for name in args.datasets.split(",") if name]
    unknown = sorted(set(chosen) - set(DATASETS))
    if unknown:
        parser.error(f"unknown dataset(s) {', '.join(unknown)}: choose from {', '.join(DATASETS)}")
    only = "" if set(chosen) == set(DATASETS) else f" --datasets {','.join(chosen)}"
    print(f"reproduce: cd {ROOT} && {sys.executable} bench/promotion.py{' --quick' if args.quick else ''}{only}")
    print(f"estimator {ESTIMATOR} {PARAMS}, holdout fraction {HOLDOUT_FRACTION}, min clean rows {MIN_CLEAN_ROWS}")
    started = time.perf_counter()
    # Two processes, one a core: the large table alone takes as long as the two others.
    with ProcessPoolExecutor(max_workers=2) as pool:
        # Largest first, so the two processes finish together.
        order = ("large", "houses-l", "rare", "houses-m", "penguins", "mid", "houses-s")
        futures = {name: pool.submit(run, name, plan[name]) for name in order if name in chosen}
        outcomes = {name: future.result() for name, future in futures.items()}
    print(
        f"\n{'dataset':<9} {'rows':>6} {'holdout':>7}  {'policy':<22} {'A/A deployed, 95% Wilson':<30} "
        f"{'A/B deployed, 95% Wilson':<30} changes in 30 days: mean, max, months, rollbacks"
    )
    missed: list[str] = []
    for name in DATASETS:
        if name in outcomes:
            missed += report(name, outcomes[name])
    print(f"\n{speed_note()}")
    print(f"finished in {time.perf_counter() - started:.0f} s")
    if missed:
        print("\nMISSED TARGETS:\n  " + "\n  ".join(missed))
        if args.quick:
            raise SystemExit(1)
    else:
        print("all targets met")


DATASETS: dict[str, Callable[[], Population]] = {
    "penguins": penguins,
    "mid": lambda: generated("mid", 1_000, classes=2, pool=50_000, seed=11),
    "large": lambda: generated("large", 20_000, classes=3, pool=200_000, seed=12),
    "rare": rare,
    "houses-s": lambda: houses("houses-s", 1_000),
    "houses-m": lambda: houses("houses-m", 8_400),
    "houses-l": lambda: houses("houses-l", 20_000),
}


if __name__ == "__main__":
    main()
