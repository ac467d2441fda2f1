"""`manage.py retrain`: one progress line per step, and an exit status a script can trust."""

import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from demo import batches
from retraining.models import RetrainingRun
from retraining.runs import store
from tests.support.pipeline import publish_batch, publish_frame
from tests.support.processes import subprocess_env

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def retrain() -> list[str]:
    out = StringIO()
    call_command("retrain", stdout=out)
    return out.getvalue().splitlines()


def test_it_prints_a_line_per_step_and_succeeds_when_a_challenger_is_deployed(weak_champion):
    publish_batch(2)

    lines = retrain()

    steps = [line.split()[2] for line in lines if line.startswith("[")]
    assert steps == ["check", "pull", "validate", "train", "compare", "deploy", "notify"]
    assert lines[0].startswith("run #")
    assert any(line.endswith("finished: deployed") for line in lines)


def test_it_succeeds_when_there_is_no_new_data(good_champion):
    lines = retrain()

    assert any("no new data" in line for line in lines)
    assert any("finished: skipped" in line for line in lines)


def test_it_fails_with_the_reasons_when_the_data_is_rejected(good_champion):
    publish_frame(batches.demo_frame(2).drop(columns=["species"]))

    with pytest.raises(CommandError, match="rejected: the target column 'species' is missing"):
        retrain()


def test_a_second_invocation_names_the_run_in_progress_and_exits_non_zero(transactional_db):
    running, _ = store.start_run(RetrainingRun.Trigger.API)
    store.claim(running.pk)

    proc = subprocess.run(
        [sys.executable, "manage.py", "retrain"],
        cwd=ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert proc.returncode == 1
    assert f"run #{running.pk} is already running (started by api)" in proc.stderr
    assert RetrainingRun.objects.count() == 1


def test_an_interrupted_run_is_closed_at_once_naming_the_step(db, monkeypatch):
    def interrupted(run_id, **options):
        store.claim(run_id)
        RetrainingRun.objects.filter(pk=run_id).update(step="train")
        raise KeyboardInterrupt

    monkeypatch.setattr("retraining.pipeline.flow.execute", interrupted)

    with pytest.raises(CommandError, match="interrupted during step 'train'"):
        retrain()

    run = RetrainingRun.objects.get()
    assert run.status == RetrainingRun.Status.FAILED
    assert store.active_run() is None
