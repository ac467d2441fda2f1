"""Steps for models that load but fail in serving (imported by the model file when it loads)."""

import pandas as pd

# This module, to be named in MODEL_TRUSTED_TYPES: a model holding its functions loads only then.
FAULTY = __name__


def fail_on_small_batches(frame: pd.DataFrame) -> pd.DataFrame:
    """Passes the 5-row warm-up example, fails every smaller request: a bug only traffic finds."""
    if len(frame) < 5:
        raise ValueError("feature lookup unavailable")
    return frame
