"""Runs on rare-event data: precision, recall and F1 are about the class that matters, and labels
are one class whatever their type, over in-memory resources."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score

from tests.support.in_memory import memory_resources, run_in_memory
from tests.support.pipeline import GOOD_PARAMS, WEAK_PARAMS

F1 = {"primary_metric": "f1"}


def events(rows: int = 3000, share: float = 0.02, seed: int = 0, labels: tuple = ("fraud", "ok")) -> pd.DataFrame:
    """Rare events (`share` of the rows) that `amount` gives away, and noise."""
    rng = np.random.default_rng(seed)
    event = rng.random(rows) < share
    return pd.DataFrame(
        {
            "amount": (rng.normal(size=rows) + 4 * event).round(3),
            "hour": rng.integers(0, 24, rows),
            "label": np.where(event, labels[0], labels[1]),
        }
    )


@pytest.fixture
def rare(settings):
    settings.TARGET_COLUMN = "label"
    settings.DATA_ID_COLUMN = ""
    settings.POSITIVE_CLASS = ""
    return settings


def test_a_first_model_that_never_flags_fraud_is_not_deployed_on_f1(rare):
    resources = memory_resources(events())

    state = run_in_memory(resources, WEAK_PARAMS, **F1)

    assert state.status != "deployed"
    assert resources.deployments.served == []
    assert state.challenger.score.metrics["f1"] == 0.0
    assert state.positive.label == "fraud"
    assert "rarer class" in state.positive.reason
    assert "f1 0.0000 is below minimum" in state.reasons[0]
    fields = state.row_fields()
    assert fields["positive_class"] == "fraud"
    assert "rarer" in fields["positive_reason"]


def test_a_first_model_on_0_1_labels_is_scored_on_1_like_the_same_data_named(rare):
    named = events()
    coded = named.assign(label=(named["label"] == "fraud").astype(int))

    by_name = run_in_memory(memory_resources(named), GOOD_PARAMS, **F1)
    by_code = run_in_memory(memory_resources(coded), GOOD_PARAMS, **F1)

    assert by_code.positive.label == "1"
    assert "0/1" in by_code.positive.reason
    assert by_code.status == by_name.status == "deployed"
    # Recorded for live quality: with the deployment, and as a tag a hand-moved alias carries over.
    resources = memory_resources(coded)
    state = run_in_memory(resources, GOOD_PARAMS, **F1)
    assert resources.deployments.served[-1].data_version["positive_class"] == "1"
    assert resources.models.tags[state.challenger.version]["data.positive_class"] == "1"
    # The same events found, whatever they are called (the trees differ only by the classes' order).
    assert by_code.challenger.score.metrics["f1"] == pytest.approx(by_name.challenger.score.metrics["f1"], abs=0.1)
    holdout = by_code.holdout
    truth = holdout["label"].astype(str)
    predicted = by_code.challenger.score.predictions
    assert by_code.challenger.score.metrics["f1"] == pytest.approx(f1_score(truth, predicted, pos_label="1"))


def test_labels_that_change_from_0_1_to_0_0_1_0_are_the_same_classes_and_no_improvement(rare):
    coded = events().assign(label=lambda f: (f["label"] == "fraud").astype(int))
    resources = memory_resources(coded)
    first = run_in_memory(resources, GOOD_PARAMS)
    assert first.status == "deployed"

    resources.source.frame = coded.assign(label=coded["label"].astype(float))
    state = run_in_memory(resources, GOOD_PARAMS)

    assert state.status == "kept"
    assert state.verdict.decision.rule == "no_difference"
    assert state.verdict.champion_score.metrics == state.challenger.score.metrics
    assert state.verdict.champion_score.metrics["accuracy"] > 0.9
    assert list(state.challenger.score.classes) == ["0", "1"]
    assert resources.models.models[state.challenger.version].classes_.tolist() == ["0", "1"]
    assert state.labels == {"data": ["0", "1"], "champion": ["0", "1"], "appeared": [], "disappeared": []}


def test_a_label_that_appears_or_disappears_is_named_on_the_run(rare):
    frame = events(labels=("fraud", "ok"))
    resources = memory_resources(frame)
    run_in_memory(resources, GOOD_PARAMS)

    resources.source.frame = frame.assign(label=frame["label"].replace({"fraud": "scam"}))
    state = run_in_memory(resources, GOOD_PARAMS)

    assert state.labels["appeared"] == ["scam"]
    assert state.labels["disappeared"] == ["fraud"]
    assert any("scam" in r and "new" in r for r in state.reasons)
    assert any("fraud" in r and "absent" in r for r in state.reasons)


def test_a_declared_positive_class_on_text_labels_is_the_one_scored(rare):
    rare.POSITIVE_CLASS = "ok"
    state = run_in_memory(memory_resources(events()), GOOD_PARAMS)

    assert state.positive.label == "ok"
    assert state.positive.reason == "declared as POSITIVE_CLASS='ok'"
    truth = state.holdout["label"].astype(str)
    predicted = state.challenger.score.predictions
    assert state.challenger.score.metrics["f1"] == pytest.approx(f1_score(truth, predicted, pos_label="ok"))


def test_the_policy_declares_a_positive_class_over_the_setting(rare):
    rare.POSITIVE_CLASS = "ok"
    state = run_in_memory(memory_resources(events()), GOOD_PARAMS, positive_class="fraud")

    assert state.positive.label == "fraud"


def test_a_positive_class_is_refused_for_three_classes(rare):
    frame = events(share=0.3)
    frame.loc[frame.index % 3 == 0, "label"] = "chargeback"
    rare.POSITIVE_CLASS = "fraud"

    state = run_in_memory(memory_resources(frame), GOOD_PARAMS)

    assert state.status == "rejected"
    assert "POSITIVE_CLASS='fraud'" in state.reasons[0]
    assert "3 classes" in state.reasons[0]


def test_without_a_declared_class_three_classes_are_macro_averaged_and_the_run_says_so(rare):
    frame = events(share=0.3)
    frame.loc[frame.index % 3 == 0, "label"] = "chargeback"

    state = run_in_memory(memory_resources(frame), GOOD_PARAMS)

    assert state.status == "deployed"
    assert state.positive is None
    assert state.challenger.score.positive is None
    assert "macro averages" in state.row_fields()["positive_reason"]
    assert "positive_class" not in state.row_fields()


@pytest.mark.slow
def test_a_0_1_to_0_0_1_0_version_change_against_git_dvc_and_mlflow(
    transactional_db, demo_registry, model_name, served_model, settings
):
    """The same change through the real registry, MLflow store and database: the CSV says 0.0/1.0,
    the champion answers 0/1; kept as no difference, and the served classes stay 0/1."""
    from predictor.serving.holder import holder
    from tests.support.pipeline import publish_frame, run_pipeline

    settings.TARGET_COLUMN = "label"
    settings.DATA_ID_COLUMN = ""
    settings.POSITIVE_CLASS = ""
    coded = events().assign(label=lambda f: (f["label"] == "fraud").astype(int))
    publish_frame(coded, "0/1 labels")
    first = run_pipeline()
    assert first.status == "deployed", (first.error, first.reasons)

    publish_frame(coded.assign(label=coded["label"].astype(float)), "The same labels written 0.0/1.0")
    run = run_pipeline()

    assert run.status == "kept", (run.error, run.reasons)
    assert run.decision_rule == "no_difference"
    assert run.champion_metrics == run.challenger_metrics
    assert run.champion_metrics["accuracy"] > 0.9
    assert run.labels == {"data": ["0", "1"], "champion": ["0", "1"], "appeared": [], "disappeared": []}
    holder().sync()
    assert holder().current.classes.tolist() == ["0", "1"]
    assert first.positive_class == run.positive_class == "1"
