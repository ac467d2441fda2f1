from pathlib import Path
from typing import Any

import pandas as pd
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ml.drift.drift import PREDICTIONS_LABEL, FeatureDrift
from predictor.drift_check import DriftCheckError, check, check_log
from predictor.serving.registry import RegistryError
from retraining.data import DataError
from retraining.data.formats import format_for
from retraining.monitoring import triggers


class Command(BaseCommand):
    # Run from cron or a one-off dyno, it reads the log and records a check: the system checks (which
    # import the training stack to vet TRAINING_ESTIMATOR) are the web and worker processes' to run
    # at start, as Django's shell leaves them.
    requires_system_checks: list[str] = []
    help = (
        "Compare inputs with the champion's training profile: per-feature drift scores and the verdict. "
        "Without --csv, what beat does every MONITOR_INTERVAL seconds, now: the champion's recent logged "
        "inputs and its live quality, recorded, and a drift or degradation run started if a trigger says so."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--csv", help="a CSV or Parquet file of inputs (a 'prediction' column is compared too)")
        parser.add_argument("--model-version", help="with --csv: another model version's profile than the champion's")
        parser.add_argument(
            "--no-trigger", action="store_true", help="check the prediction log and record it, but start no run"
        )

    def handle(
        self,
        *args: Any,
        csv: str | None = None,
        model_version: str | None = None,
        no_trigger: bool = False,
        **options: Any,
    ) -> None:
        if csv is None:
            if model_version:
                raise CommandError("--model-version applies to --csv only: the log is compared with the champion")
            self._check_log(no_trigger)
            return
        frame = _read_csv(Path(csv))
        try:
            compared, report = check(frame, model_version)
        except (DriftCheckError, RegistryError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{len(frame)} rows of {csv} against the training profile of v{compared}")
        self._scores(report.features, report.predictions)
        self.stdout.write(f"verdict: {report.summary()}")

    def _check_log(self, no_trigger: bool) -> None:
        try:
            if no_trigger:
                checked, notes = check_log(), []
            else:
                looked = triggers.watch()
                if looked.drift is None:
                    raise DriftCheckError("; ".join(looked.notes))
                checked, notes = looked.drift, looked.notes[1:]
        except (DriftCheckError, RegistryError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"{checked.rows} logged predictions of v{checked.version} since {checked.since:%Y-%m-%d %H:%M %Z} "
            "against its training profile"
        )
        scores = {name: FeatureDrift(**score) for name, score in checked.report.get("features", {}).items()}
        predictions = checked.report.get("predictions")
        self._scores(scores, FeatureDrift(**predictions) if predictions else None)
        self.stdout.write(f"verdict: {checked.summary}")
        for note in notes:
            self.stdout.write(note)

    def _scores(self, features: dict[str, FeatureDrift], predictions: FeatureDrift | None) -> None:
        for name, score in features.items():
            self.stdout.write(_line(name, score))
        if predictions is not None:
            self.stdout.write(_line(PREDICTIONS_LABEL, predictions))


def _read_csv(path: Path) -> pd.DataFrame:
    """The file in the data format of its suffix, as the pipeline would read it."""
    if not path.is_file():
        raise CommandError(f"{path}: no such file")
    try:
        return format_for(path).read(path, str(path))
    except DataError as exc:
        raise CommandError(str(exc)) from None


def _line(name: str, score: FeatureDrift) -> str:
    psi = "-" if score.psi is None else f"{score.psi:.3f}"
    p_value = "-" if score.p_value is None else f"{score.p_value:.2g}"
    missing = "-" if score.missing_share is None else f"{score.missing_share:.1%}"
    flag = "  DRIFTED" if score.drifted else ""
    return f"{name:<24} {score.kind:<12} psi {psi:>7}  p {p_value:>8}  missing {missing:>6}{flag}"
