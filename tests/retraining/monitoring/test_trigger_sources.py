"""The degradation trigger trusts only labels a single client could not have given alone: from at
least `min_label_sources` sources (API keys, or client addresses with keys off) and on more than
`min_label_share` of the window's predictions."""

import json

import pytest

from predictor.models import LabelChange, Prediction
from retraining.models import RetrainingRun, TriggerSettings
from retraining.monitoring import triggers
from tests.support.monitoring import log_profiled_penguins, log_traffic, serve

pytestmark = pytest.mark.django_db
WRONG = {"Adelie": "Gentoo", "Gentoo": "Chinstrap", "Chinstrap": "Adelie"}


@pytest.fixture
def champion(model_name) -> str:
    version = log_profiled_penguins()
    serve(version, {"accuracy": 0.95})
    return version


def label_wrongly(client, ids: list, address: str, **headers: str) -> None:
    """Wrong labels for these predictions, posted to the feedback API from one client address."""
    rows = Prediction.objects.filter(id__in=ids).values_list("id", "prediction")
    items = [{"prediction_id": str(pid), "label": WRONG[predicted]} for pid, predicted in rows]
    answer = client.post(
        "/api/v1/feedback",
        json.dumps({"feedback": items}),
        content_type="application/json",
        REMOTE_ADDR=address,
        **headers,
    )
    assert answer.status_code == 200, answer.content


def unlabelled(version: str, rows: int, seed: int = 0) -> list:
    before = set(Prediction.objects.values_list("id", flat=True))
    log_traffic(version, rows, seed=seed)
    return [pid for pid in Prediction.objects.values_list("id", flat=True) if pid not in before]


def test_400_wrong_labels_from_one_anonymous_client_start_no_run_and_say_why(champion, client):
    label_wrongly(client, unlabelled(champion, 400), "203.0.113.9")

    looked = triggers.watch()

    assert looked.quality.fell  # the figure is shown as it is: it is the trigger that holds back
    assert looked.run is None
    assert not RetrainingRun.objects.exists()
    assert looked.quality.held_back == "labels from 1 source; at least 2 needed"
    assert "the degradation trigger holds back: labels from 1 source; at least 2 needed" in looked.notes[-1]


def test_labels_from_two_sources_on_enough_of_the_window_start_a_run(champion, client):
    ids = unlabelled(champion, 400)
    label_wrongly(client, ids[:200], "203.0.113.9")
    label_wrongly(client, ids[200:], "198.51.100.4")

    looked = triggers.watch()

    assert looked.started
    assert looked.run.trigger == "degradation"
    quality = looked.run.evidence["degradation"]
    assert quality["sources"] == 2
    assert quality["share"] == 1.0


def test_labels_on_too_small_a_share_of_the_window_start_no_run(champion, client):
    TriggerSettings.objects.filter(pk=TriggerSettings.current().pk).update(min_label_share=0.5)
    ids = unlabelled(champion, 1000)
    label_wrongly(client, ids[:200], "203.0.113.9")
    label_wrongly(client, ids[200:400], "198.51.100.4")

    looked = triggers.watch()

    assert looked.quality.fell
    assert looked.run is None
    assert looked.quality.held_back == "labels on 40.0% of the window's 1,000 predictions; more than 50.0% needed"


def test_a_proxy_is_believed_only_when_trusted(champion, client, settings):
    """Behind a trusted proxy each client's own address is its source; X-Forwarded-For from any
    other peer is the client's own say and is not believed."""
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    ids = unlabelled(champion, 400)
    label_wrongly(client, ids[:200], "10.1.1.1", HTTP_X_FORWARDED_FOR="192.0.2.50, 203.0.113.9")
    label_wrongly(client, ids[200:], "10.1.1.1", HTTP_X_FORWARDED_FOR="198.51.100.4")
    sources = set(LabelChange.objects.values_list("source", flat=True))
    assert sources == {"address:203.0.113.9", "address:198.51.100.4"}

    LabelChange.objects.all().delete()
    label_wrongly(client, ids[:200], "203.0.113.7", HTTP_X_FORWARDED_FOR="198.51.100.4")
    assert set(LabelChange.objects.values_list("source", flat=True)) == {"address:203.0.113.7"}


def test_labels_with_no_recorded_source_count_for_no_source(champion):
    log_traffic(champion, 400, correct=0.0, sources=())

    looked = triggers.watch()

    assert looked.run is None
    assert looked.quality.held_back == "labels from 0 sources; at least 2 needed"
