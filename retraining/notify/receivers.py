"""Staff hear about what the serving side did on its own, through the pipeline's channels.

predictor never imports retraining, so it announces an automatic rollback with a signal and
this module (connected in RetrainingConfig.ready) sends it to Slack and email.
"""

from typing import Any

from predictor.models import Deployment


def announce_rollback(sender: Any, deployment: Deployment, failed: Deployment, reason: str, **kwargs: Any) -> dict:
    # Imported when a rollback is announced, not when Django starts: the notifications import the
    # significance tests (scipy.stats, scikit-learn), a noticeable part of every manage.py command's
    # start (docs/benchmarks.md).
    from retraining.notify.channels import send

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
    return send(subject, body)
