"""MLflow's own scoring client, unchanged, against a live gunicorn: it reaches /ping, /version and
/invocations as it would `mlflow models serve`, and every MLflow body form, CSV included, answers
what /api/v1/predict answers on the same rows."""

import io
import json
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import pytest
import requests
from mlflow.pyfunc.scoring_server.client import ScoringServerClient
from mlflow.version import VERSION

pytestmark = pytest.mark.slow


def client_of(live) -> ScoringServerClient:
    address = urlsplit(live.url)
    return ScoringServerClient(address.hostname, address.port)


def predicted(live, rows) -> list:
    response = requests.post(f"{live.url}/api/v1/predict", json={"instances": rows}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["predictions"]


def test_mlflows_scoring_client_works_unchanged(live, rows):
    client = client_of(live)
    # A gap as a DataFrame holds it: the client writes NaN.
    frame = pd.DataFrame(rows)
    frame.loc[0, "bill_length_mm"] = np.nan
    gapped = [{**rows[0], "bill_length_mm": None}, *rows[1:]]

    client.wait_server_ready(timeout=30)
    from_frame = client.invoke(frame).get_predictions(predictions_format="ndarray").tolist()
    from_records = client.invoke(rows, params={"threshold": 0.5})["predictions"]

    assert client.get_version() == VERSION
    assert from_frame == predicted(live, gapped)
    assert from_records == predicted(live, rows)


def test_every_body_form_on_a_live_server_answers_as_the_predict_api(live, rows):
    columns = list(rows[0])
    expected = predicted(live, rows)
    forms = [
        {"dataframe_split": {"columns": columns, "data": [[r[c] for c in columns] for r in rows]}},
        {"dataframe_records": rows},
        {"instances": rows},
        {"inputs": rows},
        {"inputs": {c: [r[c] for r in rows] for c in columns}},
    ]
    as_csv = io.StringIO()
    pd.DataFrame(rows).to_csv(as_csv, index=False)

    answers = [
        requests.post(f"{live.url}/invocations", data=json.dumps(form), headers={"Content-Type": "application/json"})
        for form in forms
    ]
    answers.append(
        requests.post(f"{live.url}/invocations", data=as_csv.getvalue(), headers={"Content-Type": "text/csv"})
    )

    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"predictions": expected}
        assert len(answer.headers["X-Prediction-Id"].split(",")) == len(rows)
        assert answer.headers["X-Model-Version"]
