import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ml.redact import redact
from predictor import mlflow_ui


class Command(BaseCommand):
    help = "Start the MLflow UI over the same tracking store and registry the app uses."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=settings.MLFLOW_PORT)
        parser.add_argument(
            "--install-only",
            action="store_true",
            help=f"only install the UI's virtualenv ({mlflow_ui.VENV.name}) if it is missing or out of date",
        )

    def handle(self, *args: Any, host: str, port: int, install_only: bool, **options: Any) -> None:
        if install_only:
            if not mlflow_ui.installed():
                mlflow_ui.install()
            return
        if "://" in settings.MLFLOW_TRACKING_URI and settings.MLFLOW_TRACKING_URI.split("://")[0] in {
            "http",
            "https",
        }:
            raise CommandError(f"MLflow is a remote server ({redact(settings.MLFLOW_TRACKING_URI)}): open its own UI")
        sys.exit(mlflow_ui.run(host, port, self.say))

    def say(self, message: str) -> None:
        self.stdout.write(f"MLflow UI: {message}")
        self.stdout.flush()  # honcho shows the line now, not when the pipe's buffer fills
