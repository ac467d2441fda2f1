"""The traffic itself: requests paced at the asked rate, the shift when it is due, a new champion
followed, trouble said once, and the labels posted on the way and at the end."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
import requests
from django.conf import settings

from demo.traffic.base import KeyRequired, ServedModel, TrafficError
from demo.traffic.client import Api, body_of, check_url, served_model, why_unanswered
from demo.traffic.feedback import FEEDBACK_DELAY, FEEDBACK_EVERY, Feedback
from demo.traffic.keys import KEY_NAME, create_api_key, delete_api_key
from demo.traffic.options import Options
from demo.traffic.report import Report, left, plan
from demo.traffic.rows import Rows, build_rows, pick_dataset

# Nothing answered for this long while sending: the app is gone, the traffic stops.
GIVE_UP_AFTER = 30.0
# When another model version answers, the served model is read again at most this often (while
# a deployment reaches every serving process, answers come from both versions for a moment).
FOLLOW_EVERY = 5.0


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
        self.shifted = False
        self.started = time.monotonic()
        self.last_answer = self.started
        self.said: set[str] = set()
        self.feedback = Feedback(api, self.report, write, self.say_once)

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
                    self.feedback.post(older_than=now - FEEDBACK_DELAY)
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
        self.feedback.finish()
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
            self.failed(why_unanswered(exc))
            return
        self.report.requests += 1
        if response.status_code == 200:
            self.answered(response, labels, labelled)
        elif response.status_code == 429:
            self.report.errors += 1
            self.last_answer = time.monotonic()
            self.say_once("429", f"rate limited (HTTP 429): {body_of(response)}; slowing down")
            time.sleep(min(float(response.headers.get("Retry-After") or 1), 5.0))
        elif 400 <= response.status_code < 500:
            raise TrafficError(
                f"POST {self.api.url}/api/v1/predict answered HTTP {response.status_code}: {body_of(response)}"
            )
        else:
            self.report.errors += 1
            self.last_answer = time.monotonic()
            self.say_once(str(response.status_code), f"HTTP {response.status_code} from the API: {body_of(response)}")

    def answered(self, response: requests.Response, labels: list[str], labelled: np.ndarray) -> None:
        now = time.monotonic()
        self.last_answer = now
        self.said.discard("unreachable")
        ids = response.json()["prediction_ids"]
        self.report.rows += len(ids)
        if self.shifted:
            self.report.rows_shifted += len(ids)
        self.feedback.add(now, ids, labels, labelled)
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


def run(options: Options, write: Callable[[str], None] = print, stop: threading.Event | None = None) -> Report:
    """Send the traffic until `options.duration` is over, Ctrl-C or `stop` is set; returns what it did.

    Raises TrafficError when the app cannot be reached, serves no model, or refuses a request
    with a 4xx (other than a rate limit), with the answer's body.
    """
    options.check()
    api = Api(check_url(options.url), options.api_key)
    key_pk = None
    try:
        if not options.api_key and settings.FEEDBACK_REQUIRES_KEY:
            # Labels are taken with a key only (and only such labels can become data): one is needed
            # even while predictions are answered without.
            key_pk, api.key = _created_key(options, write, "the app's feedback requires an API key")
        try:
            model = served_model(api)
        except KeyRequired:
            if options.api_key or key_pk is not None:
                raise
            key_pk, api.key = _created_key(options, write, "the app requires an API key")
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
        write(plan(options, simulation.report, rows))
        report = simulation.run()
        write(f"stopped after {report.seconds:.0f} s: {report.line()}{left(report)}")
        return report
    finally:
        api.close()
        if key_pk is not None:
            delete_api_key(key_pk)


def _created_key(options: Options, write: Callable[[str], None], why: str) -> tuple[int, str]:
    created = create_api_key(options.rate * 60 * (1 + 1 / FEEDBACK_EVERY))
    write(f"{why}: created one named {KEY_NAME!r} in this database (deleted when the traffic stops)")
    return created


def _served_with_created_key(api: Api) -> ServedModel:
    try:
        return served_model(api)
    except KeyRequired as exc:
        raise TrafficError(
            f"{exc}. The key was created in the database this command uses ({settings.DATABASES['default']['NAME']}): "
            "run it with the app's DATABASE_URL, or give a key with --api-key"
        ) from None
