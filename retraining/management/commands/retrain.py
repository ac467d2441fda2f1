from typing import Any

from django.core.management.base import BaseCommand, CommandError

from retraining.models import RetrainingRun
from retraining.pipeline import flow
from retraining.runs import store

Status = RetrainingRun.Status


class Command(BaseCommand):
    help = "Run the retraining pipeline in the foreground, one progress line per step."

    def handle(self, *args: Any, **options: Any) -> None:
        run, created = store.start_run(RetrainingRun.Trigger.CLI)
        if not created:
            raise CommandError(f"run #{run.pk} is already {run.status} (started by {run.trigger}); try again later")
        self.stdout.write(f"run #{run.pk} started")
        try:
            run = flow.execute(run.pk, progress=self.stdout.write)
        except KeyboardInterrupt:
            # Closed now rather than left for the stale-run sweep to find minutes later.
            step = RetrainingRun.objects.get(pk=run.pk).step or "?"
            store.finish(run, Status.FAILED, error=f"interrupted from the keyboard during step {step!r}")
            raise CommandError(f"run #{run.pk} interrupted during step {step!r}") from None
        for reason in run.reasons:
            self.stdout.write(f"  {reason}")
        if run.status in (Status.REJECTED, Status.FAILED):
            raise CommandError(f"run #{run.pk} {run.status}: {run.error or '; '.join(run.reasons)}")
