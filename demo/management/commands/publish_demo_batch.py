from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from demo import batches
from retraining.data import DataError
from retraining.management.commands.publish_data import published


class Command(BaseCommand):
    help = "Publish the demo dataset's next batch to the demo data registry; publish_data without a file runs it."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DATA_IS_DEMO:
            raise CommandError("DATA_REGISTRY is set: the demo batches exist only in the demo registry")
        try:
            version = batches.publish_next_demo_batch(Path(settings.DATA_REGISTRY), settings.DATA_PATH)
        except DataError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(published(version))
