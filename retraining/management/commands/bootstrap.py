import os
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from predictor.models import Deployment
from retraining import data
from retraining.models import RetrainingRun
from retraining.pipeline import flow
from retraining.runs import store
from retraining.workers import schedule


class Command(BaseCommand):
    help = "Create what a first start needs (staff user, demo data, schedule, first champion); reuse what exists."

    def handle(self, *args: Any, **options: Any) -> None:
        self._staff_user()
        schedule.ensure_default_schedule()
        if settings.DATA_IS_DEMO:
            # By name: the demo app is optional, and nothing in the product depends on its code.
            call_command("create_demo_registry", stdout=self.stdout, stderr=self.stderr)
        if Deployment.objects.exists():
            self.stdout.write(f"champion: v{Deployment.objects.first().version}")
            return
        self.stdout.write("no champion yet: training the first one")
        run, started = store.start_run(RetrainingRun.Trigger.BOOTSTRAP)
        if not started:
            raise CommandError(f"run #{run.pk} is in progress; wait for it to finish")
        try:
            run = flow.execute(run.pk, progress=self.stdout.write)
        except data.DataError as exc:
            raise CommandError(str(exc)) from None
        if run.status != RetrainingRun.Status.DEPLOYED:
            raise CommandError(f"the first champion was not deployed: {run.error or '; '.join(run.reasons)}")

    def _staff_user(self) -> None:
        users = get_user_model()
        if users.objects.filter(is_staff=True).exists():
            return
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME") or "admin"
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        email = os.environ.get("DJANGO_SUPERUSER_EMAIL", "")
        generated = not password
        password = password or secrets.token_urlsafe(12)
        users.objects.create_superuser(username=username, email=email, password=password)
        if generated:
            self.stdout.write(
                f"staff user created: {username} / {password}  (shown once; set it with DJANGO_SUPERUSER_PASSWORD)"
            )
        else:
            self.stdout.write(f"staff user created: {username}")
