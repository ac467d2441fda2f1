"""The data the panel's charts are drawn from agrees with the decisions: the champion's score on
each decision's holdout, a challenger's outcome only once its run has decided, and drift checks
too small for a verdict not counted as drift."""

from datetime import timedelta

import pytest
from django.utils import timezone

from predictor.models import Deployment, DriftCheck
from retraining.models import RetrainingRun
from retraining.panel import figures, selectors
from tests.support import evidence

pytestmark = pytest.mark.django_db


def deployed(version: str, accuracy: float, hours_ago: float) -> Deployment:
    deployment = Deployment.objects.create(
        model_name="m", version=version, source="pipeline", metrics={"accuracy": accuracy}
    )
    Deployment.objects.filter(pk=deployment.pk).update(created_at=timezone.now() - timedelta(hours=hours_ago))
    return deployment


def kept_run(hours_ago: float) -> RetrainingRun:
    """Champion v1 (0.764 on its own holdout) scored 0.8123 on this run's holdout; the challenger 0.8100."""
    finished = timezone.now() - timedelta(hours=hours_ago)
    return RetrainingRun.objects.create(
        trigger="schedule",
        status="kept",
        active=None,
        model_version="2",
        champion_version="1",
        challenger_metrics={"accuracy": 0.81},
        champion_metrics={"accuracy": 0.8123},
        decision_rule="bootstrap",
        comparison=evidence.COMPARISON,
        started_at=finished - timedelta(minutes=1),
        finished_at=finished,
    )


def test_the_champion_line_carries_the_champions_score_on_each_decisions_holdout():
    deployed("1", 0.764, hours_ago=3)
    run = kept_run(hours_ago=1)

    line = selectors.chart_series()["champion"]

    assert [(point["version"], point["metrics"]["accuracy"], point["run"]) for point in line] == [
        ("1", 0.764, None),
        ("1", 0.8123, run.pk),
    ]
    assert line[1]["source"] == f"scored on run #{run.pk}'s holdout"


def test_a_decision_points_data_gives_the_decisions_own_figures_and_sentence():
    run = kept_run(hours_ago=1)

    (point,) = selectors.chart_series()["challengers"]

    assert point["outcome"] == "kept"
    assert (point["champion_version"], point["champion_metrics"]) == ("1", {"accuracy": 0.8123})
    assert point["rows"] == evidence.COMPARISON["rows"]
    assert point["decision"] == "The gain could be noise: the paired randomization test did not find it significant"
    assert run.decision_rule not in point["decision"]


def test_a_challenger_has_no_outcome_until_its_run_has_decided():
    RetrainingRun.objects.create(
        trigger="manual", status="running", step="compare", challenger_metrics={"accuracy": 0.9}, model_version="2"
    )

    (point,) = selectors.chart_series()["challengers"]

    assert point["outcome"] == "pending"
    assert point["decision"] == ""


def check(version: str, rows: int, verdict: str, psi: float, minutes_ago: int) -> DriftCheck:
    now = timezone.now()
    return DriftCheck.objects.create(
        checked_at=now - timedelta(minutes=minutes_ago),
        version=version,
        since=now - timedelta(hours=1),
        rows=rows,
        verdict=verdict,
        drifted=[],
        report={"features": {"bill_length_mm": {"psi": psi}}},
    )


def test_a_drift_check_too_small_for_a_verdict_is_not_counted_and_a_new_version_starts_a_segment(settings):
    check("1", 600, "no drift", 0.05, minutes_ago=30)
    check("1", 1, "not enough data", 1.02, minutes_ago=20)
    check("2", 600, "no drift", 0.04, minutes_ago=10)

    chart = figures.page(None)["drift_chart"]

    assert chart["min_rows"] == settings.DRIFT_MIN_ROWS
    assert [(c["version"], c["counted"], c["new_version"], c["rows_label"]) for c in chart["checks"]] == [
        ("1", True, True, "600 rows"),
        ("1", False, False, "1 row"),
        ("2", True, True, "600 rows"),
    ]
    assert "(1 row)" in chart["checks"][1]["summary"]
