"""How long one MLflow call takes to give up when the tracking server does not answer.

A run says MLflow is unreachable only once a call gives up, so this is the silence an operator
sees before the run says anything. Times one registry read (what the validate step does first)
against a port where nothing listens, under this app's settings (MLFLOW_HTTP_REQUEST_* from
config/settings.py) or, with --mlflow-defaults, under MLflow's own (7 retries, backoff factor 2).

    .venv/bin/python bench/mlflow_unreachable.py [--mlflow-defaults]
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "MLFLOW_HTTP_REQUEST_TIMEOUT")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mlflow-defaults", action="store_true", help="MLflow's own retry settings, not the app's")
    args = parser.parse_args()
    for name in SETTINGS:
        os.environ.pop(name, None)
    if not args.mlflow_defaults:
        sys.path.insert(0, str(ROOT))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        import django

        django.setup()  # config/settings.py puts the app's MLFLOW_HTTP_REQUEST_* in the environment
    from mlflow import MlflowClient

    uri = f"http://127.0.0.1:{closed_port()}"
    client = MlflowClient(uri, uri)
    started = time.monotonic()
    try:
        client.get_registered_model("any-model")
    except Exception as exc:
        error = type(exc).__name__
    else:
        sys.exit(f"{uri} answered: nothing to measure")
    seconds = time.monotonic() - started
    used = {name: os.environ.get(name, "(MLflow default)") for name in SETTINGS}
    print(f"settings: {'app' if not args.mlflow_defaults else 'MLflow defaults'} {used}")
    print(f"one registry read against {uri} gave up after {seconds:.1f} s ({error})")


if __name__ == "__main__":
    main()
