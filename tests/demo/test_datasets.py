"""The demo's datasets (demo/datasets.py), and the loop the churn demo shows a newcomer."""

import pandas as pd
import pytest

from demo import batches, datasets
from predictor.models import Deployment
from retraining.models import RetrainingRun
from tests.support.pipeline import run_pipeline


def test_churn_batches_grow_and_each_holds_the_one_before() -> None:
    batches = [datasets.batch("churn", number) for number in (1, 2, 3)]
    assert [len(batch) for batch in batches] == [200, 2000, 2400]
    pd.testing.assert_frame_equal(batches[1].head(200), batches[0])
    pd.testing.assert_frame_equal(batches[2].head(2000), batches[1])
    assert set(batches[0]["churned"]) == {"yes", "no"}
    assert 0.25 < (batches[2]["churned"] == "yes").mean() < 0.45
    assert batches[2].notna().all().all()


def test_houses_are_a_fixed_regression_where_more_rows_lower_the_error() -> None:
    from ml.estimators import train
    from ml.evaluate import evaluate
    from ml.task import REGRESSION, infer

    batches = [datasets.batch("houses", number) for number in (1, 2, 3)]
    assert [len(batch) for batch in batches] == [200, 2000, 2400]
    pd.testing.assert_frame_equal(batches[1].head(200), batches[0])
    pd.testing.assert_frame_equal(datasets.batch("houses", 3), batches[2])
    assert infer(batches[2]["price"], max_classes=50).task is REGRESSION
    unseen = datasets.houses(2000, seed=99)
    errors = [
        evaluate(train(b, "price", "random_forest", {"n_estimators": 50}, 42, task=REGRESSION), unseen, "price",
                 task=REGRESSION).metrics["rmse"]
        for b in batches[:2]
    ]  # fmt: skip
    assert errors[1] < 0.8 * errors[0]
    assert errors[1] > datasets.HOUSE_NOISE  # the noise is a floor no model goes under


def test_it_names_the_demo_datasets_when_given_another() -> None:
    with pytest.raises(ValueError, match="unknown demo dataset 'iris': choose churn, houses or penguins"):
        datasets.batch("iris", 1)


@pytest.fixture
def churn_registry(tmp_path, settings, transactional_db, model_name, served_model):
    settings.DATA_REGISTRY = str(tmp_path / "registry")
    settings.DATA_IS_DEMO = True
    settings.DATA_REMOTE = str(tmp_path / "remote")
    settings.DATA_CACHE_DIR = tmp_path / "cache"
    settings.DEMO_DATASET = "churn"
    settings.DATA_PATH = "data/churn"
    settings.TARGET_COLUMN = "churned"
    settings.TRAINING_PARAMS = {"n_estimators": 100}
    batches.ensure_demo_registry(settings.DATA_REGISTRY, settings.DATA_REMOTE, settings.DATA_PATH)
    return settings.DATA_REGISTRY


@pytest.mark.slow
def test_the_churn_demo_deploys_a_clearly_better_model_then_keeps_it(churn_registry, settings):
    first = run_pipeline(RetrainingRun.Trigger.BOOTSTRAP)
    batches.publish_next_demo_batch(churn_registry, settings.DATA_PATH)
    better = run_pipeline()
    batches.publish_next_demo_batch(churn_registry, settings.DATA_PATH)
    plateau = run_pipeline()

    assert first.status == "deployed", (first.error, first.reasons)
    assert first.challenger_metrics["accuracy"] < 0.9
    assert better.status == "deployed", (better.error, better.reasons)
    gain = better.challenger_metrics["accuracy"] - better.champion_metrics["accuracy"]
    assert gain > 0.07, better.reasons
    assert better.p_value < better.policy["significance"]  # significant under the run's own gate
    assert plateau.status == "kept", (plateau.error, plateau.reasons)
    assert plateau.reasons[0].startswith("accuracy: challenger")
    champions = [d.metrics["accuracy"] for d in Deployment.objects.order_by("id")]
    assert champions == [first.challenger_metrics["accuracy"], better.challenger_metrics["accuracy"]]
