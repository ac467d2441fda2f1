"""A team's own pipeline (TRAINING_PIPELINE) through the whole pipeline in-process, against a real
git + DVC registry and a real MLflow store: the product keeps its split, gate, logging, profile and
reproduce; every failure of the team's code fails the run with its message and keeps the champion."""

import hashlib
import importlib
import sys

import pytest
from django.conf import settings

from demo import batches
from ml.split import split, split_key
from predictor.models import Deployment
from predictor.serving import registry
from predictor.serving.holder import holder
from retraining.models import PromotionPolicy, RetrainingRun
from retraining.pipeline.reproduce import reproduce
from retraining.pipeline.resources import real_resources
from tests.support.pipeline import publish_batch, run_pipeline
from tests.support.team import write_module

pytestmark = pytest.mark.slow

Status = RetrainingRun.Status


@pytest.fixture
def team_folder(tmp_path, monkeypatch):
    folder = tmp_path / "team"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    return folder


@pytest.fixture
def team_pipeline(team_folder, settings):
    settings.TRAINING_PIPELINE = write_module(team_folder)
    settings.TRAINING_PARAMS = {"max_iter": 30}
    return settings.TRAINING_PIPELINE


@pytest.fixture
def team_champion(transactional_db, demo_registry, model_name, served_model, team_pipeline):
    run = run_pipeline(RetrainingRun.Trigger.BOOTSTRAP)
    assert run.status == Status.DEPLOYED, (run.error, run.reasons)
    holder().sync()
    return run


def test_a_team_pipeline_is_trained_on_the_training_rows_only_logged_served_and_recorded(team_champion, team_folder):
    run, path = team_champion, settings.TRAINING_PIPELINE
    module = sys.modules[path.split(":")[0]]
    first = batches.demo_frame(1)
    training, holdout = split(first, settings.HOLDOUT_FRACTION, split_key(first, "species"))

    (seen,) = module.SEEN
    assert len(seen) == run.rows["train"] == len(training)
    features = [c for c in first.columns if c != "species"]
    assert len(seen.merge(holdout[features].drop_duplicates(), on=features, how="inner")) == 0

    version = f"sha256:{hashlib.sha256((team_folder / (module.__name__ + '.py')).read_bytes()).hexdigest()}"
    assert run.lineage["pipeline"] == {"path": path, "version": version}
    traced = registry.model_version(run.model_version)
    assert traced.tags["retraining.pipeline"] == path
    assert traced.tags["retraining.pipeline_version"] == version
    assert traced.params["pipeline"] == path
    assert registry.read_artifact(run.model_version, "training_setup.json") is not None
    served = holder().current
    assert served.version == run.model_version
    assert type(served.model.named_steps["model"]).__name__ == "HistGradientBoostingClassifier"
    assert len(served.model.predict_proba(first.drop(columns=["species"]).head(3))) == 3
    assert set(registry.profile(run.model_version)["features"]) >= {"island", "bill_length_mm"}
    columns, _ = registry.input_schema(run.model_version)
    assert [column["name"] for column in columns] == features


def test_a_model_of_a_team_pipeline_is_reproduced(team_champion):
    resources = real_resources()

    result = reproduce(team_champion.model_version, resources.models, resources.source)

    assert result.identical, result.describe()


def test_a_team_pipeline_retrains_and_is_judged_by_the_gate(team_champion):
    publish_batch(2)

    run = run_pipeline()

    assert run.status in (Status.DEPLOYED, Status.KEPT), (run.error, run.reasons)
    assert run.decision_rule
    assert run.champion_metrics
    assert run.challenger_metrics
    assert run.lineage["pipeline"]["path"] == settings.TRAINING_PIPELINE


RAISES = """
def make_pipeline(params, columns):
    raise KeyError("text column 'comment' not in " + repr(sorted(columns)))
"""
NOT_AN_ESTIMATOR = """
def make_pipeline(params, columns):
    return {"model": "forest"}
"""
NO_PROBABILITIES = """
from sklearn.compose import make_column_transformer
from sklearn.pipeline import make_pipeline as chain
from sklearn.svm import LinearSVC


def make_pipeline(params, columns):
    return chain(make_column_transformer(("passthrough", columns["numeric"])), LinearSVC())
"""


@pytest.mark.parametrize(
    ("source", "said"),
    [
        (RAISES, "raised KeyError: \"text column 'comment' not in ['boolean', 'categorical', 'datetime'"),
        (NOT_AN_ESTIMATOR, "returned a dict, not a scikit-learn estimator"),
        (NO_PROBABILITIES, "returned LinearSVC, which has no predict_proba, and the policy's primary metric roc_auc"),
    ],
)
def test_a_team_pipeline_that_fails_fails_the_run_with_its_message_and_keeps_the_champion(
    team_champion, team_folder, settings, source, said
):
    PromotionPolicy.objects.create(primary_metric="roc_auc")
    settings.TRAINING_PIPELINE = write_module(team_folder, source)
    champion = Deployment.objects.first()
    publish_batch(2)

    run = run_pipeline()

    assert run.status == Status.FAILED
    assert said in run.error
    assert settings.TRAINING_PIPELINE in run.error
    assert Deployment.objects.first() == champion
    assert registry.champion_version() == team_champion.model_version


def test_a_team_pipeline_that_cannot_be_imported_fails_the_run_and_keeps_the_champion(team_champion, settings):
    settings.TRAINING_PIPELINE = "team_module_nobody_installed:make_pipeline"
    importlib.invalidate_caches()
    publish_batch(2)

    run = run_pipeline()

    assert run.status == Status.FAILED
    assert "TRAINING_PIPELINE='team_module_nobody_installed:make_pipeline' cannot be imported" in run.error
    assert registry.champion_version() == team_champion.model_version


def test_a_model_of_a_team_pipeline_answers_the_prediction_api(team_champion, client):
    rows = batches.demo_frame(2).drop(columns=["species"]).head(3)
    instances = [{k: (None if v != v else v) for k, v in row.items()} for row in rows.to_dict("records")]

    answer = client.post("/api/v1/predict", {"instances": instances}, content_type="application/json")

    assert answer.status_code == 200, answer.content
    assert answer["X-Model-Version"] == team_champion.model_version
    body = answer.json()
    assert len(body["predictions"]) == 3
    assert [sum(row) for row in body["probabilities"]] == pytest.approx([1.0] * 3)
