"""MLflow's own scoring client, unchanged, against a live gunicorn: it reaches /ping, /version and
/invocations as it would `mlflow models serve`, and every MLflow body form, CSV included, answers
what /api/v1/predict answers on the same rows."""

import io
import json
import time
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import pytest
import requests
from mlflow.pyfunc.scoring_server.client import ScoringServerClient
from mlflow.version import VERSION

pytestmark = pytest.mark.slow


@pytest.fixture
def ready(live):
    """`live` once both workers serve the model: `live` waits for one worker's /readyz, and a worker
    without the model answers /ping 404, so twenty 200s in a row (new connections, spread over the
    workers) say both have it."""
    deadline = time.monotonic() + 60
    streak = 0
    while streak < 20:
        assert time.monotonic() < deadline, live.log.read_text()[-3000:]
        streak = streak + 1 if requests.get(f"{live.url}/ping", timeout=10).status_code == 200 else 0
        time.sleep(0.05)
    return live


def client_of(live) -> ScoringServerClient:
    address = urlsplit(live.url)
    return ScoringServerClient(address.hostname, address.port)


def predicted(live, rows) -> list:
    response = requests.post(f"{live.url}/api/v1/predict", json={"instances": rows}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["predictions"]


def test_mlflows_scoring_client_works_unchanged(ready, rows):
    live = ready
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


def test_every_body_form_on_a_live_server_answers_as_the_predict_api(ready, rows):
    live = ready
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
