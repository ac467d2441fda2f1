"""The whole pipeline in-process, against a real git + DVC registry and a real MLflow store."""

import json

import numpy as np
import pandas as pd
import pytest
from django.conf import settings

from demo import batches
from ml import lineage
from ml.keys import row_keys
from ml.split import holdout_mask, split, split_key
from predictor.models import Deployment
from predictor.serving import registry
from predictor.serving.holder import holder
from retraining.models import RetrainingRun
from retraining.pipeline import compare
from retraining.pipeline.resources import MlflowModels
from tests.support.pipeline import WEAK_PARAMS, publish_batch, publish_csv_by_hand, publish_frame, run_pipeline

pytestmark = pytest.mark.slow

Status = RetrainingRun.Status


def test_it_deploys_a_better_challenger_trained_on_new_data_and_serves_it(weak_champion):
    publish_batch(2)

    run = run_pipeline()

    assert run.status == Status.DEPLOYED, (run.error, run.reasons)
    assert run.challenger_metrics["accuracy"] > run.champion_metrics["accuracy"]
    assert run.decision_rule == "bootstrap"
    assert any(reason.startswith("significant: p-value") for reason in run.reasons)
    assert run.p_value < 0.05
    assert registry.champion_version() == run.model_version
    assert Deployment.objects.first().source == Deployment.Source.PIPELINE
    holder().sync()
    assert holder().current.version == run.model_version
    rows = batches.demo_frame(2).drop(columns=["species"]).head(3)
    assert len(holder().current.model.predict(rows)) == 3


def test_it_records_everything_the_run_used_on_the_row_and_in_mlflow(weak_champion):
    version = publish_batch(2)

    run = run_pipeline()

    assert run.dataset == version.as_dict()
    assert run.rows["total"] == len(batches.demo_frame(2))
    assert run.rows["train"] + run.rows["holdout"] == run.rows["total"]
    assert run.estimator == "random_forest"
    assert run.params == {"n_estimators": 30}
    assert run.policy["primary_metric"] == "accuracy"
    assert [step["name"] for step in run.steps] == ["check", "pull", "validate", "train", "compare", "deploy", "notify"]
    assert all(step["status"] == "done" and step["duration"] >= 0 for step in run.steps)
    traced = registry.model_version(run.model_version)
    assert traced.tags["data.md5"] == version.md5
    assert traced.tags["data.rev"] == version.rev
    assert traced.tags["data.path"] == version.path
    assert traced.tags["data.rows_holdout"] == str(run.rows["holdout"])
    assert traced.tags["retraining.status"] == "deployed"
    assert traced.tags["retraining.reasons"] == "; ".join(run.reasons)
    assert traced.params["n_estimators"] == "30"
    assert traced.metrics["champion_accuracy"] == pytest.approx(run.champion_metrics["accuracy"])
    assert traced.metrics["p_value"] == pytest.approx(run.p_value)
    assert "seconds_train" in traced.metrics


def test_it_skips_when_the_data_is_what_the_champion_was_trained_on(weak_champion, settings):
    settings.TRAINING_PARAMS = WEAK_PARAMS  # the champion's own setup: another one trains again (test_force.py)
    run = run_pipeline()

    assert run.status == Status.SKIPPED
    assert run.steps[0]["name"] == "check"
    assert len(run.steps) == 1
    assert run.steps[0]["duration"] < 1.0
    assert Deployment.objects.count() == 1


def test_it_keeps_the_champion_when_a_crippled_challenger_is_worse(good_champion, settings):
    publish_batch(2)
    settings.TRAINING_PARAMS = WEAK_PARAMS

    run = run_pipeline()

    assert run.status == Status.KEPT
    assert run.decision_rule == "min_improvement"
    assert "needs strictly better" in run.reasons[0]
    assert registry.champion_version() == good_champion.version
    assert Deployment.objects.first() == good_champion
    assert registry.model_version(run.model_version).tags["retraining.rejected"] == "; ".join(run.reasons)


