"""Small frames for the split's and the row keys' tests."""

import numpy as np
import pandas as pd


def frame(rows: int = 2000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    size = rng.normal(10, 3, rows).round(2)
    return pd.DataFrame(
        {
            "size": size,
            "count": rng.integers(0, 1000, rows),
            "colour": rng.choice(["red", "blue", "green"], rows),
            "label": np.where(size > 10, "big", "small"),
        }
    )


def mixed(rows: int = 3000, seed: int = 5) -> pd.DataFrame:
    """Every kind of column a CSV gives: floats with gaps and -0.0, ints, text with gaps, booleans, and
    duplicated rows (same keyed values, other labels), so the canonical order's tie-break matters."""
    data = frame(rows, seed).assign(
        ratio=np.where(
            np.arange(rows) % 17 == 0, np.nan, np.where(np.arange(rows) % 5 == 0, -0.0, np.arange(rows) % 7)
        ),
        note=np.where(np.arange(rows) % 11 == 0, None, (np.arange(rows) % 300).astype(str)),
        # As a CSV column typed differently in two of pandas' chunks: numbers and text in one column.
        code=pd.Series([i if i % 2 else f"c{i}" for i in range(rows)], dtype=object),
        flag=np.arange(rows) % 3 == 0,
    )
    data["note"] = data["note"].astype("str")
    copies = data.head(200).assign(label="other")
    return pd.concat([data, copies], ignore_index=True).sample(frac=1.0, random_state=seed).reset_index(drop=True)


def sizes(rows: int = 60) -> pd.DataFrame:
    """A size, a colour, and a label the size decides: a model learns it from a few rows."""
    rng = np.random.default_rng(0)
    size = rng.normal(10, 3, rows)
    return pd.DataFrame(
        {
            "size": size,
            "colour": rng.choice(["red", "blue"], rows),
            "label": np.where(size > 10, "big", "small"),
        }
    )
