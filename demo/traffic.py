"""Simulated client traffic for the demo (manage.py simulate_traffic).

Sends rows of the demo dataset (retraining/demo_datasets.py) to a running app's prediction API,
so that un-shifted traffic looks like the data the champion was trained on; after a while the
traffic shifts (numeric features moved by one or two standard deviations, one category's mix
changed) and the true labels of the shifted rows follow a concept consistent with the story of
the shift, so the drift check sees the change and live quality falls. The true label of a share
of the predictions is posted to the feedback endpoint, in batches, with the ids the predictions
were answered with.

Everything goes over HTTP, as a client's traffic would; the database is only touched to create
(and afterwards delete) an API key when the app requires one and none is given.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import orjson
import pandas as pd
import requests
from django.conf import settings

from demo import datasets

DEFAULT_RATE = 20.0
DEFAULT_SHIFT_AFTER = 60.0
DEFAULT_LABEL_SHARE = 0.3
DEFAULT_SEED = 0
# The feedback endpoint takes at most this many items per request (predictor.predlog.feedback.MAX_ITEMS).
FEEDBACK_MAX_ITEMS = 10_000
# Labels are posted in batches this often, for predictions answered at least FEEDBACK_DELAY ago:
# the log writes a prediction within a fraction of a second, after its answer.
FEEDBACK_EVERY = 2.0
FEEDBACK_DELAY = 1.0
# At the end, labels the log has not written yet are tried again for this long.
FINAL_FEEDBACK_WAIT = 10.0
# Nothing answered for this long while sending: the app is gone, the traffic stops.
GIVE_UP_AFTER = 30.0
REQUEST_TIMEOUT = 10.0
STATUS_EVERY = 5.0
# When another model version answers, the served model is read again at most this often (while
# a deployment reaches every serving process, answers come from both versions for a moment).
FOLLOW_EVERY = 5.0
# The feedback endpoint's answer for a prediction not written to the log yet ("send ... again shortly").
_NOT_WRITTEN_YET = "again shortly"
KEY_NAME = "simulate_traffic"


class TrafficError(Exception):
    """The traffic cannot start or go on: the message says why and what to do."""


class KeyRequired(TrafficError):
    """The app answered 401: it requires an API key, or refused the one given."""


# The shifts ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shift:
    """How the traffic changes after `--shift-after`, for one demo dataset.

    `numeric` moves each named feature by that many of its standard deviations (in the demo
    data); rows are then drawn so that `mix_column`'s categories have the shares in `mix`;
    `relabel(shifted rows, their labels before the shift, rng)` gives their true labels, as
    `labels` says in words.
    """

    numeric: dict[str, float]
    mix_column: str
    mix: dict[str, float]
    labels: str
    relabel: Callable[[pd.DataFrame, pd.Series, np.random.Generator], np.ndarray]


def _poached_customers(shifted: pd.DataFrame, original: pd.Series, rng: np.random.Generator) -> np.ndarray:
    """The churn rule, except that long tenure no longer keeps a month-to-month customer: a
    competitor's offer takes them. The model learnt the opposite, so live quality falls."""
    poached = (shifted["contract"] == "month-to-month").to_numpy() & (shifted["tenure_months"] > 48).to_numpy()
    risk = datasets.churn_risk(shifted) + np.where(poached, 2.0, 0.0)
    leaves = (risk > datasets.CHURN_THRESHOLD) ^ (rng.random(len(shifted)) < datasets.CHURN_FLIPPED)
    return np.where(leaves, "yes", "no")


def _same_penguins(shifted: pd.DataFrame, original: pd.Series, rng: np.random.Generator) -> np.ndarray:
    """The birds are what they were: only the readings moved, so the model is fooled by them."""
    return original.to_numpy()


SHIFTS: dict[str, Shift] = {
    "churn": Shift(
        numeric={"tenure_months": 1.5, "monthly_charges": 1.0},
        mix_column="contract",
        mix={"month-to-month": 0.8, "one-year": 0.12, "two-year": 0.08},
        labels="long-standing month-to-month customers now leave too (a competitor's offer)",
        relabel=_poached_customers,
    ),
    "penguins": Shift(
        numeric={"bill_length_mm": 1.5, "body_mass_g": 1.0},
        mix_column="island",
        mix={"Dream": 0.7, "Biscoe": 0.2, "Torgersen": 0.1},
        labels="the birds' true species (a new team's calipers and scale read high)",
        relabel=_same_penguins,
    ),
}


