"""Staff hear about what the serving side did on its own, through the pipeline's channels.

predictor never imports retraining, so it announces an automatic rollback with a signal and
this module (connected in RetrainingConfig.ready) sends it to Slack and email.
"""

from typing import Any

from django.conf import settings
from django.core.mail import send_mail

from predictor.models import Deployment
from retraining.notify import _attempt, _post_slack


def announce_rollback(sender: Any, deployment: Deployment, failed: Deployment, reason: str, **kwargs: Any) -> dict:
    subject = f"[serving] version {failed.version} rolled back automatically to {deployment.version}"
    body = "\n".join(
        [
            subject,
            "",
            f"Reason: {deployment.reason}",
            f"Failed deployment #{failed.pk} ({failed.source}, {failed.created_at:%Y-%m-%d %H:%M:%S} UTC)",
            f"Now serving version {deployment.version} (deployment #{deployment.pk}, auto-rollback)",
        ]
    )
    outcome: dict[str, str] = {}
    if settings.SLACK_WEBHOOK_URL:
        outcome["slack"] = _attempt(lambda: _post_slack(body))
    if settings.NOTIFY_EMAILS:
        outcome["email"] = _attempt(
            lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, settings.NOTIFY_EMAILS)
        )
    return outcome
