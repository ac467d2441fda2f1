"""A kept run's holdout as the compare step records it: 108 clean rows of 120, the champion had
trained on 12, and a gain below 4 points could not be detected."""

from retraining.models import RetrainingRun

COMPARISON = {
    "test": "bootstrap",
    "metric": "accuracy",
    "rows": 108,
    "disagreements": 5,
    "identical": False,
    "difference": 0.0185,
    "low": -0.0093,
    "high": 0.0463,
    "level": 0.005,
    "p_value": 0.375,
    "p_method": "paired randomization test",
    "detectable": 0.0412,
}
EXCLUSION = {
    "rows": 120,
    "clean": 108,
    "excluded": {"challenger v3": 0, "champion v2": 12},
    "reasons": ["champion v2 was trained on 12 of the 120 holdout rows: excluded"],
}
SAID = (
    "this holdout of 108 rows cannot detect a gain in accuracy below 4.1 points",
    "12 of the 120 holdout rows were excluded because a compared model trained on them",
    "champion v2: 12",
    "interval [-0.9, +4.6], p-value 0.3750",
)


def kept_run() -> RetrainingRun:
    """A finished scheduled run that kept the champion, with this holdout on its record."""
    return RetrainingRun.objects.create(
        trigger="schedule",
        status="kept",
        active=None,
        steps=[{"name": "check", "status": "done", "duration": 0.1}],
        challenger_metrics={"accuracy": 0.88},
        champion_metrics={"accuracy": 0.9},
        reasons=["accuracy: challenger 0.8800 vs champion 0.9000 (-0.0200), strictly better: failed"],
        comparison=COMPARISON,
        holdout_exclusion=EXCLUSION,
    )
