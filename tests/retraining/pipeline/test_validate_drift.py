"""Drift in the pipeline: the champion's training profile in MLflow, and new data compared with it
by the validate step (real pipeline, real git + DVC registry, real MLflow store)."""

import pytest
from django.conf import settings

from demo import batches
from ml.drift.profile import build_profile
from ml.features import prepare_features
from ml.split import canonical, split, split_key
from predictor.models import Deployment
from predictor.serving import registry
from retraining.models import PromotionPolicy, RetrainingRun
from tests.support.pipeline import publish_batch, publish_frame, run_pipeline

pytestmark = pytest.mark.slow

Status = RetrainingRun.Status


def heavier_penguins():
    """Demo batch 2 with every penguin 1.5 kg heavier: same species, different inputs."""
    frame = batches.demo_frame(2)
    return frame.assign(body_mass_g=frame["body_mass_g"] + 1500)


def test_a_bootstrapped_champion_carries_the_profile_of_its_training_data(champion):
    first = batches.demo_frame(1)
    key = split_key(first, "species")
    training, holdout = (canonical(part, key) for part in split(first, settings.HOLDOUT_FRACTION, key))
    model = registry.load_version(champion.version).model
    expected = build_profile(prepare_features(training, "species"), model.predict(prepare_features(holdout, "species")))

    profile = registry.profile(champion.version)

    assert profile == expected
    assert profile["rows"] == len(training)
    assert set(profile["features"]) == set(batches.demo_frame(1).columns) - {"species"}
    assert profile["predictions"]["rows"] == len(holdout)


def test_a_new_version_from_the_same_population_records_no_drift(champion):
    publish_batch(2)

    run = run_pipeline()

    assert run.status in {Status.DEPLOYED, Status.KEPT}, (run.error, run.reasons)
    assert run.validation["drift"]["verdict"] == "no drift"
    assert run.validation["drift"]["rows"] == len(batches.demo_frame(2))
    assert not any("drifted" in warning for warning in run.validation["warnings"])


def test_a_shifted_new_version_is_recorded_as_drift_and_still_judged(champion):
    publish_frame(heavier_penguins())

    run = run_pipeline()

    assert run.status in {Status.DEPLOYED, Status.KEPT}, (run.error, run.reasons)
    drift = run.validation["drift"]
    assert drift["verdict"] == "drift"
    assert drift["drifted"] == ["body_mass_g"]
    assert drift["features"]["body_mass_g"]["psi"] > 1
    assert drift["features"]["body_mass_g"]["p_value"] < 0.001
    assert drift["features"]["island"]["drifted"] is False
    assert any(w.startswith("the new data drifted") and "body_mass_g" in w for w in run.validation["warnings"])


def test_a_shifted_new_version_is_rejected_when_the_policy_says_so(champion):
    PromotionPolicy.objects.create(reject_on_drift=True, note="drifted data is not trained on")
    publish_frame(heavier_penguins())

    run = run_pipeline()

    assert run.status == Status.REJECTED
    assert run.policy["reject_on_drift"] is True
    assert len(run.reasons) == 1
    assert run.reasons[0].startswith("the new data drifted from the champion's training data: drift on body_mass_g")
    assert run.validation["drift"]["drifted"] == ["body_mass_g"]
    assert [step["name"] for step in run.steps] == ["check", "pull", "validate", "notify"]
    assert Deployment.objects.first() == champion
    assert registry.champion_version() == champion.version
