"""Signals other apps may listen to without predictor knowing them (predictor never imports
retraining; the pipeline connects its notification channels to these)."""

from django.dispatch import Signal

# Sent after a failing deployment was replaced automatically by the one before it.
# Arguments: deployment (the new auto-rollback row), failed (the deployment that failed), reason.
deployment_rolled_back = Signal()