# The rows -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServedModel:
    """What GET /api/v1/model says about the served model."""

    name: str
    version: str
    columns: list[str]
    required: list[str]
    classes: list[str] | None
    max_rows: int
    # Rows of the dataset version it was trained on (its deployment's data_version), when known.
    data_rows: int | None = None

    @classmethod
    def from_answer(cls, body: dict[str, Any]) -> ServedModel:
        schema = body.get("input_schema") or {}
        columns = schema.get("columns") or []
        classes = body.get("classes")
        rows = ((body.get("data_version") or {}).get("rows") or {}).get("total")
        return cls(
            name=str(body.get("name", "?")),
            version=str(body.get("version", "?")),
            columns=[str(c["name"]) for c in columns],
            required=[str(c["name"]) for c in columns if c.get("required")],
            classes=[str(c) for c in classes] if classes is not None else None,
            max_rows=int(schema.get("max_rows") or settings.PREDICT_MAX_ROWS),
            data_rows=int(rows) if isinstance(rows, int | float) else None,
        )


@dataclass
class _Pool:
    records: list[dict[str, Any]]
    labels: list[str]
    weights: np.ndarray | None = None

    def draw(self, rng: np.random.Generator, count: int) -> tuple[list[dict[str, Any]], list[str]]:
        if self.weights is None:
            picked = rng.integers(0, len(self.records), count)
        else:
            picked = rng.choice(len(self.records), size=count, p=self.weights)
        return [self.records[i] for i in picked], [self.labels[i] for i in picked]


@dataclass
class Rows:
    """The demo rows to send, as the served model takes them, before and after the shift."""

    dataset: str
    columns: list[str]
    # Where un-shifted rows come from, in words ("the 200 rows of demo batch 1").
    source: str
    before: _Pool
    after: _Pool
    description: str
    # Per shifted feature: what is added to every row's value after the shift...
    offsets: dict[str, float] = field(default_factory=dict)
    # ...and its mean before and after the shift, as the traffic draws rows (the new mix of
    # categories moves a mean too, when the feature differs between them).
    moved: dict[str, tuple[float, float]] = field(default_factory=dict)

    def draw(self, rng: np.random.Generator, count: int, shifted: bool) -> tuple[list[dict[str, Any]], list[str]]:
        """`count` rows (as JSON objects with exactly the served columns) and their true labels."""
        return (self.after if shifted else self.before).draw(rng, count)


def pick_dataset(columns: Sequence[str], preferred: str | None = None) -> str:
    """The demo dataset whose features hold every served column, DEMO_DATASET first."""
    names = list(dict.fromkeys([preferred or settings.DEMO_DATASET, *settings.DEMO_TARGETS]))
    offered = {}
    for name in names:
        features = [c for c in _demo_rows(name)[0].columns if c != settings.DEMO_TARGETS[name]]
        if columns and set(columns) <= set(features):
            return name
        offered[name] = features
    shown = "; ".join(f"{name}: {', '.join(features)}" for name, features in offered.items())
    raise TrafficError(
        f"the served model takes the columns {', '.join(columns) or '(none)'}, which no demo dataset has ({shown}): "
        "simulate_traffic sends demo rows, so it needs a model trained on a demo dataset"
    )


