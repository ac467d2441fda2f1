"""Labelled traffic published as the next dataset version, against a real git + DVC registry:
a new partition file with its provenance, rows keeping their keys, the newest label, never twice,
and nothing at all when feedback does not require keys."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from ml.keys import SplitKey, row_keys
from predictor.models import LoggedVersion, Prediction
from predictor.predlog.feedback import record_labels
from predictor.predlog.ids import new_ids
from predictor.predlog.labels import Labeller
from retraining.data.folder import FolderSource
from retraining.models import RetrainingRun, TriggerSettings
from retraining.monitoring import triggers
from retraining.panel.forms import TriggerSettingsForm
from retraining.pipeline.resources import PublishedFeedback
from retraining.runs import store
from tests.support.keys import create_key
from tests.support.registries import build_folder_registry, commits, git

CLASSES = ["Adelie", "Chinstrap", "Gentoo"]


@pytest.fixture
def registry(tmp_path: Path, settings) -> Path:
    first = pd.DataFrame(
        {"penguin": ["p1", "p2"], "bill_length_mm": [40.0, 41.0], "island": ["Dream", "Biscoe"], "species": "Adelie"}
    )
    repo = build_folder_registry(tmp_path, {"2026-12-01.csv": first})
    settings.DATA_REGISTRY = str(repo)
    settings.DATA_PATH = "data"
    settings.DATA_REV = "HEAD"
    settings.DATA_CACHE_DIR = tmp_path / "cache"
    settings.TARGET_COLUMN = "species"
    settings.DATA_ID_COLUMN = ""
    settings.FEEDBACK_REQUIRES_KEY = True
    return repo


def logged(rows: list[dict], version: str = "3") -> tuple[list[str], Labeller]:
    """Predictions made with one key, as the log holds them; their ids and the key as a labeller."""
    key, _ = create_key("shop")
    LoggedVersion.objects.get_or_create(version=version, defaults={"model_name": "m", "classes": CLASSES})
    ids = new_ids(len(rows))
    Prediction.objects.bulk_create(
        Prediction(
            id=pid, created_at=timezone.now(), model_version=version, inputs=row, prediction="Adelie", api_key=key
        )
        for pid, row in zip(ids, rows, strict=True)
    )
    return [str(pid) for pid in ids], Labeller(f"key:{key.name}", key.pk)


def pulled(repo: Path, tmp_path: Path) -> pd.DataFrame:
    source = FolderSource(repo, "data", cache_dir=tmp_path / "pulled")
    return source.pull(source.version())


def test_a_partition_with_its_provenance_is_committed(db, registry: Path, tmp_path: Path) -> None:
    ids, shop = logged([{"bill_length_mm": 50.0, "island": "Dream"}, {"bill_length_mm": 51.0, "island": "Biscoe"}])
    record_labels([{"prediction_id": ids[0], "label": "Gentoo"}, {"prediction_id": ids[1], "label": "Adelie"}], shop)
    unlabelled, _ = logged([{"bill_length_mm": 60.0, "island": "Dream"}])

    call_command("publish_feedback", stdout=(out := io.StringIO()))

    assert "2 labelled predictions" in out.getvalue()
    message = git(registry, "log", "-1", "--format=%B")
    assert "Publish 2 labelled predictions as data/feedback-" in message
    assert f"{ids[0]} .. {ids[1]}" in message
    assert "v3 (2)" in message
    assert "key:shop (2)" in message
    (sidecar,) = (registry / "feedback").glob("*.json")
    said = json.loads(sidecar.read_text())
    assert said["prediction_ids"] == ids
    assert (said["rows"], said["sources"], said["model_versions"]) == (2, {"key:shop": 2}, {"3": 2})
    assert said["predicted_from"] <= said["predicted_to"]
    assert git(registry, "status", "--porcelain") == ""
    frame = pulled(registry, tmp_path)
    assert frame["bill_length_mm"].tolist() == [40.0, 41.0, 50.0, 51.0]
    assert frame["species"].tolist()[2:] == ["Gentoo", "Adelie"]
    assert unlabelled[0] not in sidecar.read_text()


def test_publishing_reads_one_file_of_the_data_not_the_whole_dataset(db, tmp_path: Path, settings) -> None:
    days = {
        f"2026-12-0{day}.csv": pd.DataFrame({"bill_length_mm": [40.0 + day], "island": ["Dream"], "species": "Adelie"})
        for day in (1, 2, 3)
    }
    settings.DATA_REGISTRY = str(build_folder_registry(tmp_path, days))
    settings.DATA_PATH, settings.DATA_REV, settings.DATA_CACHE_DIR = "data", "HEAD", tmp_path / "cache"
    settings.TARGET_COLUMN, settings.DATA_ID_COLUMN, settings.FEEDBACK_REQUIRES_KEY = "species", "", True
    ids, shop = logged([{"bill_length_mm": 50.0, "island": "Biscoe"}])
    record_labels([{"prediction_id": ids[0], "label": "Gentoo"}], shop)

    call_command("publish_feedback", stdout=io.StringIO())

    # The files a source fetched land in its cache, one per file: only the first was needed.
    assert len([p for p in (tmp_path / "cache").iterdir() if p.is_file()]) == 1
    assert pulled(Path(settings.DATA_REGISTRY), tmp_path)["island"].tolist() == ["Dream"] * 3 + ["Biscoe"]


def test_rows_keep_their_keys_the_logged_id_or_the_prediction_id(db, registry: Path, tmp_path: Path, settings) -> None:
    settings.DATA_ID_COLUMN = "penguin"
    ids, shop = logged([{"penguin": "p9", "bill_length_mm": 50.0}, {"bill_length_mm": 51.0, "island": "Dream"}])
    record_labels([{"prediction_id": pid, "label": "Gentoo"} for pid in ids], shop)

    call_command("publish_feedback", stdout=io.StringIO())

    frame = pulled(registry, tmp_path)
    assert frame["penguin"].tolist() == ["p1", "p2", "p9", ids[1]]
    key = SplitKey(("penguin",))
    # The same ids key the same rows whichever file they came from: the split cannot move them.
    expected = pd.DataFrame({"penguin": ["p9", ids[1]]})
    assert row_keys(frame.iloc[2:], key).tolist() == row_keys(expected, key).tolist()


def test_a_replaced_label_publishes_the_newest_and_nothing_twice(db, registry: Path, tmp_path: Path) -> None:
    ids, shop = logged([{"bill_length_mm": 50.0, "island": "Dream"}])
    record_labels([{"prediction_id": ids[0], "label": "Gentoo"}], shop)
    record_labels([{"prediction_id": ids[0], "label": "Chinstrap"}], shop)

    call_command("publish_feedback", stdout=io.StringIO())
    assert pulled(registry, tmp_path)["species"].tolist() == ["Adelie", "Adelie", "Chinstrap"]
    before = commits(registry)

    record_labels([{"prediction_id": ids[0], "label": "Adelie"}], shop)
    call_command("publish_feedback", stdout=(out := io.StringIO()))

    assert "every one is published already" in out.getvalue()
    assert commits(registry) == before


def test_labels_given_with_a_key_publish_predictions_made_without_one(db, registry: Path, tmp_path: Path) -> None:
    """FEEDBACK_REQUIRES_KEY alone: predictions need no key, labels do; an anonymous label is not published."""
    keyed, shop = logged([{"bill_length_mm": 50.0, "island": "Dream"}, {"bill_length_mm": 51.0, "island": "Biscoe"}])
    Prediction.objects.filter(id__in=keyed).update(api_key=None)
    record_labels([{"prediction_id": keyed[0], "label": "Gentoo"}], shop)
    record_labels([{"prediction_id": keyed[1], "label": "Gentoo"}], Labeller("address:192.0.2.7"))

    call_command("publish_feedback", stdout=io.StringIO())

    assert pulled(registry, tmp_path)["bill_length_mm"].tolist() == [40.0, 41.0, 50.0]


def test_nothing_is_published_when_feedback_does_not_require_keys(db, registry: Path, settings) -> None:
    settings.FEEDBACK_REQUIRES_KEY = False
    ids, shop = logged([{"bill_length_mm": 50.0, "island": "Dream"}])
    record_labels([{"prediction_id": ids[0], "label": "Gentoo"}], shop)
    before = commits(registry)

    with pytest.raises(CommandError, match="FEEDBACK_REQUIRES_KEY=true"):
        call_command("publish_feedback")

    assert commits(registry) == before
    assert not (registry / "feedback").exists()


def test_a_single_data_file_is_refused_naming_data_path(db, settings) -> None:
    settings.FEEDBACK_REQUIRES_KEY = True
    settings.DATA_PATH = "data/penguins.csv"

    with pytest.raises(CommandError, match=r"DATA_PATH=data/penguins\.csv names one file"):
        call_command("publish_feedback")


def test_runs_publish_nothing_until_the_switch_is_on_and_enough_labels_are_new(db, registry: Path) -> None:
    ids, shop = logged([{"bill_length_mm": 50.0, "island": "Dream"}, {"bill_length_mm": 51.0, "island": "Biscoe"}])
    record_labels([{"prediction_id": pid, "label": "Gentoo"} for pid in ids], shop)
    before = commits(registry)

    assert PublishedFeedback().publish() is None  # off by default
    TriggerSettings.objects.update_or_create(pk=1, defaults={"publish_feedback": True, "feedback_min_labels": 3})
    assert PublishedFeedback().publish() is None  # 2 new labels, 3 needed
    assert commits(registry) == before

    TriggerSettings.objects.filter(pk=1).update(feedback_min_labels=2)
    published = PublishedFeedback().publish()

    assert (published["rows"], published["sources"]) == (2, {"key:shop": 2})
    assert len(commits(registry)) == len(before) + 1


def test_enough_new_labels_start_the_next_monitoring_run_within_the_cool_down(db, registry: Path) -> None:
    TriggerSettings.objects.update_or_create(pk=1, defaults={"publish_feedback": True, "feedback_min_labels": 2})
    kept, _ = store.start_run(RetrainingRun.Trigger.DRIFT, evidence={"summary": "inputs drifted on island"})
    RetrainingRun.objects.filter(pk=kept.pk).update(status=RetrainingRun.Status.KEPT, active=False)
    evidence = {"summary": "inputs drifted on island", "drift": {}}
    ids, shop = logged([{"bill_length_mm": 50.0, "island": "Dream"}, {"bill_length_mm": 51.0, "island": "Biscoe"}])
    record_labels([{"prediction_id": ids[0], "label": "Gentoo"}], shop)

    run, started, why = triggers.start(RetrainingRun.Trigger.DRIFT, evidence, 24, timezone.now())
    assert (run.pk, started) == (kept.pk, False)
    assert why.startswith("cool-down")

    record_labels([{"prediction_id": ids[1], "label": "Gentoo"}], shop)
    run, started, why = triggers.start(RetrainingRun.Trigger.DRIFT, evidence, 24, timezone.now())

    assert started, why
    assert run.evidence["new_data"] == "2 labelled predictions to publish (automatic publishing needs 2)"


def test_the_switch_is_refused_in_the_panel_form_when_feedback_does_not_require_keys(db, settings) -> None:
    settings.FEEDBACK_REQUIRES_KEY = False
    fields = {"degradation_margin": 0.05, "min_labels": 200, "cooldown_hours": 24, "feedback_min_labels": 500}
    fields.update(min_label_sources=2, min_label_share=0.01)

    form = TriggerSettingsForm(data={**fields, "publish_feedback": "on"}, instance=TriggerSettings.current())

    assert not form.is_valid()
    assert "FEEDBACK_REQUIRES_KEY=true" in form.errors["publish_feedback"][0]
    assert TriggerSettingsForm(data=fields, instance=TriggerSettings.current()).is_valid()


def test_the_labels_waiting_to_be_published_are_counted_by_the_database_as_before(db, registry: Path) -> None:
    """The watch's count: what publishing would take, without loading a prediction."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from retraining.pipeline import feedback

    def loaded() -> int:  # what the count was: every row publishing would take, loaded
        return len(feedback.unpublished(feedback.published_ids()))

    ids, shop = logged([{"bill_length_mm": 50.0 + n, "island": "Dream"} for n in range(5)])
    record_labels([{"prediction_id": pid, "label": "Gentoo"} for pid in ids[:3]], shop)
    record_labels([{"prediction_id": ids[3], "label": "Gentoo"}], Labeller("address:192.0.2.7"))
    assert feedback.waiting(feedback.published_ids()) == loaded() == 3

    call_command("publish_feedback", stdout=io.StringIO())
    record_labels([{"prediction_id": ids[0], "label": "Adelie"}, {"prediction_id": ids[4], "label": "Adelie"}], shop)
    done = feedback.published_ids()
    with CaptureQueriesContext(connection) as queries:
        counted = feedback.waiting(done)

    assert counted == loaded() == 1
    assert queries.captured_queries
    assert all("COUNT(" in q["sql"].upper() for q in queries.captured_queries)
