"""The Open Inference Protocol's own clients, unchanged and with their defaults, against a live
gunicorn: tritonclient's HTTP client (binary data on) and the KServe SDK's REST client. They run in
a virtualenv of their own (requirements-clients.txt), as the bench's peers do, never in ours."""

import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import requests

from bench.peers import ROOT, venv_python
from ml.features import prepare_features

pytestmark = pytest.mark.slow
HERE = Path(__file__).parent
DATATYPES = {"double": "FP64", "float": "FP64", "long": "INT64", "integer": "INT64", "boolean": "BOOL"}


def install_clients() -> Path:
    """The clients' virtualenv, var/clients-venv, created once (minutes) and kept between runs;
    CI makes it before its two columns, which share it."""
    return venv_python("clients-venv", HERE / "requirements-clients.txt", ROOT / "var")


@pytest.fixture(scope="session")
def clients_python() -> Path:
    return install_clients()


def run_clients(python: Path, spec: dict) -> dict:
    result = subprocess.run(
        [str(python), str(HERE / "v2_clients.py")], input=json.dumps(spec), capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout)


def test_tritonclient_and_kserve_run_metadata_readiness_and_infer_as_api_v1_predict_answers(
    live,
    penguin_versions,
    clients_python,
):
    features = prepare_features(penguin_versions.frame, "species").dropna().head(5)
    rows = [{k: (None if pd.isna(v) else v) for k, v in r.items()} for r in features.to_dict("records")]
    model = requests.get(f"{live.url}/api/v1/model", timeout=10).json()
    columns = {c["name"]: DATATYPES.get(c["type"], "BYTES") for c in model["input_schema"]["columns"]}
    predicted = requests.post(f"{live.url}/api/v1/predict", json={"instances": rows}, timeout=10).json()
    expected = {"predictions": predicted["predictions"]}
    for i, label in enumerate(predicted["classes"]):
        expected[f"probability_{label}"] = [p[i] for p in predicted["probabilities"]]

    spec = {"url": live.url, "model": penguin_versions.name, "columns": columns, "rows": rows, "headers": {}}
    got = run_clients(clients_python, spec)

    triton, kserve = got["triton"], got["kserve"]
    assert (triton["live"], triton["ready"], triton["model_ready"]) == (True, True, True)
    assert [i["name"] for i in triton["metadata"]["inputs"]] == list(columns)
    assert triton["metadata"]["outputs"][0]["name"] == "predictions"
    assert triton["binary"], "tritonclient asks for binary outputs by default and got JSON"
    assert triton["outputs"] == expected
    assert triton["parameters"]["model_version"] == predicted["model"]["version"]
    assert len(triton["parameters"]["prediction_ids"].split(",")) == len(rows)
    assert (kserve["live"], kserve["ready"], kserve["model_ready"]) == (True, True, True)
    assert kserve["outputs"] == expected
    assert kserve["parameters"]["model_version"] == predicted["model"]["version"]
    assert len(kserve["parameters"]["prediction_ids"].split(",")) == len(rows)
