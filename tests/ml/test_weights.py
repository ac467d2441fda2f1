"""Recent rows weighted to their share of the fit, and the weights handed only to a final
estimator whose fit takes them."""

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from ml.weights import fit_arguments, recent_weights, weight_argument, weight_share


def test_recent_rows_carry_the_share_and_the_weights_average_one():
    recent = np.array([True] * 10 + [False] * 90)

    weights = recent_weights(recent, 0.6)

    assert weight_share(recent, weights) == pytest.approx(0.6)
    assert weights.mean() == pytest.approx(1.0)
    assert len(set(weights[recent])) == len(set(weights[~recent])) == 1


@pytest.mark.parametrize(
    ("recent", "share"),
    [
        (np.array([True] * 60 + [False] * 40), 0.5),  # already more than the share: never weighted down
        (np.zeros(50, dtype=bool), 0.5),
        (np.ones(50, dtype=bool), 0.5),
        (np.array([True, False, False]), 0.0),
    ],
)
def test_nothing_to_weight_is_an_unweighted_fit(recent, share):
    assert recent_weights(recent, share) is None
    assert weight_share(recent, None) == pytest.approx(recent.mean() if len(recent) else 0.0)


def test_weights_reach_the_final_estimator_through_nested_pipelines():
    inner = Pipeline([("scale", StandardScaler()), ("forest", RandomForestClassifier())])
    outer = Pipeline([("scale", StandardScaler()), ("model", inner)])
    weights = np.ones(4)

    assert weight_argument(RandomForestClassifier()) == "sample_weight"
    assert weight_argument(outer) == "model__forest__sample_weight"
    assert fit_arguments(outer, weights) == {"model__forest__sample_weight": weights}
    assert fit_arguments(outer, None) == {}


@pytest.mark.parametrize(
    "estimator",
    [
        KNeighborsClassifier(),
        Pipeline([("scale", StandardScaler()), ("model", KNeighborsClassifier())]),
        Pipeline([("scale", StandardScaler()), ("model", "passthrough")]),
        # Takes **params: whether it passes them on is not the product's to guess.
        GridSearchCV(RandomForestClassifier(), {"max_depth": [2]}),
    ],
)
def test_a_final_estimator_without_sample_weight_is_fitted_unweighted(estimator):
    assert weight_argument(estimator) is None
    assert fit_arguments(estimator, np.ones(3)) == {}
