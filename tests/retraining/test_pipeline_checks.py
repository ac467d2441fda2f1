"""TRAINING_PIPELINE and TRAINING_ESTIMATOR are checked when a process starts: what cannot be
imported or is not a known estimator is a system check error that names it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import checks

from ml.estimators import TrainingError
from retraining import plugin

ROOT = Path(__file__).resolve().parents[2]


def errors() -> list[checks.CheckMessage]:
    return [message for message in checks.run_checks() if message.is_serious()]


def test_no_team_pipeline_and_a_known_estimator_are_no_error(settings):
    settings.TRAINING_PIPELINE = ""
    settings.TRAINING_ESTIMATOR = "hist_gradient_boosting"

    assert errors() == []


@pytest.mark.parametrize(
    ("path", "said"),
    [
        ("no_such_team_module:make_pipeline", "No module named 'no_such_team_module'"),
        ("json:make_pipeline", 'does not define a "make_pipeline"'),
        ("math:pi", "is not callable"),
        ("make_pipeline", "doesn't look like a module path"),
    ],
)
def test_a_pipeline_that_cannot_be_imported_is_an_error_naming_it(settings, path, said):
    settings.TRAINING_PIPELINE = path

    found = errors()

    assert [error.id for error in found] == ["retraining.E004"]
    assert f"TRAINING_PIPELINE={path!r}" in found[0].msg
    assert said in found[0].msg


def test_the_callable_is_imported_once(settings):
    assert plugin.load("json:dumps") is plugin.load("json.dumps")
    with pytest.raises(TrainingError, match="TRAINING_PIPELINE='json:nothing' cannot be imported"):
        plugin.load("json:nothing")


@pytest.mark.parametrize("name", ["svm", "sklearn.ensemble.NoSuchForest"])
def test_an_unknown_estimator_is_an_error_naming_it(settings, name):
    settings.TRAINING_ESTIMATOR = name

    found = errors()

    assert [error.id for error in found] == ["retraining.E005"]
    assert f"TRAINING_ESTIMATOR={name!r}" in found[0].msg


def test_manage_py_check_refuses_a_pipeline_that_cannot_be_imported():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "TRAINING_PIPELINE": "no_such_team:make"}

    done = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )

    assert done.returncode != 0
    assert "retraining.E004" in done.stderr
    assert "TRAINING_PIPELINE='no_such_team:make' cannot be imported" in done.stderr
