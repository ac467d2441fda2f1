"""A drift run that asked for data, then the data: the loop closes without waiting out the cool-down.

Over the real pipeline, git + DVC data registry, MLflow registry and database."""

import pytest

from retraining.models import RetrainingRun
from retraining.monitoring import triggers
from retraining.pipeline import flow
from tests.support.monitoring import log_predictions, penguin_inputs
from tests.support.pipeline import publish_batch

pytestmark = pytest.mark.django_db(transaction=True)


def drifted_traffic(version: str) -> None:
    frame = penguin_inputs(600, shift=2.5)
    log_predictions(version, frame, frame["species"].tolist())


def test_data_published_after_a_drift_run_asked_for_it_starts_the_next_run_at_once(champion):
    drifted_traffic(champion.version)
    asked = flow.execute(triggers.watch().run.pk)
    assert asked.status == "skipped"
    assert asked.reasons[0].endswith(f"no new labelled data since v{champion.version}: publish data")

    waiting = triggers.watch()
    assert not waiting.started
    assert "cool-down" in waiting.notes[-1]

    published = publish_batch(2)
    again = triggers.watch()

    assert again.started
    assert again.run.evidence["new_data"] == f"data {published.md5} published since run #{asked.pk} asked for it"
    done = flow.execute(again.run.pk)
    assert [step["name"] for step in done.steps][:4] == ["check", "pull", "validate", "train"]
    assert done.status in {"deployed", "kept"}
    assert RetrainingRun.objects.filter(trigger="drift").count() == 2
