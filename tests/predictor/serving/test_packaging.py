"""What a logged model is packaged with: the rows MLflow infers its signature from."""

from predictor.serving import packaging


def test_the_signature_sample_keeps_every_columns_gaps_so_its_schema_is_the_whole_frames():
    import numpy as np
    import pandas as pd
    from mlflow.models import infer_signature

    frame = pd.DataFrame(
        {
            "size": np.arange(2000, dtype="float64"),
            "colour": ["red", "blue"] * 1000,
            "count": np.arange(2000),
        }
    )
    frame.loc[1500, "size"] = np.nan
    frame["colour"] = frame["colour"].astype(object)
    frame.loc[1999, "colour"] = None

    sample = packaging.signature_rows(frame)

    assert len(sample) < 10
    assert infer_signature(sample).inputs == infer_signature(frame).inputs
    assert [spec.required for spec in infer_signature(sample).inputs.inputs] == [False, False, True]
