"""The retraining pipeline, read top to bottom like the DAG it replaces:

check for new data -> pull -> validate -> train the challenger -> compare with the champion on
the same holdout -> deploy, or keep (and roll back a regressed champion) -> notify.

`STEPS` is the whole pipeline: the panel shows it, a stopping worker reads which steps it may
interrupt, and `execute` runs it. A step is a function of the run's state and the resources that
returns the new state (retraining/pipeline/state.py). Adding a step is one function in
retraining/pipeline/steps.py (or a module of its own, as validation.py, training.py and compare.py) and one
entry in `STEPS`.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Protocol

from django.conf import settings
from django.utils import timezone

from retraining.models import RetrainingRun
from retraining.pipeline import steps
from retraining.pipeline.compare import compare
from retraining.pipeline.resources import Resources, real_resources, trace_in_mlflow, transient, unreachable
from retraining.pipeline.state import RunState
from retraining.pipeline.training import train_challenger
from retraining.pipeline.validation import validate_data
from retraining.runs.recorder import Progress, Recorder, RunCancelled
from retraining.runs.retries import Attempt
from retraining.runs.shutdown import WorkerStopped

logger = logging.getLogger(__name__)
Status = RetrainingRun.Status


def _worth_telling(state: RunState) -> bool:
    # A skipped run is news only when monitoring started it: the team must publish data.
    return state.status != Status.SKIPPED or bool(state.evidence)


@dataclass(frozen=True)
class Step:
    name: str
    function: Callable[[RunState, Resources], RunState]
    # Whether a stopping worker may abandon the run here: nothing outside the run has changed yet.
    interruptible: bool = False
    when: Callable[[RunState], bool] = lambda state: True
    # Runs once the run is closed (its outcome is final), whatever ended it.
    after_close: bool = False


STEPS = (
    Step("check", steps.check, interruptible=True),
    Step("pull", steps.pull, interruptible=True),
    Step("validate", validate_data, interruptible=True),
    Step("train", train_challenger, interruptible=True),
    Step("compare", compare, interruptible=True),
    Step("deploy", steps.deploy, when=lambda state: state.verdict.decision.deploy),
    Step("keep", steps.keep, when=lambda state: not state.verdict.decision.deploy),
    Step("rollback", steps.rollback, when=lambda state: state.verdict.rollback is not None),
    Step("notify", steps.notify, when=_worth_telling, after_close=True),
)
STEP_NAMES = tuple(step.name for step in STEPS)


def interruptible() -> frozenset[str]:
    """The steps a stopping worker may abandon (retraining/runs/shutdown.py asks the recorder)."""
    return frozenset(step.name for step in STEPS if step.interruptible)


def execute(
    run_id: int,
    progress: Progress | None = None,
    resources: Resources | None = None,
    attempt: Attempt | None = None,
    worker: str = "",
) -> RetrainingRun:
    """Run a queued run to the end. A run that is not queued is left alone (redelivery).

    Given an `attempt` that is not the last (retraining/runs/retries.py), a transient fault (MLflow or
    the data remote unreachable) puts the run back in the queue, saying what it waits for; the
    caller schedules the next attempt. On the last one it fails, saying it gave up. `worker`
    names the Celery worker running it, recorded as the run's owner.
    """
    recorder = Recorder.claim(run_id, progress, worker, interruptible=interruptible())
    if recorder is None:
        return RetrainingRun.objects.get(pk=run_id)
    with recorder.keeping_log():
        resources = resources or real_resources()
        state = RunState.of(recorder.run)
        with recorder.working():
            try:
                state = run(state, resources, recorder, after_close=False)
                recorder.finish(state)
            except RunCancelled:
                state = _cancel(state, recorder)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                if recorder.cancel_requested():  # whatever else stopped it, nobody wants it any more
                    logger.warning("run #%s was cancelled and then ended by %s", run_id, error)
                    state = _cancel(state, recorder)
                elif attempt is not None and transient(exc) and attempt.delay is not None:
                    at = timezone.localtime() + timedelta(seconds=attempt.delay)
                    waiting = (
                        f"{unreachable(exc)}, attempt {attempt.number + 1} of {attempt.total}, "
                        f"next in {attempt.delay} s (at {at:%H:%M:%S %Z})"
                    )
                    logger.warning("run #%s: %s (%s)", run_id, waiting, error)
                    if recorder.requeue(waiting, error):
                        return recorder.row()
                    state = _cancel(state, recorder)  # cancelled meanwhile: never queued again
                else:
                    _fail(state, recorder, exc, error, attempt)
                    state = replace(state, status=Status.FAILED)
        trace_in_mlflow(recorder.row(), resources.models)
        run(state, resources, recorder, after_close=True)
        recorder.say(f"run #{run_id} finished: {state.status}")
        return recorder.row()


def _cancel(state: RunState, recorder: Recorder) -> RunState:
    state = replace(state, status=Status.CANCELLED, reasons=[recorder.cancelled()])
    recorder.finish(state)
    return state


def _fail(state: RunState, recorder: Recorder, exc: Exception, error: str, attempt: Attempt | None) -> None:
    if attempt is not None and transient(exc):  # the last attempt
        limit = f"RUN_RETRY_MAX_WAIT={settings.RUN_RETRY_MAX_WAIT} s"
        error = f"{unreachable(exc)}: gave up after {attempt.total} attempts ({limit}); last error: {error}"
    logger.exception("run #%s failed", state.run_id)
    state = replace(state, status=Status.FAILED)
    recorder.finish(state, error, exc.signal_name if isinstance(exc, WorkerStopped) else "")


class StepRecorder(Protocol):
    def step(self, name: str, work: Callable[[RunState], RunState], state: RunState) -> RunState: ...


def run(state: RunState, resources: Resources, recorder: StepRecorder, *, after_close: bool) -> RunState:
    """The steps of one phase in order (before or after the run is closed), until one ends the run."""
    for step in STEPS:
        if step.after_close != after_close or not step.when(state):
            continue
        fresh = replace(state, note="")
        state = recorder.step(step.name, lambda current, step=step: step.function(current, resources), fresh)
        if state.ended_early and not after_close:
            break
    return state
