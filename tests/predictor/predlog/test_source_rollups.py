"""Who gave the labels, from a rollup: per version, hour and source the labelled predictions whose
newest label came from that source, kept with the labels, equal to the row-level answer, kept when
the rows are pruned, and rebuilt from the rows."""

import time
import uuid
from datetime import datetime, timedelta

import pytest
from django.db import transaction
from django.db.models import Count, OuterRef, Subquery, Sum
from django.utils import timezone

from predictor.models import HourSources, LabelChange, Prediction
from predictor.predlog import Labeller, label_sources, prune, record_labels, rollups
from predictor.predlog.labels import Change, store
from tests.predictor.predlog.test_rollups import CLASSES, penguins, write  # noqa: F401

ALICE, BOB, CAROL = Labeller("key:1"), Labeller("user:bob"), Labeller("address:203.0.113.9")


def row_sources(since: datetime, now: datetime | None = None) -> dict[str, int]:
    """The answer the rows give: each labelled prediction of the window under its newest label's source."""
    newest = LabelChange.objects.filter(prediction_id=OuterRef("id")).order_by("-given_at", "-id").values("source")[:1]
    rows = Prediction.objects.filter(model_version="4", created_at__gte=since, label__isnull=False)
    rows = rows.filter(created_at__lt=now or timezone.now()).annotate(source=Subquery(newest))
    return dict(rows.filter(source__isnull=False).values_list("source").annotate(n=Count("id")).order_by())


def label(ids: list, by: Labeller, offset: int = 0) -> None:
    record_labels([{"prediction_id": pid, "label": CLASSES[(i + offset) % 3]} for i, pid in enumerate(ids)], by)


def in_rollup() -> dict[str, int]:
    return dict(HourSources.objects.filter(version="4").values_list("source").annotate(n=Sum("count")).order_by())


@pytest.mark.usefixtures("penguins")
def test_several_sources_and_replaced_labels_count_each_prediction_once_under_its_newest_source():
    now = time.time()
    ids = [pid for hours in (5.6, 4.2, 3.0, 1.5, 0.0) for pid in write(40, now - hours * 3600)]
    label(ids[:80], ALICE)
    label(ids[80:150], BOB)
    label(ids[150:170], CAROL)
    # Replaced: by another source (the prediction moves), by the same one (it stays), and back again.
    label(ids[:30], BOB, offset=1)
    label(ids[80:90], BOB, offset=2)
    label(ids[:5], ALICE, offset=2)
    since = timezone.now() - timedelta(days=1)

    assert label_sources("4", since) == row_sources(since) == {"key:1": 55, "user:bob": 95, "address:203.0.113.9": 20}
    assert sum(HourSources.objects.values_list("count", flat=True)) == 170


@pytest.mark.usefixtures("penguins")
def test_labels_arriving_later_and_windows_starting_mid_hour_equal_the_rows():
    now = time.time()
    ids = [pid for hours in (5.6, 4.2, 3.0, 1.5, 0.0) for pid in write(40, now - hours * 3600)]
    label(ids[::2], ALICE)
    label(ids[1::4], CAROL)
    # Later labels of old hours, some from a new source over another's.
    label(ids[:60:3], BOB, offset=1)
    for hours in (6.0, 4.5, 4.0, 2.2, 1.0, 0.3):
        since = timezone.now() - timedelta(hours=hours)
        assert label_sources("4", since) == row_sources(since), hours
    assert label_sources("4", timezone.now() - timedelta(days=1)) == in_rollup()


@pytest.mark.usefixtures("penguins")
def test_a_label_stored_with_no_giver_counts_under_no_source():
    ids = write(10, time.time() - 7200)
    Prediction.objects.filter(id__in=ids[:4]).update(label="Adelie")
    label(ids[4:], ALICE)

    assert label_sources("4", timezone.now() - timedelta(days=1)) == {"key:1": 6}


@pytest.mark.usefixtures("penguins")
def test_pruning_the_log_keeps_the_sources_for_the_rollups_retention(settings):
    settings.PREDICTION_LOG_DAYS = 30
    settings.MONITORING_ROLLUP_DAYS = 400
    old = write(5, time.time() - 40 * 86400)
    label(old, ALICE)
    label(old[:2], BOB)
    since = timezone.now() - timedelta(days=41)
    before = label_sources("4", since)

    prune()

    assert Prediction.objects.count() == 0
    assert before == label_sources("4", since) == {"key:1": 3, "user:bob": 2}
    settings.MONITORING_ROLLUP_DAYS = 35
    prune()
    assert label_sources("4", since) == {}


@pytest.mark.usefixtures("penguins")
def test_rebuild_gives_the_same_counts():
    now = time.time()
    ids = [pid for hours in (3.0, 1.5, 0.0) for pid in write(30, now - hours * 3600)]
    label(ids[:50], ALICE)
    label(ids[40:70], CAROL)
    label(ids[:10], BOB)
    written = set(HourSources.objects.values_list("version", "hour", "source", "count"))
    HourSources.objects.all().delete()

    rollups.rebuild()

    assert set(HourSources.objects.values_list("version", "hour", "source", "count")) == written
    assert len(written) == 5


@pytest.mark.usefixtures("penguins")
def test_a_label_stored_after_another_but_given_before_it_leaves_the_newest_source():
    ids = write(6, time.time() - 7200)
    label(ids, ALICE)
    # A held label reaches the log after Alice's but was given before hers: hers stays the newest.
    earlier = timezone.now() - timedelta(minutes=5)
    with transaction.atomic():
        store([Change(uuid.UUID(pid), "Adelie", "Gentoo", None, BOB, earlier) for pid in ids[:2]])
        store([Change(uuid.UUID(ids[2]), "Adelie", "Gentoo", None, CAROL, timezone.now())])
    since = timezone.now() - timedelta(days=1)

    assert label_sources("4", since) == row_sources(since) == in_rollup() == {"key:1": 5, "address:203.0.113.9": 1}
