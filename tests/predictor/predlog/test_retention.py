from datetime import timedelta

from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from predictor.models import Prediction
from predictor.predlog import ensure_prune_task, prune
from predictor.predlog.ids import new_ids
from predictor.predlog.retention import PRUNE_TASK_NAME
from predictor.tasks import prune_prediction_log


def log(days_ago: float) -> str:
    (pid,) = new_ids(1)
    created = timezone.now() - timedelta(days=days_ago)
    Prediction.objects.create(id=pid, created_at=created, model_version="1", inputs={}, prediction="Adelie")
    return pid


def test_it_deletes_only_what_is_older_than_the_retention_in_batches(db, settings):
    settings.PREDICTION_LOG_DAYS = 7
    kept = [log(0), log(6.9)]
    for _ in range(5):
        log(8)
    assert prune(batch=2) == 5
    assert sorted(str(i) for i in Prediction.objects.values_list("id", flat=True)) == sorted(kept)
    assert prune(batch=2) == 0


def test_beat_prunes_every_hour_declared_in_code(db, settings):
    task = PeriodicTask.objects.get(name=PRUNE_TASK_NAME)
    assert task.task == "predictor.tasks.prune_prediction_log"
    assert (task.interval.every, task.interval.period) == (1, "hours")
    task.enabled = False
    task.save()
    assert ensure_prune_task().enabled is False


def test_the_beat_task_prunes(db, settings):
    settings.PREDICTION_LOG_DAYS = 1
    log(2)
    log(0)
    assert prune_prediction_log.apply().get() == 1
    assert Prediction.objects.count() == 1


def test_the_labels_history_and_dropped_held_labels_go_with_the_log(db, settings):
    from predictor.models import HeldLabel, LabelChange

    settings.PREDICTION_LOG_DAYS = 7
    old, new = timezone.now() - timedelta(days=8), timezone.now()
    for at in (old, new):
        (pid,) = new_ids(1)
        LabelChange.objects.create(prediction_id=pid, label="Adelie", source="address:1.2.3.4", given_at=at)
        HeldLabel.objects.create(
            prediction_id=pid, label="Adelie", source="address:1.2.3.4", received_at=at, expires_at=at
        )
    prune()
    assert list(LabelChange.objects.values_list("given_at", flat=True)) == [new]
    assert list(HeldLabel.objects.values_list("received_at", flat=True)) == [new]
