"""The migrations build today's schema, and migrate sets up what the app needs."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django_celery_beat.models import PeriodicTask

from predictor.predlog.retention import PRUNE_TASK_NAME
from retraining.workers import schedule


def test_each_app_has_one_initial_migration_that_matches_the_models(db):
    loader = MigrationLoader(connection)
    ours = sorted(key for key in loader.disk_migrations if key[0] in {"predictor", "retraining"})

    assert ours == [
        ("predictor", "0001_initial"),
        ("retraining", "0001_initial"),
        ("retraining", "0002_run_lifecycle"),
        ("retraining", "0003_positive_class"),
        ("retraining", "0004_regression_metrics"),
    ]
    # Exits non-zero when a model changed without its migration.
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


@pytest.fixture
def unmigrated(transactional_db):
    """The app's tables gone, as in a database that has never seen this app; migrated back after."""
    call_command("migrate", "predictor", "zero", verbosity=0)
    yield
    call_command("migrate", verbosity=0)


def test_migrating_a_fresh_database_creates_the_tables_and_the_schedule(unmigrated):
    assert "retraining_retrainingrun" not in connection.introspection.table_names()
    PeriodicTask.objects.all().delete()

    call_command("migrate", verbosity=0)

    assert {"predictor_deployment", "retraining_retrainingrun"} <= set(connection.introspection.table_names())
    names = set(PeriodicTask.objects.values_list("name", flat=True))
    assert {schedule.RETRAIN_TASK_NAME, schedule.SWEEP_TASK_NAME, schedule.WATCH_TASK_NAME, PRUNE_TASK_NAME} <= names
