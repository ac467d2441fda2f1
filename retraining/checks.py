"""Refuse a local data registry or DVC remote on a Heroku dyno.

The demo registry (git + DVC under var/) and its local-directory remote would vanish with the
dyno's filesystem at the next restart, and with them the record of which data trained which
model. On a dyno these are errors, so the release phase fails instead of starting such dynos.
"""

from typing import Any

from django.conf import settings
from django.core import checks

from predictor.checks import is_local

_HINT = (
    "Set DATA_REGISTRY to the git URL of your data registry (https://github.com/ORG/REPO.git) whose DVC remote "
    "is on S3 (`dvc remote add -d storage s3://BUCKET/PATH`), and give the dynos AWS_ACCESS_KEY_ID and "
    "AWS_SECRET_ACCESS_KEY (see docs/deploy-heroku.md)."
)


@checks.register("production")
def check_data_registry_survives_restarts(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    if not settings.ON_HEROKU:
        return []
    if settings.DATA_IS_DEMO:
        return [
            checks.Error(
                "DATA_REGISTRY is not set: the demo data registry and its DVC remote "
                f"({settings.DATA_REMOTE}) would live on this dyno's disk, which Heroku wipes at every restart.",
                hint=_HINT,
                id="retraining.E001",
            )
        ]
    registry = str(settings.DATA_REGISTRY)
    if is_local(registry):
        return [
            checks.Error(
                f"DATA_REGISTRY={registry!r} is a path on this dyno's disk, which Heroku wipes at every restart.",
                hint=_HINT,
                id="retraining.E002",
            )
        ]
    return []


def refuse_to_start_with_errors(**kwargs: Any) -> None:
    """A Celery worker runs no system checks of its own: run the production ones as it starts.

    Connected to `worker_init`. The release phase already refuses such a release on Heroku; this
    covers a worker started by other means, the one process that would write models and data.
    """
    errors = [message for message in checks.run_checks(tags=["production"]) if message.is_serious()]
    if errors:
        lines = [f"{error.id}: {error.msg}\n    HINT: {error.hint}" for error in errors]
        raise SystemExit("refusing to start:\n" + "\n".join(lines))
