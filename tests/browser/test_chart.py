"""The metric chart's y axis is chosen from the data (static/panel/panel.js), read off the SVG."""

from datetime import timedelta

import pytest
from django.utils import timezone

from predictor.models import Deployment
from tests.support.browser import shot, sign_in

pytestmark = pytest.mark.slow


def deployments_scoring(scores: list[float]) -> None:
    start = timezone.now() - timedelta(hours=len(scores))
    for hour, score in enumerate(scores):
        deployment = Deployment.objects.create(
            model_name="m", version=str(hour + 1), source="pipeline", metrics={"accuracy": score}
        )
        Deployment.objects.filter(pk=deployment.pk).update(created_at=start + timedelta(hours=hour))


def y_labels(page) -> list[str]:
    return page.eval_on_selector_all(".y-tick", "ticks => ticks.map(t => t.textContent)")


@pytest.mark.parametrize(
    "scores",
    [
        [0.997, 0.998, 0.998, 0.999, 1.0],  # the ticks read 1.000, 0.999, 0.998, 0.998, 0.997
        [0.66, 0.9, 0.905],
        [0.9112, 0.9124],
        [0.4, 0.41, 0.8],
    ],
)
def test_the_y_axis_labels_are_distinct_and_span_every_score(panel_server, browser_page, scores):
    deployments_scoring(scores)
    sign_in(browser_page, panel_server)
    labels = y_labels(browser_page)
    assert len(labels) >= 3
    assert len(set(labels)) == len(labels), labels
    values = [float(label) for label in labels]
    assert values == sorted(values)
    assert values[0] <= min(scores) <= max(scores) <= values[-1]
    assert values[0] >= 0
    assert values[-1] <= 1
    assert len({len(label.split(".")[-1]) for label in labels}) == 1, labels


def test_a_flat_series_of_perfect_scores_sits_on_the_labelled_top_line(panel_server, browser_page):
    deployments_scoring([1.0, 1.0, 1.0])
    sign_in(browser_page, panel_server)
    page = browser_page
    assert y_labels(page) == ["0.990", "0.995", "1.000"]
    top = page.eval_on_selector_all(".y-tick", "ticks => ticks.map(t => Number(t.getAttribute('y')) - 4)")[-1]
    points = page.eval_on_selector_all(".champion-point", "points => points.map(p => Number(p.getAttribute('cy')))")
    assert points == [pytest.approx(top)] * 3
    shot(page, "chart-flat-perfect-scores")


def test_the_metric_chart_draws_the_decisions_figures_and_no_outcome_before_a_run_decides(panel_server, browser_page):
    from retraining.models import RetrainingRun
    from tests.support import evidence

    deployments_scoring([0.764])
    finished = timezone.now() - timedelta(minutes=30)
    kept = RetrainingRun.objects.create(
        trigger="schedule", status="kept", active=None, model_version="2", champion_version="1",
        challenger_metrics={"accuracy": 0.81}, champion_metrics={"accuracy": 0.8123}, decision_rule="bootstrap",
        comparison=evidence.COMPARISON, started_at=finished - timedelta(minutes=1), finished_at=finished,
    )  # fmt: skip
    comparing = RetrainingRun.objects.create(
        trigger="manual", status="running", step="compare", model_version="3", challenger_metrics={"accuracy": 0.83}
    )
    sign_in(browser_page, panel_server)
    page = browser_page

    judged = page.locator("[data-chart] circle.champion-point.judged")
    assert judged.count() == 1
    page.hover("[data-chart] circle.champion-point.judged")
    assert page.text_content(".chart-tip") == f"champion v1 (scored on run #{kept.pk}'s holdout): accuracy 0.8123"
    page.hover(f"[data-chart] circle[data-run='{kept.pk}']")
    tip = page.text_content(".chart-tip")
    assert "challenger v2 accuracy 0.8100 vs champion v1 0.8123 on the same 108 holdout rows" in tip
    assert tip.endswith("(kept: the gain could be noise: the paired randomization test did not find it significant)")
    assert "bootstrap" not in tip
    assert page.get_attribute(f"[data-chart] circle[data-run='{comparing.pk}']", "class") == "challenger-point pending"
    assert "its score on each later run's holdout" in page.text_content("[data-chart-caption]")
    shot(page, "chart-decisions")


def test_the_drift_chart_draws_a_check_too_small_for_a_verdict_as_a_hollow_marker_and_versions_apart(
    panel_server, browser_page
):
    from predictor.models import DriftCheck

    now = timezone.now()
    for version, rows, verdict, psi, minutes in [
        ("1", 600, "no drift", 0.05, 40), ("1", 600, "no drift", 0.06, 30), ("1", 1, "not enough data", 1.02, 20),
        ("2", 600, "no drift", 0.04, 10), ("2", 600, "no drift", 0.03, 5),
    ]:  # fmt: skip
        DriftCheck.objects.create(
            checked_at=now - timedelta(minutes=minutes), version=version, since=now - timedelta(hours=1), rows=rows,
            verdict=verdict, drifted=[], report={"features": {"bill_length_mm": {"psi": psi}}},
        )  # fmt: skip
    sign_in(browser_page, panel_server)
    page = browser_page
    page.goto(f"{panel_server}/panel/monitoring/")

    chart = "[data-drift-chart]"
    assert page.locator(f"{chart} circle.series-point").count() == 4
    assert page.locator(f"{chart} circle.too-few-point").count() == 1
    threshold = float(page.get_attribute(f"{chart} .threshold-line", "y1"))
    tops = page.eval_on_selector_all(f"{chart} circle.series-point", "ps => ps.map(p => Number(p.getAttribute('cy')))")
    assert min(tops) > threshold  # every drawn PSI sits below the 0.2 line
    assert page.eval_on_selector_all(f"{chart} path.series-line", "ps => ps.map(p => p.dataset.version)") == ["1", "2"]
    assert page.get_attribute(f"{chart} line.version-mark", "data-version") == "2"
    page.hover(f"{chart} circle.too-few-point")
    tip = page.text_content(".chart-tip")
    assert "1 row: not enough data" in tip
    assert "1 rows" not in tip
    shot(page, "drift-chart-too-few-rows")
