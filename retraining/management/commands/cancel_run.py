from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from retraining.management.commands.retrain import who_here
from retraining.models import RetrainingRun
from retraining.runs import store


class Command(BaseCommand):
    help = (
        "Cancel a run: a queued run is closed at once; a running run stops at its next step, or at once "
        "inside an interruptible step. The champion is untouched."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("run_id", type=int, help="the run's number (#N)")

    def handle(self, *args: Any, **options: Any) -> None:
        run_id = options["run_id"]
        try:
            run = store.cancel(run_id, who_here())
        except RetrainingRun.DoesNotExist:
            raise CommandError(f"there is no run #{run_id}") from None
        except store.NotCancellable as exc:
            raise CommandError(str(exc)) from None
        if run.finished:
            self.stdout.write(f"run #{run.pk} cancelled: {'; '.join(run.reasons)}")
        else:
            self.stdout.write(
                f"run #{run.pk} is {run.status} (step {run.step or '?'!r}): asked to stop; it stops at its next "
                "step, or at once inside an interruptible one"
            )
