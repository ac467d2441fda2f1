"""Signals other apps may listen to without predictor knowing them (predictor never imports
retraining; the pipeline connects its notification channels to these)."""

from django.dispatch import Signal

# Sent after a failing deployment was replaced automatically by the one before it.
# Arguments: deployment (the new auto-rollback row), failed (the deployment that failed), reason.
deployment_rolled_back = Signal()

# Sent once when the prediction log's budget starts sampling new predictions down
# (predictor/predlog/budget.py). Arguments: share (kept from now on), rows (in the log), budget.
prediction_log_sampling = Signal()