def test_data_already_judged_against_this_champion_is_not_trained_on_again(good_champion, settings):
    publish_batch(2)
    settings.TRAINING_PARAMS = WEAK_PARAMS
    kept = run_pipeline()
    assert kept.status == Status.KEPT

    again = run_pipeline()

    assert again.status == Status.SKIPPED
    assert again.reasons == [
        f"no new data since run #{kept.pk} judged {kept.dataset['md5']} against v{good_champion.version} (kept)"
    ]
    assert [step["name"] for step in again.steps] == ["check"]

    # Other hyperparameters make the same data worth judging again.
    settings.TRAINING_PARAMS = {"n_estimators": 2, "max_depth": 1}
    assert run_pipeline().status == Status.KEPT


@pytest.mark.parametrize(
    ("break_it", "expected"),
    [
        (lambda f: f.drop(columns=["species"]), "the target column 'species' is missing"),
        (lambda f: f.drop(columns=["bill_length_mm"]), "feature column 'bill_length_mm' that the champion uses"),
        (lambda f: f.assign(species="Adelie"), "has 1 class(es)"),
        (
            lambda f: f.assign(flipper_length_mm=f["flipper_length_mm"].astype(object).where(f.index != 3, "long")),
            "column 'flipper_length_mm' should be numeric",
        ),
    ],
    ids=["missing-target", "dropped-feature", "one-class", "text-in-numeric"],
)
def test_it_rejects_invalid_data_with_the_reason_and_leaves_the_champion(good_champion, break_it, expected):
    publish_frame(break_it(batches.demo_frame(2)))

    run = run_pipeline()

    assert run.status == Status.REJECTED
    assert any(expected in reason for reason in run.reasons), run.reasons
    assert run.validation["problems"] == run.reasons
    assert Deployment.objects.first() == good_champion
    assert registry.champion_version() == good_champion.version


def test_it_lists_every_problem_of_a_bad_batch_at_once(good_champion):
    frame = batches.demo_frame(2).drop(columns=["island"]).assign(species="Gentoo")

    publish_frame(frame)
    run = run_pipeline()

    assert run.status == Status.REJECTED
    assert len(run.reasons) == 2


def test_the_holdout_never_holds_a_row_the_champion_trained_on_across_versions(good_champion):
    first = batches.demo_frame(1)
    second = batches.demo_frame(2)
    trained_on, _ = split(first, settings.HOLDOUT_FRACTION, split_key(first, "species"))
    publish_batch(2)

    run = run_pipeline()

    key = split_key(second, "species")
    _, holdout = split(second, settings.HOLDOUT_FRACTION, key)
    assert run.rows["holdout"] == len(holdout)
    overlap = holdout.merge(trained_on.drop_duplicates(), on=list(second.columns), how="inner")
    assert len(overlap) == 0
    # Rows of batch 1 keep their side of the split in batch 2.
    assert (holdout_mask(first, 0.25, key) == holdout_mask(second.head(len(first)), 0.25, key)).all()


def test_it_rolls_back_to_the_previous_champion_when_the_current_one_regressed(good_champion, settings):
    settings.TRAINING_PARAMS = WEAK_PARAMS
    publish_batch(2)
    weak = run_pipeline()
    assert weak.status == Status.KEPT
    # Someone promotes the crippled version by hand: the champion has now regressed.
    from predictor import services

    services.deploy(weak.model_version, source=Deployment.Source.REGISTRY, reason="promoted by hand")
    publish_batch(3)

    run = run_pipeline()

    assert run.status == Status.KEPT
    assert run.previous_champion_version == good_champion.version
    assert run.previous_champion_metrics["accuracy"] > run.champion_metrics["accuracy"]
    restored = Deployment.objects.first()
    assert restored.source == Deployment.Source.ROLLBACK
    assert restored.version == good_champion.version
    assert "regression" in restored.reason
    assert run.reasons[-1] == restored.reason
    assert registry.champion_version() == good_champion.version


