import os
import shutil
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Start the MLflow UI over the same tracking store and registry the app uses."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=settings.MLFLOW_PORT)

    def handle(self, *args: Any, host: str, port: int, **options: Any) -> None:
        if "://" in settings.MLFLOW_TRACKING_URI and settings.MLFLOW_TRACKING_URI.split("://")[0] in {
            "http",
            "https",
        }:
            raise CommandError(f"MLflow is a remote server ({settings.MLFLOW_TRACKING_URI}): open its own UI")
        mlflow = shutil.which("mlflow", path=os.path.dirname(sys.executable)) or shutil.which("mlflow")
        if mlflow is None:
            raise CommandError("the mlflow command is not installed in this environment")
        os.execv(
            mlflow,
            [
                mlflow,
                "server",
                "--backend-store-uri",
                settings.MLFLOW_TRACKING_URI,
                "--registry-store-uri",
                settings.MLFLOW_REGISTRY_URI,
                "--host",
                host,
                "--port",
                str(port),
                "--workers",
                "1",
            ],
        )
