"""A champion with a training profile, and a prediction log written as the serving writer writes it."""

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from django.utils import timezone

from demo.batches import demo_frame
from ml.drift.profile import build_profile
from ml.estimators import train
from ml.features import prepare_features
from predictor import services
from predictor.drift_check import check_log
from predictor.models import Deployment, LabelChange, LoggedVersion, Prediction
from predictor.predlog import new_ids, rollups
from tests.support.models import log_plain

# (hours ago, body mass shift in sd) of each hour's traffic, each followed by a drift check.
DRIFT_HOURS = [(7, 0.0), (6, 0.0), (5, 0.3), (4, 0.6), (3, 1.0), (2, 1.5), (1, 2.0), (0, 2.5)]
# Who labels logged traffic unless a test says otherwise: two clients, as the degradation trigger needs.
LABELLERS = ("address:192.0.2.1", "address:192.0.2.2")
PENGUIN_FEATURES = ["island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "sex", "year"]


def log_profiled_penguins() -> str:
    """A penguin model of batch 1 registered with its training profile, under settings.MODEL_NAME."""
    frame = demo_frame(1, "penguins")
    features = prepare_features(frame, "species")
    model = train(frame, "species", "random_forest", {"n_estimators": 5}, 42)
    return log_plain(model, features, "profiled", profile=build_profile(features, model.predict(features))).version


def serve(version: str, metrics: dict[str, float] | None = None) -> Deployment:
    return services.deploy(version, source=Deployment.Source.BOOTSTRAP, metrics=metrics or {"accuracy": 0.95})


def penguin_inputs(rows: int, seed: int = 0, shift: float = 0.0) -> pd.DataFrame:
    """`rows` penguins drawn from all three demo batches; `shift` moves every body mass by that
    many standard deviations."""
    pool = demo_frame(3, "penguins")
    frame = pool.sample(rows, replace=True, random_state=seed).reset_index(drop=True)
    frame["body_mass_g"] = frame["body_mass_g"] + shift * pool["body_mass_g"].std()
    return frame


def log_predictions(
    version: str,
    frame: pd.DataFrame,
    predictions: list[str],
    labels: list[str] | None = None,
    at: datetime | None = None,
    sources: tuple[str, ...] = LABELLERS,
) -> None:
    """Rows in the prediction log as the writer stores them (inputs as sent, missing as null);
    each label recorded as given by `sources` in turn (none: labels with no recorded giver)."""
    at = at or timezone.now()
    inputs = frame[PENGUIN_FEATURES].astype(object).where(frame[PENGUIN_FEATURES].notna(), None)
    LoggedVersion.objects.get_or_create(
        version=version, defaults={"model_name": "penguins", "classes": ["Adelie", "Chinstrap", "Gentoo"]}
    )
    ids = new_ids(len(frame))
    Prediction.objects.bulk_create(
        Prediction(
            id=prediction_id,
            created_at=at,
            model_version=version,
            inputs={k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()},
            prediction=predicted,
            label=None if labels is None else labels[i],
            labelled_at=None if labels is None else at,
        )
        for i, (prediction_id, row, predicted) in enumerate(
            zip(ids, inputs.to_dict("records"), predictions, strict=True)
        )
    )
    if labels is not None and sources:
        LabelChange.objects.bulk_create(
            LabelChange(prediction_id=pid, label=label, source=sources[i % len(sources)], given_at=at)
            for i, (pid, label) in enumerate(zip(ids, labels, strict=True))
        )
    # Written past the log writer: the rollups as the writer and feedback would have kept them.
    rollups.rebuild()


def log_traffic(
    version: str,
    rows: int,
    shift: float = 0.0,
    seed: int = 0,
    correct: float | None = None,
    at: datetime | None = None,
    sources: tuple[str, ...] = LABELLERS,
) -> None:
    """`rows` logged predictions; with `correct`, every one labelled and that share of them right."""
    frame = penguin_inputs(rows, seed=seed, shift=shift)
    truth = frame["species"].tolist()
    labels = None
    if correct is not None:
        wrong = {"Adelie": "Gentoo", "Gentoo": "Chinstrap", "Chinstrap": "Adelie"}
        labels = [t if i < correct * rows else wrong[t] for i, t in enumerate(truth)]
    log_predictions(version, frame, truth, labels, at=at, sources=sources)


def drifting_traffic() -> str:
    """A profiled penguin champion, deployed a day ago, with each hour of DRIFT_HOURS logged (150
    predictions, 70% of them right) and checked for drift; its version."""
    version = log_profiled_penguins()
    serve(version, {"accuracy": 0.95, "f1": 0.95})
    now = timezone.now()
    Deployment.objects.filter(version=version).update(created_at=now - timedelta(days=1))
    for seed, (ago, shift) in enumerate(DRIFT_HOURS):
        at = now - timedelta(hours=ago, minutes=1)
        log_traffic(version, 150, shift=shift, seed=seed, correct=0.7, at=at)
        check_log(at + timedelta(seconds=30))
    return version
