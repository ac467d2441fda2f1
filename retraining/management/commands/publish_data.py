from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from retraining import data


class Command(BaseCommand):
    help = "Publish the next version of the dataset to the data registry (dvc add, git commit, dvc push)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "csv",
            nargs="?",
            help="data file to publish (CSV or Parquet, as DATA_PATH's suffix says); omit for the demo's next batch",
        )
        parser.add_argument("-m", "--message", default="", help="commit message")

    def handle(self, *args: Any, csv: str | None = None, message: str = "", **options: Any) -> None:
        if not csv:
            if not settings.DATA_IS_DEMO:
                raise CommandError("give the CSV file to publish (the demo batches exist only in the demo registry)")
            # By name: the demo app is optional, and nothing in the product depends on its code.
            call_command("publish_demo_batch", stdout=self.stdout, stderr=self.stderr)
            return
        try:
            version = data.publish(
                settings.DATA_REGISTRY, settings.DATA_PATH, Path(csv), message or f"Publish {Path(csv).name}"
            )
        except data.DataError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(published(version))


def published(version: data.DatasetVersion) -> str:
    """The line both this command and the demo's publish_demo_batch print for a published version."""
    return f"published {version.path} @ {version.rev[:10]} md5 {version.md5} ({version.size} bytes)"
