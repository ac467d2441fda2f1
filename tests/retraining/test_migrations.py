"""The migrations build today's schema, and migrate sets up what the app needs."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from predictor.predlog.ids import new_ids
from predictor.predlog.retention import PRUNE_TASK_NAME
from retraining.workers import schedule


def test_each_app_has_one_initial_migration_that_matches_the_models(db):
    loader = MigrationLoader(connection)
    ours = sorted(key for key in loader.disk_migrations if key[0] in {"predictor", "retraining"})

    assert ours == [
        ("predictor", "0001_initial"),
        ("predictor", "0002_numeric_regression_values"),
        ("predictor", "0003_feedback_by_key"),
        ("predictor", "0004_log_budget"),
        ("predictor", "0006_verbose_names"),
        ("predictor", "0007_rollups"),
        ("predictor", "0008_hour_predictions"),
        ("predictor", "0009_day_labels_profile_copy"),
        ("predictor", "0010_hour_sources"),
        ("retraining", "0001_initial"),
        ("retraining", "0002_run_lifecycle"),
        ("retraining", "0003_positive_class"),
        ("retraining", "0004_regression_metrics"),
        ("retraining", "0005_worker_consuming"),
        ("retraining", "0006_run_log"),
        ("retraining", "0007_feedback_publishing"),
        ("retraining", "0008_trigger_label_sources"),
        ("retraining", "0009_run_profile"),
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


def test_the_logged_rows_of_a_regression_get_their_numbers_when_the_numeric_columns_arrive(transactional_db):
    """Rows logged before the prediction log stored numbers: a regression's (as its deployment
    records) are converted, a classification's numeric classes are left as classes."""
    before, after = [("predictor", "0001_initial")], [("predictor", "0002_numeric_regression_values")]
    MigrationExecutor(connection).migrate(before)
    try:
        old = MigrationExecutor(connection).loader.project_state(before).apps
        deployment, prediction = old.get_model("predictor", "Deployment"), old.get_model("predictor", "Prediction")
        regression = {"task": "regression"}
        deployment.objects.create(model_name="houses", version="3", source="pipeline", data_version=regression)
        deployment.objects.create(model_name="houses", version="2", source="bootstrap", data_version={})
        rows = [("3", "231.5", "200"), ("3", "1e-05", None), ("3", "-7.25", "-3"), ("2", "1", "0")]
        ids = new_ids(len(rows))
        for pid, (version, predicted, label) in zip(ids, rows, strict=True):
            prediction.objects.create(
                id=pid, created_at=timezone.now(), model_version=version, inputs={}, prediction=predicted, label=label
            )

        MigrationExecutor(connection).migrate(after)

        new = MigrationExecutor(connection).loader.project_state(after).apps.get_model("predictor", "Prediction")
        numbers = {str(p.id): (p.prediction_value, p.label_value) for p in new.objects.all()}
        assert [numbers[pid] for pid in ids] == [(231.5, 200.0), (1e-05, None), (-7.25, -3.0), (None, None)]
        MigrationExecutor(connection).migrate(before)  # and back: the columns go, the text stays
        assert prediction.objects.count() == 4
    finally:
        call_command("migrate", verbosity=0)


def test_the_label_sources_of_the_labels_already_given_are_counted_when_their_rollup_arrives(transactional_db):
    """Predictions labelled before the rollup existed are counted under their newest label's source."""
    before, after = [("predictor", "0009_day_labels_profile_copy")], [("predictor", "0010_hour_sources")]
    MigrationExecutor(connection).migrate(before)
    try:
        old = MigrationExecutor(connection).loader.project_state(before).apps
        prediction, change = old.get_model("predictor", "Prediction"), old.get_model("predictor", "LabelChange")
        now = timezone.now()
        ids = new_ids(3)
        for pid in ids:
            prediction.objects.create(id=pid, created_at=now, model_version="4", inputs={}, prediction="a", label="b")
        given = [(ids[0], "key:1"), (ids[0], "key:2"), (ids[1], "key:1")]  # the third has no recorded giver
        for i, (pid, source) in enumerate(given):
            change.objects.create(prediction_id=pid, label="b", source=source, given_at=now + timedelta(seconds=i))

        MigrationExecutor(connection).migrate(after)

        sources = MigrationExecutor(connection).loader.project_state(after).apps.get_model("predictor", "HourSources")
        assert sorted(sources.objects.values_list("source", "count")) == [("key:1", 1), ("key:2", 1)]
    finally:
        call_command("migrate", verbosity=0)
