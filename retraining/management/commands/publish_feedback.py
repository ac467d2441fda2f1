from typing import Any

from django.core.management.base import BaseCommand, CommandError

from retraining import data
from retraining.management.commands.publish_data import published
from retraining.pipeline.feedback import publish_feedback


class Command(BaseCommand):
    help = (
        "Publish the logged inputs of predictions that received feedback, the newest label as the target, "
        "as a new partition file of the data registry's folder, with its provenance."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            publication = publish_feedback()
        except data.DataError as exc:
            raise CommandError(str(exc)) from None
        if publication is None:
            self.stdout.write("no labelled prediction to publish: every one is published already")
            return
        p = publication.provenance
        self.stdout.write(published(publication.version))
        self.stdout.write(
            f"{p.rows} labelled predictions in {publication.file}, made {p.predicted_from} .. {p.predicted_to}, "
            f"labels from {', '.join(p.sources)}"
        )