def build_rows(dataset: str, model: ServedModel, seed: int = DEFAULT_SEED) -> Rows:
    """The pools rows are drawn from: the demo batch the served model was trained on (the whole
    dataset when its data version is no demo batch), without the rows that miss a value the model
    requires, and its shifted copy.

    Drawing from the model's own batch matters: the first churn champion's training profile has
    145 rows, and rows of the whole dataset differ from them enough on one feature that about a
    quarter of un-shifted windows of 500 to 1,200 rows would be called drift; rows of its own
    batch, none in 100 windows of each size."""
    if dataset not in SHIFTS:
        raise TrafficError(f"no shift is defined for the dataset {dataset!r}: choose {' or '.join(SHIFTS)}")
    shift = SHIFTS[dataset]
    target = settings.DEMO_TARGETS[dataset]
    frame, source = _demo_rows(dataset, model.data_rows)
    missing = [c for c in model.columns if c not in frame.columns]
    if missing:
        raise TrafficError(f"the {dataset} demo dataset has no column {', '.join(missing)}, which the model takes")
    frame = frame.dropna(subset=model.required).reset_index(drop=True)
    labels = frame[target].astype(str)

    shifted = frame.copy()
    parts, offsets = [], {}
    for name, sds in shift.numeric.items():
        column = frame[name]
        offsets[name] = delta = sds * float(column.std())
        values = (column + delta).round(_decimals(column))
        shifted[name] = values.astype(column.dtype) if pd.api.types.is_integer_dtype(column) else values
        if name in model.columns:
            parts.append(f"{name} {sds:+g} sd ({_signed(delta)} on every row)")
    counts = frame[shift.mix_column].value_counts()
    unknown = sorted(set(shift.mix) - set(counts.index))
    if unknown:
        raise TrafficError(f"the {dataset} demo dataset has no {shift.mix_column} {', '.join(unknown)}")
    weights = frame[shift.mix_column].map(lambda v: shift.mix.get(v, 0.0) / counts.get(v, 1)).to_numpy(float)
    weights = weights / weights.sum()
    top = max(shift.mix, key=shift.mix.__getitem__)
    was = counts.get(top, 0) / counts.sum()
    parts.append(f"{shift.mix_column} mostly {top} ({shift.mix[top]:.0%}, was {was:.0%})")
    moved = {name: (_mean(frame[name], None), _mean(shifted[name], weights)) for name in offsets}
    relabelled = shift.relabel(shifted, labels, np.random.default_rng([seed, 1]))

    if model.classes is not None:
        strange = sorted((set(labels) | {str(v) for v in relabelled}) - set(model.classes))
        if strange:
            raise TrafficError(
                f"the {dataset} demo labels {', '.join(strange)} are not classes of the served model "
                f"({', '.join(model.classes)}): is it trained on the {dataset} demo dataset?"
            )
    return Rows(
        dataset=dataset,
        columns=list(model.columns),
        source=source,
        before=_Pool(_records(frame[model.columns]), labels.tolist()),
        after=_Pool(_records(shifted[model.columns]), [str(v) for v in relabelled], weights),
        description=f"{', '.join(parts)}; labels: {shift.labels}",
        offsets=offsets,
        moved=moved,
    )


def _demo_rows(dataset: str, rows: int | None = None) -> tuple[pd.DataFrame, str]:
    """(rows, where they come from): the demo batch of `rows` rows, else every batch."""
    sizes = datasets.batch_sizes(dataset)
    if rows in sizes:
        number = sizes.index(rows) + 1
        return datasets.batch(dataset, number), f"the {rows:,} rows of demo batch {number}, as the model was trained"
    every = datasets.batch(dataset, datasets.BATCHES)
    return every, f"all {len(every):,} rows of the demo dataset"


def _mean(column: pd.Series, weights: np.ndarray | None) -> float:
    """The mean of the values drawn with these weights (uniform when None), gaps left out."""
    values = column.to_numpy(float)
    known = ~np.isnan(values)
    return float(np.average(values[known], weights=None if weights is None else weights[known]))


def _decimals(column: pd.Series) -> int:
    """The fewest decimals that write every value of the column as it is (at most 6)."""
    values = column.dropna().to_numpy(float)
    for decimals in range(7):
        if np.allclose(values, np.round(values, decimals), rtol=0, atol=1e-9):
            return decimals
    return 6


def _signed(value: float) -> str:
    return f"{value:+.3g}" if abs(value) < 1000 else f"{value:+,.0f}"


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Plain Python values (int, float, str), None where a value is missing: JSON as a client sends it."""
    plain = frame.astype(object).where(frame.notna(), None)
    return plain.to_dict("records")


# The client -------------------------------------------------------------------------------------------


class Api:
    """The app's API over HTTP: the prediction, feedback and model endpoints."""

    def __init__(self, url: str, key: str | None = None, timeout: float = REQUEST_TIMEOUT) -> None:
        self.url = url.rstrip("/")
        self.key = key
        self.timeout = timeout
        self.session = requests.Session()

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        return headers

    def get(self, path: str) -> requests.Response:
        return self.session.get(f"{self.url}{path}", headers=self._headers(), timeout=self.timeout)

    def post(self, path: str, body: dict[str, Any]) -> requests.Response:
        return self.session.post(
            f"{self.url}{path}", data=orjson.dumps(body), headers=self._headers(), timeout=self.timeout
        )

    def close(self) -> None:
        self.session.close()


