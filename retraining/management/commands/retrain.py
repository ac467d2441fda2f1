import getpass
import socket
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ml.gate import words
from retraining import services
from retraining.models import RetrainingRun
from retraining.pipeline import flow
from retraining.runs import store

Status = RetrainingRun.Status


def who_here() -> str:
    """The person at the command line, as far as this machine knows."""
    return f"cli ({getpass.getuser()}@{socket.gethostname()})"


class Command(BaseCommand):
    help = "Run the retraining pipeline in the foreground, one progress line per step."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force",
            action="store_true",
            help="train and judge even when the data is what the champion or an earlier run already judged",
        )
        parser.add_argument("--reason", default="", help="why the run is forced, recorded on the run")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["reason"] and not options["force"]:
            raise CommandError("--reason says why a run is forced: use it with --force")
        forced = services.forced_by(who_here(), options["reason"]) if options["force"] else None
        run, created = store.start_run(RetrainingRun.Trigger.CLI, forced=forced)
        if not created:
            raise CommandError(f"run #{run.pk} is already {run.status} (started by {run.trigger}); try again later")
        self.stdout.write(f"run #{run.pk} started" + (" (forced)" if forced else ""))
        try:
            run = flow.execute(run.pk, progress=self.stdout.write)
        except KeyboardInterrupt:
            # Closed now rather than left for the stale-run sweep to find minutes later.
            step = RetrainingRun.objects.get(pk=run.pk).step or "?"
            store.finish(run, Status.FAILED, error=f"interrupted from the keyboard during step {step!r}")
            raise CommandError(f"run #{run.pk} interrupted during step {step!r}") from None
        decided = words.decision(run.decision_rule, run.status, run.comparison)
        if decided:
            self.stdout.write(f"decision: {decided}")
        for reason in run.reasons:
            self.stdout.write(f"  {reason}")
        if run.status in (Status.REJECTED, Status.FAILED, Status.CANCELLED):
            raise CommandError(f"run #{run.pk} {run.status}: {run.error or '; '.join(run.reasons)}")
