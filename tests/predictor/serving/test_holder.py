"""How a serving process swaps in a new deployment and refuses a bad version (in-process;
the same under real gunicorn workers is in test_hot_swap.py)."""

import pandas as pd

from predictor import services
from predictor.models import Deployment, ServingProcess
from predictor.serving.follower import follower
from predictor.serving.holder import holder
from tests.support.serving import deploy, register_broken_version


def test_a_new_deployment_is_swapped_in_and_the_old_model_still_answers(served, penguin_versions, rows):
    before = holder().current
    deploy(penguin_versions.second.version)
    assert holder().sync() is True
    assert holder().current.version == "2"
    # A request that started before the swap holds the old model and finishes on it.
    assert len(before.model.predict_proba(pd.DataFrame(rows))) == 3
    assert before.version == "1"


def test_a_version_that_fails_to_load_is_never_swapped_in(client, served, tmp_path, settings, rows):
    settings.ROLLBACK_BAKE_WINDOW = 0
    broken = register_broken_version(tmp_path)
    deploy(broken)
    follower().tick()
    assert holder().current.version == "1"
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "failing"
    assert body["version"] == "1"
    assert body["error"].startswith(f"version {broken} was not swapped in: could not load")
    process = ServingProcess.objects.get(name=holder().process_name)
    assert (process.version, process.failed_version) == ("1", broken)
    assert process.error == body["error"]
    assert client.post("/api/v1/predict", {"instances": rows}, content_type="application/json").status_code == 200
    assert Deployment.objects.filter(source=Deployment.Source.AUTO_ROLLBACK).count() == 0


def test_a_rollback_to_the_version_already_served_swaps_nothing(served, penguin_versions):
    first = holder().current
    services.rollback_to(served, user=None)
    assert holder().sync() is False
    assert holder().current.model is first.model
    assert holder().current.deployment_id == services.active_deployment().pk
