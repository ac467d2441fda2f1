"""The serving peers bench/predict.py measures next to the app: Seldon's MLServer and BentoML.

Each runs from its own virtualenv under var/bench-venv/ (bench/requirements-mlserver.txt,
bench/requirements-bentoml.txt), created on first use: their pins conflict with ours and with each
other (MLServer pins fastapi 0.115, BentoML needs starlette 1.x). Both serve the same registered
version from its artifact folder, through their documented path:

- MLServer: a model-settings.json with `mlserver_mlflow.MLflowRuntime` and the artifact folder as
  its uri, `mlserver start`, the V2 inference protocol (one input per column, the model's
  signature giving the pandas content type);
- BentoML: a service file written here that loads the model's skops file (as the MLflow flavor
  does), `bentoml serve`, the same `dataframe_split` body as the app, answering labels and
  probabilities like the app.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
VENVS = ROOT / "var" / "bench-venv"


def venv_python(name: str, requirements: Path | None = None, home: Path = VENVS) -> Path:
    """The virtualenv `home`/`name`, created from `requirements` (bench/requirements-<name>.txt by
    default) if it is not there yet or the requirements changed since. Tests use it for clients
    that must not enter the product's requirements."""
    venv = home / name
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    requirements = requirements or ROOT / "bench" / f"requirements-{name}.txt"
    if not stamp.is_file() or stamp.stat().st_mtime < requirements.stat().st_mtime:
        print(f"installing {requirements.name} into {venv} (once; minutes)", flush=True)
        subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(requirements)], check=True)
        stamp.touch()
    return python


def v2_body(rows: pd.DataFrame) -> dict:
    """The V2 inference request carrying the same rows as a `dataframe_split` body: one input per
    column; a gap is null, as the JSON of `dataframe_split` has it."""
    inputs = []
    for name in rows.columns:
        column = rows[name]
        if pd.api.types.is_integer_dtype(column):
            datatype, data = "INT64", [int(v) for v in column]
        elif pd.api.types.is_numeric_dtype(column):
            datatype, data = "FP64", [None if math.isnan(v) else float(v) for v in column]
        else:
            datatype, data = "BYTES", [None if v is None or v != v else str(v) for v in column]
        inputs.append({"name": str(name), "shape": [len(rows)], "datatype": datatype, "data": data})
    return {"inputs": inputs}


def start_mlserver(
    artifacts: Path, workers: int, workdir: Path, ports: tuple[int, ...], env: dict
) -> tuple[subprocess.Popen, str, str]:
    """(process, inference url, readiness url). `parallel_workers` is MLServer's own count of
    inference processes; the HTTP front is one more process, as MLServer ships."""
    python = venv_python("mlserver")
    folder = workdir / f"mlserver-{workers}"
    (folder / "model").mkdir(parents=True, exist_ok=True)
    http, grpc, metrics = ports
    settings = {
        "host": "127.0.0.1",
        "http_port": http,
        "grpc_port": grpc,
        "metrics_port": metrics,
        "parallel_workers": workers,
        "debug": False,
    }
    (folder / "settings.json").write_text(json.dumps(settings))
    model = {"name": "model", "implementation": "mlserver_mlflow.MLflowRuntime", "parameters": {"uri": str(artifacts)}}
    (folder / "model" / "model-settings.json").write_text(json.dumps(model))
    log = workdir / f"mlserver-{workers}.log"
    peer_env = _peer_env(env, python)
    command = [str(python.parent / "mlserver"), "start", str(folder)]
    process = subprocess.Popen(command, env=peer_env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{http}/v2/models/model"
    return process, f"{base}/infer", f"{base}/ready"


BENTO_SERVICE = """\
import bentoml
import numpy as np
import pandas as pd
import skops.io

MODEL = {model!r}


@bentoml.service(workers={workers})
class Predictor:
    def __init__(self) -> None:
        self.model = skops.io.load(MODEL, trusted=skops.io.get_untrusted_types(file=MODEL))
        self.classes = np.asarray(self.model.classes_)

    @bentoml.api
    def predict(self, dataframe_split: dict) -> dict:
        frame = pd.DataFrame(dataframe_split["data"], columns=dataframe_split["columns"])
        for name in frame.columns:
            if not pd.api.types.is_numeric_dtype(frame[name]):
                frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
        probabilities = self.model.predict_proba(frame)
        return {{
            "predictions": self.classes[probabilities.argmax(axis=1)].tolist(),
            "probabilities": probabilities.tolist(),
        }}
"""


def start_bentoml(
    artifacts: Path, workers: int, workdir: Path, port: int, env: dict
) -> tuple[subprocess.Popen, str, str]:
    """(process, inference url, readiness url) of `bentoml serve` on a service file written here."""
    python = venv_python("bentoml")
    folder = workdir / f"bentoml-{workers}"
    folder.mkdir(parents=True, exist_ok=True)
    model = artifacts / _sklearn_model_file(artifacts)
    (folder / "service.py").write_text(BENTO_SERVICE.format(model=str(model), workers=workers))
    log = workdir / f"bentoml-{workers}.log"
    peer_env = {**_peer_env(env, python), "BENTOML_HOME": str(folder / "home"), "BENTOML_DO_NOT_TRACK": "True"}
    command = [str(python.parent / "bentoml"), "serve", "service:Predictor", "--host", "127.0.0.1"]
    command += ["--port", str(port)]
    process = subprocess.Popen(command, cwd=folder, env=peer_env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    return process, f"http://127.0.0.1:{port}/predict", f"http://127.0.0.1:{port}/readyz"


def _sklearn_model_file(artifacts: Path) -> str:
    """The model file named by the MLmodel's sklearn flavor (`model.skops` as MLflow 3.17 saves it)."""
    for line in (artifacts / "MLmodel").read_text().splitlines():
        if line.strip().startswith("pickled_model:"):
            return line.split(":", 1)[1].strip()
    raise SystemExit(f"{artifacts}/MLmodel names no sklearn model file")


def _peer_env(env: dict, python: Path) -> dict:
    """The peer's own virtualenv first on PATH; none of the app's settings leak into it."""
    keep = ("HOME", "LANG", "LC_ALL", "TMPDIR", "USER")
    peer = {k: v for k, v in env.items() if k in keep}
    peer["PATH"] = f"{python.parent}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}"
    peer["VIRTUAL_ENV"] = str(python.parent.parent)
    return peer
