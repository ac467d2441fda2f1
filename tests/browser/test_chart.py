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
