"""Refuse a local data registry or DVC remote on a Heroku dyno, and a database made by an older schema;
warn of a data registry other hosts would not see.

The demo registry (git + DVC under var/) and its local-directory remote would vanish with the
dyno's filesystem at the next restart, and with them the record of which data trained which
model. On a dyno these are errors, so the release phase fails instead of starting such dynos.

The 13 migrations of 0.1.0 were replaced by one initial migration per app: a database migrated
by 0.1.0 records migrations that no longer exist, and migrating it would leave a schema no
migration describes. Every process refuses it (migrate runs database checks; the worker and
the web process call `refuse_to_start_with_errors`).
"""

import logging
import pkgutil
from collections.abc import Iterable, Sequence
from importlib import import_module
from typing import Any

from django.conf import settings
from django.core import checks
from django.db import DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

from ml.redact import redact
from predictor.checks import database_is_a_server, in_shared_var_dir, is_local, under_var_dir

logger = logging.getLogger(__name__)

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
                f"({redact(settings.DATA_REMOTE)}) would live on this dyno's disk, "
                "which Heroku wipes at every restart.",
                hint=_HINT,
                id="retraining.E001",
            )
        ]
    registry = str(settings.DATA_REGISTRY)
    if is_local(registry):
        return [
            checks.Error(
                f"DATA_REGISTRY={redact(registry)!r} is a path on this dyno's disk, "
                "which Heroku wipes at every restart.",
                hint=_HINT,
                id="retraining.E002",
            )
        ]
    return []


@checks.register("hosts", deploy=True)
def check_other_hosts_see_the_data_registry(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The demo registry is created under the VAR_DIR of the host that bootstraps: a worker on
    another host sharing the database finds no registry there."""
    registry = str(settings.DATA_REGISTRY)
    if not database_is_a_server() or not under_var_dir(registry) or in_shared_var_dir(registry):
        return []
    unset = "DATA_REGISTRY is not set, so the demo data registry" if settings.DATA_IS_DEMO else "DATA_REGISTRY"
    return [
        checks.Warning(
            f"{unset} is {registry!r}, under this host's VAR_DIR, while DATABASE_URL is a database server: a "
            "process on another host sharing it would find no data registry there.",
            hint="Set DATA_REGISTRY to a git URL every host reaches, or set VAR_DIR_SHARED=true if every process "
            "mounts this same VAR_DIR (one machine, or one shared volume).",
            id="retraining.W001",
        )
    ]


@checks.register()
def check_training_pipeline_imports(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """A team's pipeline that cannot be imported, or an estimator nobody knows, is said when a
    process starts, not at the next run's train step."""
    # scikit-learn is imported here, not with the module: a process that runs no check (a one-off
    # command through call_command, check_drift's watch) does not pay for it.
    from ml.estimators import TrainingError, resolve_estimator
    from retraining import plugin

    found = []
    if settings.TRAINING_PIPELINE:
        try:
            plugin.load(settings.TRAINING_PIPELINE)
        except TrainingError as exc:
            hint = "TRAINING_PIPELINE is package.module:callable, importable on this process's PYTHONPATH"
            found.append(checks.Error(str(exc), hint=hint, id="retraining.E004"))
    try:
        resolve_estimator(settings.TRAINING_ESTIMATOR)
    except TrainingError as exc:
        found.append(checks.Error(f"TRAINING_ESTIMATOR={settings.TRAINING_ESTIMATOR!r}: {exc}", id="retraining.E005"))
    return found


_OUR_APPS = ("predictor", "retraining")


@checks.register(checks.Tags.database)
def check_database_is_not_from_an_older_schema(
    app_configs: Any = None, databases: Iterable[str] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    return [
        checks.Error(refusal, id="retraining.E003")
        for alias in databases or ()
        if (refusal := older_schema(connections[alias]))
    ]


def older_schema(connection: BaseDatabaseWrapper) -> str | None:
    """Why this database cannot be used (one line, what to do included), or None when it can.

    A database that cannot be reached is not judged here: the process's own first query says so.
    """
    try:
        recorder = MigrationRecorder(connection)
        if not recorder.has_table():
            return None
        applied = recorder.applied_migrations()
    except DatabaseError:
        return None
    known = {app: _migrations_on_disk(app) for app in _OUR_APPS}
    unknown = [f"{app} {name}" for app, name in applied if app in known and name not in known[app]]
    # Newest first: the message names the last migration that database went through.
    unknown.sort(reverse=True)
    if not unknown:
        return None
    more = f" and {len(unknown) - 1} more" if len(unknown) > 1 else ""
    return (
        f"the database {_database_name(connection)} was made by an older version of this app: it records "
        f"migration {unknown[0]}{more}, which this version does not have; {_start_again(connection)}"
    )


def _migrations_on_disk(app: str) -> set[str]:
    module_name, _ = MigrationLoader.migrations_module(app)
    return {info.name for info in pkgutil.iter_modules(import_module(module_name).__path__)}


def _database_name(connection: BaseDatabaseWrapper) -> str:
    where = connection.settings_dict
    if connection.vendor == "sqlite":
        return str(where["NAME"])
    host = f" on {where['HOST']}:{where['PORT']}" if where.get("HOST") else ""
    return f"{where['NAME']!r}{host}"


def _start_again(connection: BaseDatabaseWrapper) -> str:
    if connection.vendor == "sqlite":
        return f"delete VAR_DIR ({settings.VAR_DIR}), or this database file, and start again"
    return "delete this database (or set DATABASE_URL to an empty one) and start again"


def refuse_to_start_with_errors(tags: Sequence[str] = ("production", "database"), **kwargs: Any) -> None:
    """A Celery worker runs no system checks of its own: run the production and database ones as it starts.

    Connected to `worker_init`; the web process calls it with the database ones. The release phase
    already refuses such a release; this covers a process started by other means.
    """
    found = checks.run_checks(tags=list(tags), databases=list(settings.DATABASES))
    errors = [message for message in found if message.is_serious()]
    if errors:
        lines = [_described(error) for error in errors]
        # One error without a hint (an older database) stays on one line.
        separator = " " if len(lines) == 1 and "\n" not in lines[0] else "\n"
        raise SystemExit("refusing to start:" + separator + "\n".join(lines))


def warn_of_what_other_hosts_would_not_share(**kwargs: Any) -> None:
    """Connected to `worker_init`, called by beat's scheduler: `check --deploy`'s warnings for several hosts, logged.

    Warnings, not a refusal: one machine with a database server is a sound deployment too.
    """
    for warning in checks.run_checks(tags=["hosts"], include_deployment_checks=True):
        logger.warning("%s", _described(warning))


def _described(message: checks.CheckMessage) -> str:
    return f"{message.id}: {message.msg}" + (f"\n    HINT: {message.hint}" if message.hint else "")
