"""The worked example of docs/team-pipeline.md (docs/examples/team_pipeline.py) trains through the
product's own steps on generated data with a date, a free-text column declared as text, categories
and numbers, and its model is logged to MLflow and loaded back as serving loads it."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from predictor.serving import registry
from tests.support.in_memory import memory_resources, run_in_memory

EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "examples"


def customers(rows: int = 800, seed: int = 3) -> pd.DataFrame:
    """Churn that the words of a complaint, the month of sign-up and the plan decide."""
    rng = np.random.default_rng(seed)
    angry = rng.random(rows) < 0.4
    winter = rng.random(rows) < 0.5
    months = np.where(winter, rng.choice([12, 1, 2], rows), rng.choice([5, 6, 7, 8], rows))
    plan = rng.choice(["basic", "plus", "pro"], rows)
    words = np.array(["slow support again", "billing error twice", "cancel my contract now", "very angry"])
    calm = np.array(["all good thanks", "works fine for me", "happy with the speed", "no complaint today"])
    comment = np.where(angry, rng.choice(words, rows), rng.choice(calm, rows)).astype(object)
    comment[rng.random(rows) < 0.05] = None
    churned = (angry & (winter | (plan == "basic"))) ^ (rng.random(rows) < 0.03)
    return pd.DataFrame(
        {
            "customer": [f"c{i:05d}" for i in range(rows)],
            "signed_up": [f"20{20 + i % 6}-{m:02d}-{1 + i % 28:02d}" for i, m in enumerate(months)],
            "comment": comment,
            "plan": plan,
            "monthly": rng.normal(50, 10, rows).round(2),
            "churned": np.where(churned, "yes", "no"),
        }
    ).assign(comment=lambda d: d["comment"].where(d["comment"].notna(), None))


@pytest.fixture
def example(settings, monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    settings.TRAINING_PIPELINE = "team_pipeline:make_pipeline"
    settings.TRAINING_PARAMS = {"max_iter": 60, "text_features": 50}
    settings.TARGET_COLUMN = "churned"
    settings.DATA_ID_COLUMN = "customer"
    return settings.TRAINING_PIPELINE


def test_the_worked_example_trains_through_the_train_step_and_is_logged_and_loaded(
    example, transactional_db, model_name
):
    frame = customers()
    frame.attrs["declared"] = {"columns": {"comment": "text"}}
    resources = memory_resources(frame)

    state = run_in_memory(resources, {"max_iter": 60, "text_features": 50})

    assert state.status == "deployed", state.reasons
    assert state.lineage["pipeline"]["path"] == example
    assert state.lineage["pipeline"]["version"].startswith("sha256:")
    assert {"signed_up_month", "signed_up_dayofweek", "comment", "plan"} <= set(state.lineage["features"])
    model = resources.models.models[state.challenger.version]
    vocabulary = model.named_steps["preprocess"].named_transformers_["words_comment"].named_steps["tfidf"].vocabulary_
    assert "angry" in vocabulary
    assert state.challenger.score.metrics["accuracy"] > 0.85
    assert state.challenger.score.metrics["roc_auc"] > 0.85

    features = frame.drop(columns=["customer", "churned", "signed_up"]).assign(
        signed_up_year=2024.0, signed_up_month=1.0, signed_up_dayofweek=2.0
    )[state.lineage["features"]]
    logged = registry.log_model(
        model,
        params={},
        metrics={},
        tags={},
        signature_input=features,
        input_example=features.head(5),
        run_name="worked-example",
    )
    loaded = registry.load_version(logged.version)
    assert np.array_equal(loaded.model.predict_proba(features.head(20)), model.predict_proba(features.head(20)))