def test_it_fails_a_run_whose_estimator_is_misconfigured_and_keeps_the_champion(good_champion, settings):
    settings.TRAINING_PARAMS = {"n_estimators": "many"}
    publish_batch(2)

    run = run_pipeline()

    assert run.status == Status.FAILED
    assert "n_estimators" in run.error
    assert Deployment.objects.first() == good_champion
    assert not RetrainingRun.objects.filter(active=True).exists()


def test_a_frame_with_an_id_column_splits_by_that_id(settings):
    frame = pd.DataFrame({"row_id": range(200), "x": [1.0] * 200, "y": ["a", "b"] * 100})
    changed = frame.assign(x=2.0)

    by_id = split_key(frame, "y", "row_id")
    assert (holdout_mask(frame, 0.25, by_id) == holdout_mask(changed, 0.25, by_id)).all()
    by_features = split_key(frame, "y")
    assert not (holdout_mask(frame, 0.25, by_features) == holdout_mask(changed, 0.25, by_features)).all()


def test_a_plain_csv_file_is_a_source_versioned_by_its_content(
    transactional_db, model_name, served_model, settings, tmp_path
):
    csv_file = tmp_path / "penguins.csv"
    batches.demo_frame(1).to_csv(csv_file, index=False)
    settings.DATA_REGISTRY = str(csv_file)
    settings.DATA_CACHE_DIR = tmp_path / "cache"

    first = run_pipeline()
    again = run_pipeline()
    batches.demo_frame(2).to_csv(csv_file, index=False)
    grown = run_pipeline()

    assert first.status == Status.DEPLOYED
    assert first.dataset["source"] == str(csv_file)
    assert again.status == Status.SKIPPED
    assert grown.status in (Status.DEPLOYED, Status.KEPT)
    assert grown.dataset["md5"] != first.dataset["md5"]


def test_a_version_that_adds_a_column_never_scores_a_model_on_a_row_it_trained_on(good_champion, settings, monkeypatch):
    """Same rows, one new column and new rows, and a larger holdout: the champion keeps its split
    key, and every holdout row a compared model trained on is dropped before either is scored."""
    grown = batches.demo_frame(2).assign(ring=lambda frame: [i % 7 for i in range(len(frame))])
    publish_frame(grown, "Publish batch 2 with a new column")
    settings.HOLDOUT_FRACTION = 0.4
    scored: list[tuple[str, pd.DataFrame]] = []
    score = compare._score
    monkeypatch.setattr(
        compare,
        "_score",
        lambda resources, v, rows, *rest: scored.append((v, rows)) or score(resources, v, rows, *rest),
    )

    run = run_pipeline()

    champion = good_champion.version
    assert run.lineage["split"] == json.loads(registry.read_artifact(champion, lineage.SPLIT_KEY))
    assert "ring" not in run.lineage["split"]["columns"]
    assert run.holdout_exclusion["excluded"][f"champion v{champion}"] > 0
    assert [version for version, _ in scored] == [champion]
    trained = {v: lineage.trained_on(MlflowModels(), v) for v in (champion, run.model_version)}
    for version, rows in trained.items():
        assert not np.isin(row_keys(scored[0][1], rows.key), rows.keys).any(), f"v{version} scored on its own rows"
    assert run.comparison["rows"] == len(scored[0][1]) == run.holdout_exclusion["clean"]


def test_it_rejects_a_header_that_names_a_column_twice(good_champion):
    text = batches.demo_frame(2).to_csv(index=False)
    header, rows = text.split("\n", 1)
    publish_csv_by_hand(header.replace(",sex,", ",island,") + "\n" + rows)

    run = run_pipeline()

    assert run.status == Status.REJECTED
    assert len(run.reasons) == 1, run.reasons
    assert "duplicate column names: 'island' (columns 2, 7)" in run.reasons[0]
    assert "missing" not in run.reasons[0]
    assert not run.model_version
    assert Deployment.objects.first() == good_champion
