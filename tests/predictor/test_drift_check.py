"""`manage.py check_drift`: a frame compared with the served champion's training profile."""

import os
import subprocess
import sys
import uuid
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from demo.batches import demo_frame
from predictor import services
from predictor.drift_check import DriftCheckError, check, check_log
from predictor.models import Deployment, ProfileCopy
from predictor.serving import registry
from tests.support.monitoring import log_profiled_penguins
from tests.support.serving import log_penguins_model

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="session")
def profiled_versions() -> tuple[str, str, str]:
    """(model name, a version logged with its training profile, a version logged without one)."""
    name = f"test-drift-{uuid.uuid4().hex[:8]}"
    with override_settings(MODEL_NAME=name):
        profiled = log_profiled_penguins()
        bare = log_penguins_model(demo_frame(1, "penguins"), {"n_estimators": 2})
    return name, profiled, bare


@pytest.fixture
def champion_with_profile(settings, profiled_versions) -> str:
    settings.MODEL_NAME = profiled_versions[0]
    return services.deploy(profiled_versions[1], source=Deployment.Source.BOOTSTRAP).version


def csv_file(tmp_path: Path, frame) -> Path:
    path = tmp_path / "inputs.csv"
    frame.to_csv(path, index=False)
    return path


def check_drift(*args: str) -> list[str]:
    out = StringIO()
    call_command("check_drift", *args, stdout=out)
    return out.getvalue().splitlines()


def test_it_prints_each_features_scores_and_no_drift_for_the_training_data(champion_with_profile, tmp_path):
    lines = check_drift("--csv", str(csv_file(tmp_path, demo_frame(2, "penguins"))))

    assert lines[0].startswith(f"{len(demo_frame(2, 'penguins'))} rows of ")
    assert f"training profile of v{champion_with_profile}" in lines[0]
    assert any(line.split()[0] == "body_mass_g" and "psi" in line for line in lines)
    assert lines[-1] == f"verdict: no drift ({len(demo_frame(2, 'penguins'))} rows)"


def test_it_names_the_drifted_feature_in_the_verdict(champion_with_profile, tmp_path):
    frame = demo_frame(2, "penguins")
    heavier = frame.assign(body_mass_g=frame["body_mass_g"] + 1500)

    lines = check_drift("--csv", str(csv_file(tmp_path, heavier)))

    assert lines[-1].startswith("verdict: drift on body_mass_g (PSI ")
    assert any(line.split()[0] == "body_mass_g" and line.endswith("DRIFTED") for line in lines)


def test_a_prediction_column_is_compared_with_the_holdout_predictions(champion_with_profile):
    frame = demo_frame(2, "penguins").assign(prediction="Chinstrap")

    version, report = check(frame)

    assert version == champion_with_profile
    assert report.predictions is not None
    assert report.predictions.drifted
    assert report.drifted == ["predictions"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("", "is empty"),
        ('a,b\n1,"2\n', "is not a valid CSV file"),
    ],
    ids=["missing", "empty", "broken"],
)
def test_a_bad_csv_file_is_one_line_naming_the_file(champion_with_profile, tmp_path, content, message):
    path = tmp_path / "bad.csv"
    if content is not None:
        path.write_text(content)

    with pytest.raises(CommandError, match=message) as failure:
        check_drift("--csv", str(path))

    assert str(path) in str(failure.value)
    assert "\n" not in str(failure.value)


def test_without_a_champion_it_says_so(settings, profiled_versions, tmp_path):
    settings.MODEL_NAME = profiled_versions[0]

    with pytest.raises(CommandError, match="no champion is served yet"):
        check_drift("--csv", str(csv_file(tmp_path, demo_frame(1, "penguins"))))


def test_a_champion_logged_without_a_profile_cannot_be_compared(settings, profiled_versions, tmp_path):
    settings.MODEL_NAME = profiled_versions[0]
    services.deploy(profiled_versions[2], source=Deployment.Source.BOOTSTRAP)

    with pytest.raises(DriftCheckError, match=f"v{profiled_versions[2]} has no training profile"):
        check(demo_frame(1, "penguins"))
    with pytest.raises(CommandError, match="has no training profile"):
        check_drift("--csv", str(csv_file(tmp_path, demo_frame(1, "penguins"))))


def test_a_given_model_version_is_compared_instead_of_the_champion(settings, profiled_versions, tmp_path):
    settings.MODEL_NAME = profiled_versions[0]
    path = str(csv_file(tmp_path, demo_frame(1, "penguins")))

    lines = check_drift("--csv", path, "--model-version", profiled_versions[1])

    assert f"training profile of v{profiled_versions[1]}" in lines[0]
    with pytest.raises(CommandError, match="version 99"):
        check_drift("--csv", path, "--model-version", "99")


def test_a_parquet_file_of_inputs_is_read_as_parquet(champion_with_profile, tmp_path):
    path = tmp_path / "inputs.parquet"
    demo_frame(2, "penguins").to_parquet(path, index=False)

    lines = check_drift("--csv", str(path))

    assert lines[0].startswith(f"{len(demo_frame(2, 'penguins'))} rows of {path}")
    assert lines[-1].startswith("verdict:")


def test_the_command_calls_the_predictions_what_the_panel_does(champion_with_profile, tmp_path):
    frame = demo_frame(2, "penguins").assign(prediction="Chinstrap")

    lines = check_drift("--csv", str(csv_file(tmp_path, frame)))

    assert any(line.startswith("predicted class mix ") for line in lines)
    assert "predicted class mix (PSI " in lines[-1]
    assert not any(line.split()[0] == "predictions" for line in lines)


def test_the_log_check_copies_the_champions_profile_once_then_reads_no_mlflow(settings, profiled_versions, monkeypatch):
    settings.MODEL_NAME, version = profiled_versions[:2]
    run_id = registry.model_version(version).run_id
    champion = services.deploy(version, source=Deployment.Source.PIPELINE, run_id=run_id)  # as a run deploys
    first = check_log()
    profile = registry.profile(champion.version)
    monkeypatch.setattr(registry, "profile", lambda version: pytest.fail("the profile was read from MLflow again"))

    again = check_log()

    assert ProfileCopy.objects.get(run_id=champion.run_id).profile == profile
    assert (again.version, again.verdict) == (first.version, first.verdict)


def test_the_check_drift_command_imports_neither_mlflow_nor_the_training_stack():
    """A one-off `check_drift` (cron, a one-off dyno) stays small: scikit-learn, scipy.stats and MLflow
    are imported where training, comparing or MLflow need them, not when Django is set up."""
    script = (
        "import sys, django; django.setup()\n"
        "import retraining.management.commands.check_drift\n"
        "print(sorted(m for m in ('sklearn', 'scipy.stats', 'mlflow') if m in sys.modules))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    found = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)

    assert found.stdout.strip().splitlines()[-1] == "[]"