def default_url() -> str:
    return f"http://127.0.0.1:{settings.PORT}"


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise TrafficError(f"--url must be the app's address, like http://127.0.0.1:8000; got {url!r}")
    return url.rstrip("/")


def _body_of(response: requests.Response, limit: int = 2000) -> str:
    text = response.text.strip()
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _unreachable(url: str, exc: requests.RequestException) -> TrafficError:
    return TrafficError(
        f"nothing answers at {url}: start it with make run, or give its address with --url ({_reason(exc)})"
    )


def _reason(exc: requests.RequestException) -> str:
    """Why a request got no answer, in a few words ("Connection refused"), not urllib3's whole chain."""
    if isinstance(exc, requests.Timeout):
        return f"no answer within {REQUEST_TIMEOUT:g} s"
    found = re.search(r"\[Errno -?\d+\] ([^'\")]+)", str(exc))
    return found.group(1).strip() if found else type(exc).__name__


def served_model(api: Api) -> ServedModel:
    """The served model's name, version, input columns and classes; the reason when there is none."""
    try:
        response = api.get("/api/v1/model")
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise _unreachable(api.url, exc) from None
    if response.status_code == 503:
        raise TrafficError(
            f"no model is served at {api.url} yet ({_body_of(response)}): make run trains and deploys the first "
            "champion at its first start (or run manage.py bootstrap); try again once the panel shows one"
        )
    if response.status_code == 401:
        raise KeyRequired(f"GET {api.url}/api/v1/model answered HTTP 401: {_body_of(response)}")
    if response.status_code != 200:
        raise TrafficError(f"GET {api.url}/api/v1/model answered HTTP {response.status_code}: {_body_of(response)}")
    try:
        return ServedModel.from_answer(response.json())
    except (ValueError, KeyError, TypeError) as exc:
        raise TrafficError(f"{api.url}/api/v1/model did not answer as this app does ({exc}): is --url right?") from None


def create_api_key(rate_per_minute: float) -> tuple[int, str]:
    """(row id, key): a key for the simulation, in the database this process uses, whose rate limit
    (when API_RATE_LIMIT is too low) lets the traffic through."""
    from predictor.api import apikeys
    from predictor.models import ApiKey

    key, prefix, hashed = apikeys.generate()
    needed = math.ceil(rate_per_minute * 1.5)
    limit = needed if needed > settings.API_RATE_LIMIT else None
    row = ApiKey.objects.create(name=KEY_NAME, prefix=prefix, hashed_key=hashed, rate_limit=limit)
    return row.pk, key


def delete_api_key(pk: int) -> None:
    from predictor.models import ApiKey

    ApiKey.objects.filter(pk=pk).delete()


# The traffic -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    url: str
    rate: float = DEFAULT_RATE
    rows_per_request: int = 1
    duration: float | None = None
    shift_after: float | None = DEFAULT_SHIFT_AFTER
    shift_after_requests: int | None = None
    label_share: float = DEFAULT_LABEL_SHARE
    api_key: str | None = None
    seed: int = DEFAULT_SEED
    dataset: str | None = None
    status_every: float = STATUS_EVERY

    def check(self) -> None:
        if not self.rate > 0:
            raise TrafficError(f"--rate must be above 0 requests per second, got {self.rate}")
        if self.rows_per_request < 1:
            raise TrafficError(f"--rows-per-request must be at least 1, got {self.rows_per_request}")
        if self.duration is not None and not self.duration > 0:
            raise TrafficError(f"--duration must be above 0 seconds, got {self.duration}")
        if self.shift_after is not None and self.shift_after < 0:
            raise TrafficError(f"--shift-after must be 0 seconds or more, got {self.shift_after}")
        if self.shift_after_requests is not None and self.shift_after_requests < 0:
            raise TrafficError(f"--shift-after-requests must be 0 or more, got {self.shift_after_requests}")
        if not 0 <= self.label_share <= 1:
            raise TrafficError(f"--label-share must be between 0 and 1, got {self.label_share}")
        if self.dataset is not None and self.dataset not in SHIFTS:
            raise TrafficError(f"--dataset must be {' or '.join(SHIFTS)}, got {self.dataset!r}")


