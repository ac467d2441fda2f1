"""Logging a test model to the real MLflow registry with nothing but what a test cares about."""

from typing import Any

import pandas as pd

from predictor.serving import registry


def log_plain(model: Any, features: pd.DataFrame, run_name: str = "test", **extra: Any) -> registry.ModelVersionInfo:
    """`registry.log_model` with no params, metrics or tags and the first two rows as the input
    example; `extra` is passed on (artifacts, profile)."""
    return registry.log_model(
        model,
        params={},
        metrics={},
        tags={},
        signature_input=features,
        input_example=features.head(2),
        run_name=run_name,
        **extra,
    )
