from typing import Any

from django.core.management.base import BaseCommand

from predictor.predlog import rollups


class Command(BaseCommand):
    help = (
        "Build the prediction log's hourly rollups again from the rows logged (the first time, for a log written "
        "before rollups existed). Hours older than the oldest row keep their rollups."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        hours, labelled = rollups.rebuild()
        self.stdout.write(f"rebuilt the rollups: {hours} version-hours of volume, {labelled} labelled predictions")
