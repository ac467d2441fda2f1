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


def announce_log_sampling(sender: Any, share: float, rows: int, budget: int, **kwargs: Any) -> dict:
    from retraining.notify.channels import send

    subject = f"[serving] the prediction log is full: keeping {share:.2%} of new predictions"
    body = "\n".join(
        [
            subject,
            "",
            f"The log holds {rows:,} rows of its budget of {budget:,} (PREDICTION_LOG_MAX_ROWS): the oldest are",
            "deleted and new predictions are sampled down, so live metrics and drift see fewer of them.",
            "Counts on the Monitoring page are of logged predictions; divide by the share in force to",
            "estimate what was served. Raise PREDICTION_LOG_MAX_ROWS (and the database plan) to keep more.",
        ]
    )
    return send(subject, body)