@dataclass
class Report:
    """What the traffic did. `shifted_at` is when the first shifted request was sent (UTC), and
    `shifted_after` how many seconds after the start; `seconds` is how long requests were sent."""

    url: str = ""
    dataset: str = ""
    model: str = ""
    shift: str = ""
    requests: int = 0
    rows: int = 0
    rows_shifted: int = 0
    errors: int = 0
    labelled: int = 0
    labels_refused: int = 0
    labels_pending: int = 0
    shifted_at: datetime | None = None
    shifted_after: float | None = None
    seconds: float = 0.0
    created_key: bool = False
    interrupted: bool = False
    moved: dict[str, tuple[float, float]] = field(default_factory=dict)

    def line(self) -> str:
        rate = self.requests / self.seconds if self.seconds else 0.0
        shifted = "not shifted"
        if self.shifted_after is not None:
            shifted = f"shifted at {self.shifted_after:.0f} s ({self.rows_shifted:,} rows since)"
        refused = f" ({self.labels_refused:,} refused)" if self.labels_refused else ""
        return (
            f"sent {self.requests:,} requests ({self.rows:,} rows, {rate:.1f}/s), {self.errors:,} errors, "
            f"{self.labelled:,} labelled{refused}, {shifted}"
        )


class _Simulation:
    def __init__(
        self,
        options: Options,
        api: Api,
        model: ServedModel,
        rows: Rows,
        write: Callable[[str], None],
        stop: threading.Event | None = None,
    ) -> None:
        self.options = options
        self.stop = stop or threading.Event()
        self.api = api
        self.rows = rows
        self.write = write
        self.version = model.version
        self.followed_at = -math.inf
        seeds = np.random.SeedSequence(options.seed).spawn(2)
        self.row_rng = np.random.default_rng(seeds[0])
        self.label_rng = np.random.default_rng(seeds[1])
        self.report = Report(
            url=api.url, dataset=rows.dataset, model=f"{model.name} v{model.version}", shift=rows.description
        )
        self.report.moved = rows.moved
        # (answered at, prediction id, label), oldest first.
        self.pending: deque[tuple[float, str, str]] = deque()
        self.shifted = False
        self.started = time.monotonic()
        self.last_answer = self.started
        self.said: set[str] = set()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def say_once(self, kind: str, line: str) -> None:
        if kind not in self.said:
            self.said.add(kind)
            self.write(line)

    def due_to_shift(self) -> bool:
        options = self.options
        if options.shift_after_requests is not None:
            return self.report.requests >= options.shift_after_requests
        return options.shift_after is not None and self.elapsed() >= options.shift_after

    def run(self) -> Report:
        options = self.options
        interval = 1.0 / options.rate
        next_send = self.started
        next_status = self.started + options.status_every
        next_feedback = self.started + FEEDBACK_EVERY
        try:
            while not self.stop.is_set() and (options.duration is None or self.elapsed() < options.duration):
                now = time.monotonic()
                if now < next_send:
                    time.sleep(min(next_send - now, 0.25))
                    continue
                # Behind (a slow answer): carry on from now rather than sending a burst to catch up.
                next_send = max(next_send + interval, now - 1.0)
                if not self.shifted and self.due_to_shift():
                    self.shifted = True
                    self.report.shifted_at = datetime.now(UTC)
                    self.report.shifted_after = self.elapsed()
                    self.write(f"from now on: {self.rows.description}")
                self.send()
                now = time.monotonic()
                if now >= next_feedback:
                    self.post_labels(older_than=now - FEEDBACK_DELAY)
                    next_feedback = now + FEEDBACK_EVERY
                if now >= next_status:
                    self.status()
                    next_status = now + options.status_every
        except KeyboardInterrupt:
            self.stop.set()
        if self.stop.is_set():
            self.report.interrupted = True
            self.write("stopping: posting the labels still waiting (Ctrl-C again to quit now)")
        self.report.seconds = self.elapsed()
        self.finish_labels()
        return self.report

    def status(self) -> None:
        self.report.seconds = self.elapsed()
        if self.shifted:
            state = ""
        elif self.options.shift_after_requests is not None:
            state = f", shift after {self.options.shift_after_requests:,} requests"
        elif self.options.shift_after is not None:
            state = f", shift in {max(self.options.shift_after - self.elapsed(), 0):.0f} s"
        else:
            state = ""
        self.write(f"{self.elapsed():6.0f}s  {self.report.line()}{state}")

    def send(self) -> None:
        count = self.options.rows_per_request
        records, labels = self.rows.draw(self.row_rng, count, self.shifted)
        labelled = self.label_rng.random(count) < self.options.label_share
        try:
            response = self.api.post("/api/v1/predict", {"instances": records})
        except (requests.ConnectionError, requests.Timeout) as exc:
            self.failed(_reason(exc))
            return
        self.report.requests += 1
        if response.status_code == 200:
            self.answered(response, labels, labelled)
        elif response.status_code == 429:
            self.report.errors += 1
            self.last_answer = time.monotonic()
            self.say_once("429", f"rate limited (HTTP 429): {_body_of(response)}; slowing down")
            time.sleep(min(float(response.headers.get("Retry-After") or 1), 5.0))
        elif 400 <= response.status_code < 500:
            raise TrafficError(
                f"POST {self.api.url}/api/v1/predict answered HTTP {response.status_code}: {_body_of(response)}"
            )
        else:
            self.report.errors += 1
            self.last_answer = time.monotonic()
            self.say_once(str(response.status_code), f"HTTP {response.status_code} from the API: {_body_of(response)}")

    def answered(self, response: requests.Response, labels: list[str], labelled: np.ndarray) -> None:
        now = time.monotonic()
        self.last_answer = now
        self.said.discard("unreachable")
        ids = response.json()["prediction_ids"]
        self.report.rows += len(ids)
        if self.shifted:
            self.report.rows_shifted += len(ids)
        self.pending.extend((now, pid, label) for pid, label, keep in zip(ids, labels, labelled, strict=True) if keep)
        if len(self.pending) >= FEEDBACK_MAX_ITEMS:
            self.post_labels(older_than=now - FEEDBACK_DELAY)
        version = response.headers.get("X-Model-Version")
        if version and version != self.version and now - self.followed_at >= FOLLOW_EVERY:
            self.follow()

    def follow(self) -> None:
        """Another version answers: draw rows from the batch it was trained on from now on (the
        shift, if it has begun, goes on)."""
        self.followed_at = time.monotonic()
        try:
            model = served_model(self.api)
            rows = build_rows(self.options.dataset or pick_dataset(model.columns), model, self.options.seed)
        except TrafficError as exc:
            self.write(f"another model version answers; the rows stay as they were ({exc})")
            return
        self.version = model.version
        self.rows = rows
        self.report.model = f"{model.name} v{model.version}"
        self.report.shift, self.report.moved = rows.description, rows.moved
        self.write(f"{model.name} v{model.version} is served now: rows from {rows.source}")

    def failed(self, reason: str) -> None:
        """A prediction request got no answer: tried again until nothing answered for GIVE_UP_AFTER."""
        self.report.errors += 1
        silent = time.monotonic() - self.last_answer
        if silent >= GIVE_UP_AFTER:
            raise TrafficError(
                f"nothing answers at {self.api.url} any more ({reason}, for {silent:.0f} s): is make run still running?"
            )
        self.say_once("unreachable", f"no answer from {self.api.url} ({reason}): trying for {GIVE_UP_AFTER:.0f} s")

    def post_labels(self, older_than: float) -> None:
        items = []
        while self.pending and self.pending[0][0] <= older_than:
            _, pid, label = self.pending.popleft()
            items.append({"prediction_id": pid, "label": label})
        for start in range(0, len(items), FEEDBACK_MAX_ITEMS):
            self.post_feedback(items[start : start + FEEDBACK_MAX_ITEMS])

    def post_feedback(self, items: list[dict[str, str]]) -> None:
        """Post one batch; items the log has not written yet wait for the next batch, items it
        will never have (sampled out, unknown) are counted as refused and the rest sent again."""
        while items:
            try:
                response = self.api.post("/api/v1/feedback", {"feedback": items})
            except (requests.ConnectionError, requests.Timeout) as exc:
                self.report.errors += 1
                self.say_once(
                    "feedback unreachable", f"feedback not answered ({_reason(exc)}): kept for the next batch"
                )
                self.requeue(items)
                return
            if response.status_code == 200:
                self.report.labelled += int(response.json().get("recorded", len(items)))
                return
            errors = self.item_errors(response)
            if errors is None:
                if response.status_code < 500 and response.status_code != 429:
                    status = response.status_code
                    raise TrafficError(
                        f"POST {self.api.url}/api/v1/feedback answered HTTP {status}: {_body_of(response)}"
                    )
                self.report.errors += 1
                self.say_once(
                    f"feedback {response.status_code}", f"feedback: HTTP {response.status_code}: {_body_of(response)}"
                )
                self.requeue(items)
                return
            later = [items[i] for i, message in errors.items() if _NOT_WRITTEN_YET in message]
            refused = [i for i, message in errors.items() if _NOT_WRITTEN_YET not in message]
            if refused:
                self.report.labels_refused += len(refused)
                self.say_once("feedback refused", f"feedback refused for some predictions: {errors[refused[0]]}")
            self.requeue(later)
            items = [item for i, item in enumerate(items) if i not in errors]

    @staticmethod
    def item_errors(response: requests.Response) -> dict[int, str] | None:
        """{position: message} of a 400 that names its bad items; None for any other answer."""
        if response.status_code != 400:
            return None
        try:
            errors = response.json().get("errors") or []
            return {int(e["item"]): str(e["message"]) for e in errors} or None
        except (ValueError, KeyError, TypeError, AttributeError):
            return None

    def requeue(self, items: list[dict[str, str]]) -> None:
        now = time.monotonic()
        self.pending.extend((now, item["prediction_id"], item["label"]) for item in items)

    def finish_labels(self) -> None:
        """Post every label still waiting; those the log has not written yet are tried for a few seconds."""
        deadline = time.monotonic() + FINAL_FEEDBACK_WAIT
        while self.pending:
            wait = self.pending[-1][0] + FEEDBACK_DELAY - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                self.post_labels(older_than=time.monotonic())
            except TrafficError as exc:
                self.write(str(exc))
                break
            if not self.pending or time.monotonic() >= deadline:
                break
            time.sleep(0.5)
        self.report.labels_pending = len(self.pending)


