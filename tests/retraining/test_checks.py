"""A database made by the migrations of 0.1.0 is refused by every process, with one line that says what to do."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core import checks
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder

from retraining.checks import refuse_to_start_with_errors

ROOT = Path(__file__).resolve().parents[2]
OLD_MIGRATION = ("retraining", "0008_monitoring_triggers")


@pytest.fixture
def older_database(transactional_db):
    """The test database as 0.1.0 left it: it records a migration this version no longer has."""
    recorder = MigrationRecorder(connection)
    recorder.record_applied(*OLD_MIGRATION)
    yield connection
    recorder.record_unapplied(*OLD_MIGRATION)


def database_url(where: dict) -> str:
    if where["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{where['NAME']}"
    return f"postgres://{where['USER']}:{where['PASSWORD']}@{where['HOST']}:{where['PORT']}/{where['NAME']}"


def start(database: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database, "DJANGO_SETTINGS_MODULE": "config.settings"}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def refusal_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    return next(line for line in stderr.splitlines() if "retraining.E003" in line)


def test_a_database_this_version_migrated_passes(db):
    assert checks.run_checks(tags=[checks.Tags.database], databases=["default"]) == []


def test_a_database_recording_a_migration_that_no_longer_exists_is_refused(older_database):
    errors = checks.run_checks(tags=[checks.Tags.database], databases=["default"])

    assert [e.id for e in errors] == ["retraining.E003"]
    assert str(older_database.settings_dict["NAME"]) in errors[0].msg
    assert "records migration retraining 0008_monitoring_triggers" in errors[0].msg
    assert errors[0].msg.endswith("and start again")
    assert "\n" not in errors[0].msg


def test_on_sqlite_it_says_to_delete_var_dir(older_database):
    if older_database.vendor != "sqlite":
        pytest.skip("VAR_DIR holds the SQLite database only")
    (error,) = checks.run_checks(tags=[checks.Tags.database], databases=["default"])
    assert f"delete VAR_DIR ({settings.VAR_DIR}), or this database file, and start again" in error.msg


def test_the_worker_refuses_to_start_with_one_line(older_database):
    with pytest.raises(SystemExit) as refused:
        refuse_to_start_with_errors()

    (line,) = str(refused.value.code).splitlines()
    assert line.startswith("refusing to start: retraining.E003: the database ")


def test_migrate_and_the_web_process_refuse_it(older_database):
    url = database_url(older_database.settings_dict)
    before = MigrationRecorder(older_database).applied_migrations().keys()

    migrate = start(url, "manage.py", "migrate", "--noinput", "-v0")
    web = start(url, "-c", "import config.wsgi")

    assert migrate.returncode == 1
    assert "delete" in refusal_line(migrate.stderr)
    assert web.returncode == 1
    assert refusal_line(web.stderr).startswith("refusing to start: retraining.E003: the database ")
    assert MigrationRecorder(older_database).applied_migrations().keys() == before


def test_beat_refuses_it_before_it_schedules_anything(older_database):
    beat = start(database_url(older_database.settings_dict), "-m", "celery", "-A", "config", "beat", "-l", "WARNING")

    assert beat.returncode != 0
    # Beat logs its standard streams: the line comes with the log's prefix.
    assert "refusing to start: retraining.E003: the database " in refusal_line(beat.stderr)


def test_migrate_leaves_an_older_sqlite_database_untouched(tmp_path: Path):
    """Migrating it would first add Django's own tables: the refusal comes before any of them."""
    old = tmp_path / "db.sqlite3"
    with sqlite3.connect(old) as db:
        db.execute(
            "CREATE TABLE django_migrations (id integer PRIMARY KEY, app varchar, name varchar, applied datetime)"
        )
        db.execute("INSERT INTO django_migrations (app, name, applied) VALUES (?, ?, '2026-11-30')", OLD_MIGRATION)

    result = start(f"sqlite:///{old}", "manage.py", "migrate", "--noinput", "-v0")

    assert result.returncode == 1
    assert f"the database {old} was made by an older version of this app" in refusal_line(result.stderr)
    with sqlite3.connect(old) as db:
        assert db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall() == [("django_migrations",)]
