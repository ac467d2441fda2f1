from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from demo import batches
from retraining import data


class Command(BaseCommand):
    help = "Publish the next version of the dataset to the data registry (dvc add, git commit, dvc push)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("csv", nargs="?", help="CSV file to publish; omit to publish the demo's next batch")
        parser.add_argument("-m", "--message", default="", help="commit message")

    def handle(self, *args: Any, csv: str | None = None, message: str = "", **options: Any) -> None:
        repo = settings.DATA_REGISTRY
        try:
            if csv:
                version = data.publish(repo, settings.DATA_PATH, Path(csv), message or f"Publish {Path(csv).name}")
            elif settings.DATA_IS_DEMO:
                version = batches.publish_next_demo_batch(Path(repo), settings.DATA_PATH)
            else:
                raise CommandError("give the CSV file to publish (the demo batches exist only in the demo registry)")
        except data.DataError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"published {version.path} @ {version.rev[:10]} md5 {version.md5} ({version.size} bytes)")
