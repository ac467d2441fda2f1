"""What a model is packaged with when it is logged to MLflow, besides itself: the types its skops
file needs trusted, the rows its signature is inferred from, and the packages it was trained with."""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)


def skops_trusted_types(model: Any) -> list[str]:
    """The types MLflow must be told to trust to load the model's skops file back: listed from
    the model's objects (predictor/serving/trust.py), so that MLflow's save is the one serialization; from
    a dump, as skops itself lists them, for a model holding an object that walk does not know.
    MLflow's save checks the file against this list; the app never reads it back: it loads every
    model with its own allowlist (predictor/serving/allowlist.py)."""
    import skops.io

    from predictor.serving.trust import untrusted_types

    listed = untrusted_types(model)
    if listed is not None:
        return listed
    logger.info("listing the model's skops types from a dump: it holds an object of an unlisted kind")
    return skops.io.get_untrusted_types(data=skops.io.dumps(model))


def signature_rows(frame: Any) -> Any:
    """The first rows and each column's first gap: MLflow infers the same schema from these as
    from every training row (a column with a gap anywhere is optional), without walking every row,
    which costs time in proportion to the training data (docs/benchmarks.md)."""
    gaps = frame.isna()
    first_gaps = [int(gaps[name].to_numpy().argmax()) for name in frame.columns if gaps[name].any()]
    positions = sorted({*range(min(5, len(frame))), *first_gaps})
    return frame.iloc[positions]


def pip_requirements() -> list[str]:
    """What the model needs, pinned to what trained it: left to MLflow, finding this out loads
    the model in a subprocess, seconds for a large forest (docs/benchmarks.md)."""
    from importlib.metadata import version

    return [f"{package}=={version(package)}" for package in ("scikit-learn", "skops", "numpy", "pandas", "scipy")]
