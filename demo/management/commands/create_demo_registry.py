from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from demo import batches
from retraining.data import DataError


class Command(BaseCommand):
    help = "Create the demo data registry (git + DVC, DEMO_DATASET's batch 1) unless it exists; bootstrap runs it."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DATA_IS_DEMO:
            raise CommandError("DATA_REGISTRY is set: the app uses that registry, not the demo's")
        try:
            created = batches.ensure_demo_registry(
                Path(settings.DATA_REGISTRY),
                settings.DATA_REMOTE,
                settings.DATA_PATH,
                settings.DATA_REMOTE_ENDPOINT_URL,
            )
        except DataError as exc:
            raise CommandError(str(exc)) from None
        if created:
            self.stdout.write(f"demo data registry created at {settings.DATA_REGISTRY} (version 1, md5 {created.md5})")
