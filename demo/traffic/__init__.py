"""Simulated client traffic for the demo (manage.py simulate_traffic).

Sends rows of the demo dataset (demo/datasets.py) to a running app's prediction API,
so that un-shifted traffic looks like the data the champion was trained on; after a while the
traffic shifts (numeric features moved by one or two standard deviations, one category's mix
changed) and the true labels of the shifted rows follow a concept consistent with the story of
the shift, so the drift check sees the change and live quality falls. The true label of a share
of the predictions is posted to the feedback endpoint, in batches, with the ids the predictions
were answered with.

Everything goes over HTTP, as a client's traffic would; the database is only touched to create
(and afterwards delete) an API key when the app requires one and none is given.

The parts: `options` (what is asked), `shifts` and `rows` (what is sent), `client` and `keys`
(the app over HTTP, and a key for it), `simulation` (the pacing and the loop), `feedback` (the
labels), `report` (what it did).
"""

from demo.traffic.base import KeyRequired, ServedModel, TrafficError
from demo.traffic.client import default_url
from demo.traffic.options import DEFAULT_LABEL_SHARE, DEFAULT_RATE, DEFAULT_SEED, DEFAULT_SHIFT_AFTER, Options
from demo.traffic.report import Report
from demo.traffic.rows import Rows, build_rows, pick_dataset
from demo.traffic.shifts import SHIFTS, Shift
from demo.traffic.simulation import run

__all__ = [
    "DEFAULT_LABEL_SHARE",
    "DEFAULT_RATE",
    "DEFAULT_SEED",
    "DEFAULT_SHIFT_AFTER",
    "SHIFTS",
    "KeyRequired",
    "Options",
    "Report",
    "Rows",
    "ServedModel",
    "Shift",
    "TrafficError",
    "build_rows",
    "default_url",
    "pick_dataset",
    "run",
]
