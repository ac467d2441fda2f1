from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from predictor.serving.registry import RegistryError
from retraining import data
from retraining.pipeline.reproduce import ReproduceError, reproduce
from retraining.pipeline.resources import MlflowModels


class Command(BaseCommand):
    help = "Retrain a registered model version from its record and say whether its predictions are identical."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("version", help="the registered model version, e.g. 3")

    def handle(self, *args: Any, **options: Any) -> None:
        version = str(options["version"]).removeprefix("v")
        try:
            result = reproduce(version, MlflowModels(), data.source_from_settings())
        except (ReproduceError, RegistryError, data.DataError) as exc:
            raise CommandError(str(exc)) from None
        if not result.identical:
            raise CommandError(result.describe())
        self.stdout.write(result.describe())
