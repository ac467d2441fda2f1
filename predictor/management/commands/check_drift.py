from pathlib import Path
from typing import Any

import pandas as pd
from django.core.management.base import BaseCommand, CommandError, CommandParser

from predictor.drift import FeatureDrift
from predictor.drift_check import DriftCheckError, check
from predictor.registry import RegistryError


class Command(BaseCommand):
    help = "Compare inputs with the champion's training profile: per-feature drift scores and the verdict."

    def add_arguments(self, parser: CommandParser) -> None:
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--csv", help="a CSV file of inputs (a 'prediction' column is compared too)")
        parser.add_argument("--model-version", help="another model version's profile than the champion's")

    def handle(self, *args: Any, csv: str, model_version: str | None = None, **options: Any) -> None:
        frame = _read_csv(Path(csv))
        try:
            compared, report = check(frame, model_version)
        except (DriftCheckError, RegistryError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{len(frame)} rows of {csv} against the training profile of v{compared}")
        for name, score in report.features.items():
            self.stdout.write(_line(name, score))
        if report.predictions is not None:
            self.stdout.write(_line("predictions", report.predictions))
        self.stdout.write(f"verdict: {report.summary()}")


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise CommandError(f"{path}: no such file")
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        reason = str(exc).strip().splitlines()[0]
        raise CommandError(f"{path} is not a valid CSV file: {reason}") from None


def _line(name: str, score: FeatureDrift) -> str:
    psi = "-" if score.psi is None else f"{score.psi:.3f}"
    p_value = "-" if score.p_value is None else f"{score.p_value:.2g}"
    missing = "-" if score.missing_share is None else f"{score.missing_share:.1%}"
    flag = "  DRIFTED" if score.drifted else ""
    return f"{name:<24} {score.kind:<12} psi {psi:>7}  p {p_value:>8}  missing {missing:>6}{flag}"
