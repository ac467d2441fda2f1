"""The recorder: the one writer of a run's row while it is worked on."""

from dataclasses import replace

import pytest

from retraining.data import DatasetVersion
from retraining.models import RetrainingRun
from retraining.pipeline.state import RunState
from retraining.runs import store
from retraining.runs.recorder import Recorder

Status = RetrainingRun.Status
VERSION = DatasetVersion(source="/registry", path="data.csv", rev="a" * 40, md5="b" * 32, size=10)


@pytest.fixture
def recorder(db) -> Recorder:
    run, _ = store.start_run(RetrainingRun.Trigger.API)
    claimed = Recorder.claim(run.pk)
    assert claimed is not None
    return claimed


def row(recorder: Recorder) -> RetrainingRun:
    return RetrainingRun.objects.get(pk=recorder.run.pk)


def test_a_run_that_is_not_queued_is_not_claimed_twice(recorder):
    assert Recorder.claim(recorder.run.pk) is None
    assert row(recorder).status == Status.RUNNING


def test_the_starting_state_is_what_the_run_was_asked_to_do(recorder):
    state = RunState.of(recorder.run)

    assert (state.run_id, state.trigger, state.estimator) == (recorder.run.pk, "api", "random_forest")
    assert state.policy["primary_metric"] == "accuracy"
    assert state.status == ""


def test_a_step_is_on_the_row_while_it_runs_and_its_findings_after(recorder):
    seen_while_running = {}

    def check(state: RunState) -> RunState:
        current = row(recorder)
        seen_while_running.update(step=current.step, steps=current.steps)
        return replace(state, dataset=VERSION, note="new data")

    recorder.step("check", check, RunState.of(recorder.run))

    assert seen_while_running["step"] == "check"
    assert seen_while_running["steps"][0]["status"] == "running"
    current = row(recorder)
    assert current.dataset == VERSION.as_dict()
    [step] = current.steps
    assert (step["name"], step["status"], step["detail"]) == ("check", "done", "new data")
    assert step["duration"] >= 0


def test_a_failing_step_is_recorded_with_its_error_and_the_error_raised(recorder):
    def pull(state: RunState) -> RunState:
        raise ValueError("the remote is gone")

    with pytest.raises(ValueError, match="the remote is gone"):
        recorder.step("pull", pull, RunState.of(recorder.run))

    [step] = row(recorder).steps
    assert (step["status"], step["detail"]) == ("failed", "ValueError: the remote is gone")


def test_the_step_that_ends_the_run_is_stopped_and_the_ones_after_it_are_done(recorder):
    rejected = recorder.step(
        "validate",
        lambda state: replace(state, status=Status.REJECTED, reasons=["no target"]),
        RunState.of(recorder.run),
    )
    recorder.finish(rejected)
    recorder.step("notify", lambda state: replace(state, note="email sent"), rejected)

    current = row(recorder)
    assert [(s["name"], s["status"], s["detail"]) for s in current.steps] == [
        ("validate", "stopped", "no target"),
        ("notify", "done", "email sent"),
    ]
    assert (current.status, current.reasons, current.step, current.finished) == (
        Status.REJECTED,
        ["no target"],
        "",
        True,
    )


def test_a_run_stopped_by_a_signal_says_so_in_a_field(recorder):
    recorder.finish(RunState.of(recorder.run), "WorkerStopped: the worker was stopped (SIGTERM)", "SIGTERM")

    current = row(recorder)
    assert (current.status, current.stopped_by_signal) == (Status.FAILED, "SIGTERM")


def test_a_requeued_run_waits_in_the_queue_with_its_steps_kept(recorder):
    def pull(state: RunState) -> RunState:
        raise ConnectionError("refused")

    with pytest.raises(ConnectionError):
        recorder.step("pull", pull, RunState.of(recorder.run))

    recorder.requeue("the data remote unreachable, attempt 2 of 5, next in 30 s", "ConnectionError: refused")

    current = row(recorder)
    assert current.status == Status.QUEUED
    assert current.error == ""
    assert current.waiting == "the data remote unreachable, attempt 2 of 5, next in 30 s"
    assert [(s["name"], s["status"], s["detail"]) for s in current.steps] == [("pull", "waiting", current.waiting)]
    assert [(a["attempt"], a["outcome"], a["error"]) for a in current.attempts] == [
        (1, "transient fault", "ConnectionError: refused")
    ]


def test_the_process_knows_the_run_and_step_it_works_on_only_while_working(recorder):
    assert Recorder.current() is None
    with recorder.working():
        assert Recorder.current() is recorder
        assert recorder.position() is None
        recorder.step("check", lambda state: state, RunState.of(recorder.run))
        assert recorder.position() == (recorder.run.pk, "check", "done")
    assert Recorder.current() is None
