"""The true labels of a share of the predictions, posted to the feedback endpoint in batches, with
the ids the predictions were answered with, once the prediction log has written them."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence

import numpy as np
import requests

from demo.traffic.base import TrafficError
from demo.traffic.client import Api, body_of, why_unanswered
from demo.traffic.report import Report

# The feedback endpoint takes at most this many items per request (predictor.predlog.feedback.MAX_ITEMS).
FEEDBACK_MAX_ITEMS = 10_000
# Labels are posted in batches this often, for predictions answered at least FEEDBACK_DELAY ago:
# the log writes a prediction within a fraction of a second, after its answer.
FEEDBACK_EVERY = 2.0
FEEDBACK_DELAY = 1.0
# At the end, labels the log has not written yet are tried again for this long.
FINAL_FEEDBACK_WAIT = 10.0
# The feedback endpoint's answer for a prediction not written to the log yet ("send ... again shortly").
_NOT_WRITTEN_YET = "again shortly"


class Feedback:
    """The labels waiting to be posted; what happens to them is counted on the traffic's report.

    `say_once(kind, line)` is the traffic's: a kind of trouble is said once, whichever part meets it.
    """

    def __init__(
        self,
        api: Api,
        report: Report,
        write: Callable[[str], None],
        say_once: Callable[[str, str], None],
    ) -> None:
        self.api = api
        self.report = report
        self.write = write
        self.say_once = say_once
        # (answered at, prediction id, label), oldest first.
        self.pending: deque[tuple[float, str, str]] = deque()

    def add(self, answered_at: float, ids: Sequence[str], labels: Sequence[str], labelled: np.ndarray) -> None:
        """Keep the labels of the predictions drawn to be labelled; post at once when a batch is full."""
        self.pending.extend(
            (answered_at, pid, label) for pid, label, keep in zip(ids, labels, labelled, strict=True) if keep
        )
        if len(self.pending) >= FEEDBACK_MAX_ITEMS:
            self.post(older_than=answered_at - FEEDBACK_DELAY)

    def post(self, older_than: float) -> None:
        items = []
        while self.pending and self.pending[0][0] <= older_than:
            _, pid, label = self.pending.popleft()
            items.append({"prediction_id": pid, "label": label})
        for start in range(0, len(items), FEEDBACK_MAX_ITEMS):
            try:
                self.post_batch(items[start : start + FEEDBACK_MAX_ITEMS])
            except KeyboardInterrupt:
                # Ctrl-C while labels were on their way: the app may have recorded them or not, and
                # the answer that would have counted them is lost. They wait for the stop's last post,
                # which counts them once: the same label sent again by the same client changes nothing.
                waiting = {pid for _, pid, _ in self.pending}
                self.requeue([item for item in items[start:] if item["prediction_id"] not in waiting])
                raise

    def post_batch(self, items: list[dict[str, str]]) -> None:
        """Post one batch; items the log has not written yet wait for the next batch, items it
        will never have (sampled out, unknown) are counted as refused and the rest sent again."""
        while items:
            try:
                response = self.api.post("/api/v1/feedback", {"feedback": items})
            except (requests.ConnectionError, requests.Timeout) as exc:
                self.report.errors += 1
                self.say_once(
                    "feedback unreachable", f"feedback not answered ({why_unanswered(exc)}): kept for the next batch"
                )
                self.requeue(items)
                return
            if response.status_code in (200, 202):
                # 202: some labels are held until their predictions are written, and applied then.
                answer = response.json()
                self.report.labelled += int(answer.get("recorded", len(items))) + int(answer.get("held", 0))
                return
            errors = self.item_errors(response)
            if errors is None:
                if response.status_code < 500 and response.status_code != 429:
                    status = response.status_code
                    raise TrafficError(
                        f"POST {self.api.url}/api/v1/feedback answered HTTP {status}: {body_of(response)}"
                    )
                self.report.errors += 1
                self.say_once(
                    f"feedback {response.status_code}", f"feedback: HTTP {response.status_code}: {body_of(response)}"
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

    def finish(self) -> None:
        """Post every label still waiting; those the log has not written yet are tried for a few seconds."""
        deadline = time.monotonic() + FINAL_FEEDBACK_WAIT
        while self.pending:
            wait = self.pending[-1][0] + FEEDBACK_DELAY - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                self.post(older_than=time.monotonic())
            except TrafficError as exc:
                self.write(str(exc))
                break
            if not self.pending or time.monotonic() >= deadline:
                break
            time.sleep(0.5)
        self.report.labels_pending = len(self.pending)
