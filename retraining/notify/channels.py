"""Tell the team what a run decided: Slack incoming webhook and email, each optional.

A failed notification is recorded on the run and never fails it.
"""

import json
import logging
import urllib.request
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse

from ml.gate import words
from ml.redact import redact
from retraining.models import RetrainingRun
from retraining.runs import wording

logger = logging.getLogger(__name__)


def summary(run: RetrainingRun) -> tuple[str, str]:
    """(subject, body) in plain text: the decision and both models' metrics side by side."""
    subject = f"[retraining] run #{run.pk}: {run.get_status_display()}"
    lines = [subject, ""]
    if run.evidence:
        lines += [f"Started by the {run.trigger} trigger: {run.evidence.get('summary', '')}"]
        drifted = (run.evidence.get("drift") or {}).get("drifted") or {}
        lines += [
            f"  - {name}: PSI {score.get('psi') or 0:.3f}, p {score.get('p_value') or 0:.2g}"
            for name, score in drifted.items()
        ]
        quality = run.evidence.get("degradation")
        if quality:
            lines.append(f"  - {quality['summary']}")
        lines.append("")
    if run.reasons:
        said = words.decision(run.decision_rule, run.status, run.comparison)
        lines += [f"Decision: {said}" if said else "Decision:", *[f"  - {r}" for r in run.reasons], ""]
    if run.error:
        lines += [f"Error: {run.error}", ""]
    holdout = wording.holdout_sentences(run)
    if holdout:
        lines += ["Holdout:", *[f"  - {sentence}" for sentence in holdout], ""]
    if run.challenger_metrics:
        champion = f"v{run.champion_version}" if run.champion_version else "none"
        lines.append(wording.positive_sentence(run))
        lines.append(f"Challenger v{run.model_version or '?'} against champion {champion}:")
        lines.append(f"{'metric':<12}{'challenger':>12}{'champion':>12}")
        for name, value in run.challenger_metrics.items():
            old = run.champion_metrics.get(name)
            shown = f"{old:.4f}" if isinstance(old, int | float) else "-"
            lines.append(f"{name:<12}{value:>12.4f}{shown:>12}")
        lines.append("")
    if run.dataset:
        lines.append(
            f"Data: {run.dataset.get('path')} @ {str(run.dataset.get('rev', ''))[:10]} md5 {run.dataset.get('md5')}"
        )
    lines.append(f"Run: {run_link(run)}")
    return subject, "\n".join(lines)


def run_link(run: RetrainingRun) -> str:
    """The run's page in the panel: the one place that shows everything the run recorded."""
    return settings.PUBLIC_URL + reverse("panel-run", args=[run.pk])


def notify(run: RetrainingRun) -> dict[str, Any]:
    """Each configured channel's outcome ("sent" or "failed: why"), to be stored on the run."""
    return send(*summary(run))


def send(subject: str, body: str) -> dict[str, Any]:
    """Send one message to every configured channel; a failure is reported, never raised."""
    # Messages quote errors of git, DVC and MLflow, which quote URLs with their credentials.
    subject, body = redact(subject), redact(body)
    outcome: dict[str, Any] = {}
    if settings.SLACK_WEBHOOK_URL:
        outcome["slack"] = _attempt(lambda: _post_slack(body))
    if settings.NOTIFY_EMAILS:
        outcome["email"] = _attempt(
            lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, settings.NOTIFY_EMAILS)
        )
    return outcome


def _attempt(send: Any) -> str:
    try:
        send()
    except Exception as exc:
        logger.warning("notification failed: %s", exc)
        return redact(f"failed: {exc}")
    return "sent"


def _post_slack(text: str) -> None:
    request = urllib.request.Request(
        settings.SLACK_WEBHOOK_URL,
        data=json.dumps({"text": text}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        if response.status >= 300:
            raise OSError(f"Slack answered HTTP {response.status}")
