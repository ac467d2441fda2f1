"""The model contract: the shape of a model the pipeline trains, as serving relies on it.

Training (ml/estimators.py) builds its scikit-learn pipeline from these names, and the
serving side reads a fitted model back through them (known categories for input warnings,
compiled inference, validation of new data against the champion). Both sides import this one
module, so a change of shape is made here or not at all; `predictor` still imports nothing from
`retraining`, and can serve a model that was promoted by hand.
"""

from typing import Any

import pandas as pd

# Pipeline([(PREPROCESS, ColumnTransformer([(NUMERIC, ...), (CATEGORICAL, ...)])), (CLASSIFIER, ...)])
PREPROCESS = "preprocess"
CLASSIFIER = "classifier"
NUMERIC = "numeric"
CATEGORICAL = "categorical"
# Inside each column group: impute, then scale (numbers) or encode (categories).
IMPUTE = "impute"
SCALE = "scale"
ENCODE = "encode"
# What a missing category is imputed as before encoding: a value, never a category of the data.
FILL_VALUE = "missing"

# The MLflow signature types that carry numbers, and among them whole numbers.
NUMERIC_TYPES = frozenset({"double", "float", "long", "integer"})
INTEGER_TYPES = frozenset({"long", "integer"})


def is_numeric(column: pd.Series) -> bool:
    """A column the pipeline scales as a number: booleans are categories, not numbers."""
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def known_categories(model: Any) -> dict[str, list[str]]:
    """The category values a fitted pipeline's one-hot encoder saw, per categorical column.

    Read from the fitted estimator, not from the code that trained it: predictor serves whatever
    was promoted. A model without such an encoder (or trained on numbers only, where the encoder
    was never fitted) has no known categories, and every string is passed through.
    """
    try:
        preprocess = model.named_steps[PREPROCESS]
        columns = next(cols for name, _, cols in preprocess.transformers_ if name == CATEGORICAL)
        encoder = preprocess.named_transformers_[CATEGORICAL].named_steps[ENCODE]
        fitted = encoder.categories_ if len(columns) else []
        grouped = getattr(encoder, "infrequent_categories_", None) or [None] * len(fitted)
    except (AttributeError, KeyError, StopIteration, TypeError):
        return {}
    # Infrequent values are grouped as one category: like an unseen value, they are not known one by one.
    return {
        str(column): sorted(
            str(v) for v in values if v is not None and v != FILL_VALUE and (rare is None or v not in set(rare))
        )
        for column, values, rare in zip(columns, fitted, grouped, strict=True)
    }