def run(options: Options, write: Callable[[str], None] = print, stop: threading.Event | None = None) -> Report:
    """Send the traffic until `options.duration` is over, Ctrl-C or `stop` is set; returns what it did.

    Raises TrafficError when the app cannot be reached, serves no model, or refuses a request
    with a 4xx (other than a rate limit), with the answer's body.
    """
    options.check()
    api = Api(check_url(options.url), options.api_key)
    key_pk = None
    try:
        try:
            model = served_model(api)
        except KeyRequired:
            if options.api_key:
                raise
            key_pk, api.key = create_api_key(options.rate * 60 * (1 + 1 / FEEDBACK_EVERY))
            write(
                f"the app requires an API key: created one named {KEY_NAME!r} in this database "
                "(deleted when the traffic stops)"
            )
            model = _served_with_created_key(api)
        if not model.columns:
            raise TrafficError(f"the model served at {api.url} (v{model.version}) has no input schema to send rows for")
        if options.rows_per_request > model.max_rows:
            raise TrafficError(
                f"--rows-per-request {options.rows_per_request} is more than the app takes ({model.max_rows})"
            )
        dataset = options.dataset or pick_dataset(model.columns)
        rows = build_rows(dataset, model, options.seed)
        simulation = _Simulation(options, api, model, rows, write, stop)
        simulation.report.created_key = key_pk is not None
        write(_plan(options, simulation.report, rows))
        report = simulation.run()
        write(f"stopped after {report.seconds:.0f} s: {report.line()}{_left(report)}")
        return report
    finally:
        api.close()
        if key_pk is not None:
            delete_api_key(key_pk)


def _served_with_created_key(api: Api) -> ServedModel:
    try:
        return served_model(api)
    except KeyRequired as exc:
        raise TrafficError(
            f"{exc}. The key was created in the database this command uses ({settings.DATABASES['default']['NAME']}): "
            "run it with the app's DATABASE_URL, or give a key with --api-key"
        ) from None


def _plan(options: Options, report: Report, rows: Rows) -> str:
    if options.shift_after_requests is not None:
        shift = f"shift after {options.shift_after_requests:,} requests"
    elif options.shift_after is not None:
        shift = f"shift after {options.shift_after:g} s"
    else:
        shift = "no shift"
    until = f"for {options.duration:g} s" if options.duration else "until Ctrl-C"
    size = "1 row" if options.rows_per_request == 1 else f"{options.rows_per_request} rows"
    return (
        f"sending {report.dataset} demo rows to {report.url} ({report.model}, {len(rows.columns)} columns) "
        f"from {rows.source}: {options.rate:g} requests/s of {size}, labels for {options.label_share:.0%}, "
        f"{shift} (seed {options.seed}), {until}"
    )


def _left(report: Report) -> str:
    if not report.labels_pending:
        return ""
    return f"; {report.labels_pending:,} labels not posted (their predictions are not in the log)"
