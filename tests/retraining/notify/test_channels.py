"""Notifications: Slack against local HTTP servers, email through Django's outbox; failures never fail a run."""

import socket
from collections.abc import Iterator

import pytest
from django.core import mail

from retraining.models import RetrainingRun
from retraining.notify import channels
from tests.support import evidence
from tests.support.pipeline import publish_batch, run_pipeline
from tests.support.standins import serve_slack


@pytest.fixture
def slack_ok() -> Iterator[tuple[str, list[dict]]]:
    yield from serve_slack(200)


@pytest.fixture
def slack_500() -> Iterator[tuple[str, list[dict]]]:
    yield from serve_slack(500)


@pytest.fixture
def slack_refusing() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks/T000"


@pytest.fixture
def decided_run(db) -> RetrainingRun:
    return RetrainingRun.objects.create(
        trigger="schedule",
        status="deployed",
        active=None,
        decision_rule="min_improvement",
        reasons=["accuracy: challenger 0.9800 vs champion 0.9500 (+0.0300), strictly better: passed"],
        challenger_metrics={"accuracy": 0.98, "f1": 0.97},
        champion_metrics={"accuracy": 0.95, "f1": 0.94},
        dataset={"path": "data/penguins.csv", "rev": "a" * 40, "md5": "0123abcd"},
    )


@pytest.fixture
def email_to_team(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.NOTIFY_EMAILS = ["team@example.com", "ml@example.com"]


def test_it_posts_the_decision_and_both_models_metrics_to_slack(decided_run, slack_ok, settings):
    settings.SLACK_WEBHOOK_URL, received = slack_ok

    outcome = channels.notify(decided_run)

    assert outcome == {"slack": "sent"}
    text = received[0]["text"]
    assert "run #" in text
    assert "Deployed" in text
    assert "strictly better: passed" in text
    assert "accuracy          0.9800      0.9500" in text
    assert f"/panel/runs/{decided_run.pk}/" in text


def test_a_message_quoting_a_url_reaches_no_channel_with_its_credentials(slack_ok, email_to_team, settings):
    settings.SLACK_WEBHOOK_URL, received = slack_ok

    channels.send(
        "[retraining] https://u:tok3n@git.example", "fatal: could not read from https://u:tok3n@git.example/r.git"
    )

    assert received[0]["text"] == "fatal: could not read from https://***@git.example/r.git"
    assert (mail.outbox[0].subject, mail.outbox[0].body) == (
        "[retraining] https://***@git.example",
        "fatal: could not read from https://***@git.example/r.git",
    )


def test_it_says_what_the_holdout_could_tell(decided_run, slack_ok, settings):
    settings.SLACK_WEBHOOK_URL, received = slack_ok
    decided_run.comparison, decided_run.holdout_exclusion = evidence.COMPARISON, evidence.EXCLUSION

    channels.notify(decided_run)

    for said in evidence.SAID:
        assert said in received[0]["text"], said


def test_it_records_a_slack_endpoint_answering_500(decided_run, slack_500, settings):
    settings.SLACK_WEBHOOK_URL, received = slack_500

    outcome = channels.notify(decided_run)

    assert len(received) == 1
    assert outcome["slack"].startswith("failed:")
    assert "500" in outcome["slack"]


def test_it_records_a_slack_endpoint_refusing_connections(decided_run, slack_refusing, settings):
    settings.SLACK_WEBHOOK_URL = slack_refusing

    outcome = channels.notify(decided_run)

    assert outcome["slack"].startswith("failed:")
    assert "refused" in outcome["slack"].lower()


def test_it_emails_the_recipients_from_settings(decided_run, email_to_team, settings):
    settings.SLACK_WEBHOOK_URL = ""

    outcome = channels.notify(decided_run)

    assert outcome == {"email": "sent"}
    assert mail.outbox[0].to == ["team@example.com", "ml@example.com"]
    assert mail.outbox[0].subject == f"[retraining] run #{decided_run.pk}: Deployed"
    assert "0.9800" in mail.outbox[0].body


def test_it_sends_nothing_when_no_channel_is_configured(decided_run, settings):
    settings.SLACK_WEBHOOK_URL = ""
    settings.NOTIFY_EMAILS = []

    assert channels.notify(decided_run) == {}


@pytest.mark.slow
def test_a_run_succeeds_and_records_the_failure_when_slack_is_down(weak_champion, slack_500, email_to_team, settings):
    settings.SLACK_WEBHOOK_URL, _ = slack_500
    publish_batch(2)

    run = run_pipeline()

    assert run.status == RetrainingRun.Status.DEPLOYED
    assert run.notifications["slack"].startswith("failed:")
    assert run.notifications["email"] == "sent"
    assert run.steps[-1]["name"] == "notify"
    assert run.steps[-1]["status"] == "done"
    assert "Deployed" in mail.outbox[-1].subject
    assert f"Challenger v{run.model_version} against champion v{run.champion_version}" in mail.outbox[-1].body
