"""What the web process does once, before gunicorn forks its workers."""

import json
import subprocess
import sys
from pathlib import Path

from tests.support.processes import subprocess_env

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import gc, json, sys
import config.wsgi
print(json.dumps({
    "frozen": gc.get_freeze_count(),
    "modules": [m for m in ("config.urls", "predictor.api.views", "retraining.panel.views") if m in sys.modules],
}))
"""


def test_workers_start_with_the_urlconf_imported_and_start_up_objects_frozen(transactional_db):
    """A worker's first request would otherwise import every view (measured: 210 ms), and a
    full collection would walk every start-up object (measured: a 220 ms pause)."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=subprocess_env(), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    state = json.loads(done.stdout.strip().splitlines()[-1])
    assert state["modules"] == ["config.urls", "predictor.api.views", "retraining.panel.views"]
    assert state["frozen"] > 100_000
