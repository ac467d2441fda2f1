from django.conf import settings
from django.db import models
from django.db.models import Q

from ml.gate import words
from ml.redact import redact_all

# In a module of its own for size; every reader imports it from here, as Django finds it.
from retraining.worker_models import WorkerHeartbeat  # noqa: F401


class PromotionPolicy(models.Model):
    """The rules a challenger must pass to replace the champion.

    Rows are never edited: an edit adds a row, so every decision can be explained by the policy
    it was made under (each run also keeps a copy).
    """

    class Metric(models.TextChoices):
        ACCURACY = "accuracy", "Accuracy"
        PRECISION = "precision", "Precision"
        RECALL = "recall", "Recall"
        F1 = "f1", "F1"
        ROC_AUC = "roc_auc", "ROC AUC"
        # A regression's (ml/task.py); a classification judged under one of these, or a regression
        # under a classification metric, is judged on its task's own primary metric instead.
        RMSE = "rmse", "RMSE (regression)"
        MAE = "mae", "MAE (regression)"
        R2 = "r2", "R² (regression)"

    class Test(models.TextChoices):
        BOOTSTRAP = "bootstrap", "Paired bootstrap (any metric)"
        MCNEMAR = "mcnemar", "McNemar (accuracy only)"
        NONE = "none", "None: any gain deploys"

    primary_metric = models.CharField(max_length=20, choices=Metric.choices, default=Metric.ACCURACY)
    min_improvement = models.FloatField(
        default=0.0, help_text="How much the challenger must beat the champion by; 0 means strictly better."
    )
    max_guard_drop = models.FloatField(
        default=0.01, help_text="The most any other metric may drop against the champion."
    )
    test = models.CharField(
        max_length=20,
        choices=Test.choices,
        default=Test.BOOTSTRAP,
        help_text="How a gain is shown to be more than the noise of this holdout.",
    )
    significance = models.FloatField(
        default=0.005, help_text="A gain must have a p-value below this (two-sided) to deploy."
    )
    return_significance = models.FloatField(
        default=0.001, help_text="The stricter level for bringing back a model that was just replaced (rollback)."
    )
    min_first_score = models.FloatField(
        default=0.5, help_text="The primary score the very first model needs to be deployed."
    )
    reject_on_drift = models.BooleanField(
        default=False,
        help_text="Reject new data that drifted from the champion's training data (by default a warning).",
    )
    positive_class = models.CharField(
        max_length=100,
        blank=True,
        help_text="With two classes, the one precision, recall, F1 and ROC AUC are for (e.g. fraud). "
        "Blank: POSITIVE_CLASS, else 1 for 0/1 and true/false labels, else the rarer class.",
    )
    note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "promotion policies"

    def __str__(self) -> str:
        return f"policy #{self.pk}: {self.primary_metric} +{self.min_improvement}, gate {self.test}"

    @property
    def gate_label(self) -> str:
        """The gate as people read it (ml/gate/words.py), whatever the stored choice's label says."""
        return words.GATE_CHOICES.get(self.test, self.test)

    def as_dict(self) -> dict:
        return {
            "id": self.pk,
            "primary_metric": self.primary_metric,
            "min_improvement": self.min_improvement,
            "max_guard_drop": self.max_guard_drop,
            "test": self.test,
            "significance": self.significance,
            "return_significance": self.return_significance,
            "min_first_score": self.min_first_score,
            "reject_on_drift": self.reject_on_drift,
            "positive_class": self.positive_class,
        }


class RunQuerySet(models.QuerySet):
    """Every write of a run's fields is redacted here, whoever writes: a run shows its errors,
    what it waits for and what its data came from in the panel, the admin, the API and
    notifications, and git, DVC or MLflow errors quote URLs with their credentials."""

    def update(self, **fields: object) -> int:
        return super().update(**{name: redact_all(value) for name, value in fields.items()})

    # The rows are listed first: given a generator, redacting would use it up and store nothing.
    def bulk_update(self, objs, fields, batch_size=None):
        objs = list(objs)
        for obj in objs:
            obj.redact()
        return super().bulk_update(objs, fields, batch_size=batch_size)

    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        for obj in objs:
            obj.redact()
        return super().bulk_create(objs, *args, **kwargs)


class RetrainingRun(models.Model):
    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Schedule"
        MANUAL = "manual", "Manual (panel)"
        API = "api", "API"
        CLI = "cli", "Command line"
        BOOTSTRAP = "bootstrap", "First start"
        DRIFT = "drift", "Drift in live inputs"
        DEGRADATION = "degradation", "Live quality fell"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SKIPPED = "skipped", "Skipped (no new data)"
        REJECTED = "rejected", "Rejected (invalid data)"
        DEPLOYED = "deployed", "Deployed"
        KEPT = "kept", "Kept champion"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    # True while queued or running, NULL after: the partial unique constraint below makes
    # "only one run at a time" the database's job, whoever triggers it.
    active = models.BooleanField(null=True, default=True, editable=False)
    # One run per beat tick, even when the tick is delivered twice.
    tick = models.CharField(max_length=100, null=True, blank=True, unique=True)
    step = models.CharField(max_length=30, blank=True)
    steps = models.JSONField(default=list, blank=True)
    dataset = models.JSONField(default=dict, blank=True)
    rows = models.JSONField(default=dict, blank=True)
    estimator = models.CharField(max_length=100, blank=True)
    params = models.JSONField(default=dict, blank=True)
    policy = models.JSONField(default=dict, blank=True)
    # The training setup frozen when the run was queued (retraining/runs/setup.py): whoever executes
    # the run trains exactly this; and its fingerprint, what the model is made of.
    setup = models.JSONField(default=dict, blank=True)
    setup_fingerprint = models.CharField(max_length=64, blank=True)
    # Run even on data already judged: {"by", "at", "why"} of whoever forced it; empty otherwise.
    forced = models.JSONField(default=dict, blank=True)
    # The process that queued the run ({"kind", "host", "pid", "process_started"}) and how long it
    # answers for it: until a worker claims it (or the broker holds its message) the run is dead
    # once that process is, or once the lease ran out (retraining/runs/store.py).
    starter = models.JSONField(default=dict, blank=True)
    start_lease_until = models.DateTimeField(null=True, blank=True)
    # Cancelling: who asked and when; a running run stops at its next safe point.
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.CharField(max_length=200, blank=True)
    mlflow_run_id = models.CharField(max_length=64, blank=True)
    model_version = models.CharField(max_length=50, blank=True)
    champion_version = models.CharField(max_length=50, blank=True)
    challenger_metrics = models.JSONField(default=dict, blank=True)
    champion_metrics = models.JSONField(default=dict, blank=True)
    previous_champion_version = models.CharField(max_length=50, blank=True)
    previous_champion_metrics = models.JSONField(default=dict, blank=True)
    decision_rule = models.CharField(max_length=50, blank=True)
    # The class precision, recall, F1 and ROC AUC were computed for, and why (ml/positive.py).
    positive_class = models.CharField(max_length=100, blank=True)
    positive_reason = models.CharField(max_length=300, blank=True)
    # The data's classes against the champion's: {"data", "champion", "appeared", "disappeared"}.
    labels = models.JSONField(default=dict, blank=True)
    reasons = models.JSONField(default=list, blank=True)
    p_value = models.FloatField(null=True, blank=True)
    # The paired comparison behind the decision: interval, p-value, level, detectable gain, rows.
    comparison = models.JSONField(default=dict, blank=True)
    # Holdout rows dropped because a compared model trained on them: per model, and why.
    holdout_exclusion = models.JSONField(default=dict, blank=True)
    # What the challenger was made from (target, features, split, code and data versions).
    lineage = models.JSONField(default=dict, blank=True)
    # The challenger's drift profile in brief (ml/drift/profile.summarise), for comparing two runs.
    profile = models.JSONField(default=dict, blank=True)
    validation = models.JSONField(default=dict, blank=True)
    # Why a monitoring trigger started the run (retraining/monitoring/triggers.py): {"summary", "drift", "degradation"}.
    evidence = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    # The signal that stopped the worker mid-run ("SIGTERM"), and the run queued in its place.
    stopped_by_signal = models.CharField(max_length=20, blank=True)
    requeued_as = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The process working on the run, written by its claim (retraining/runs/ownership.py): a
    # redelivered message closes and requeues the run at once when this process is dead.
    owner = models.JSONField(default=dict, blank=True)
    # While a run waits to be tried again: what did not answer, which attempt is next and when
    # ("MLflow unreachable at ..., attempt 2 of 5, next in 60 s"). Empty otherwise.
    waiting = models.CharField(max_length=500, blank=True)
    # Every attempt: [{"attempt", "started_at", "ended_at", "outcome", "error"}].
    attempts = models.JSONField(default=list, blank=True)
    notifications = models.JSONField(default=dict, blank=True)
    deployment = models.ForeignKey(
        "predictor.Deployment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Set once the team was told this run waits for a worker that is not there: told only once.
    stall_notified_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = RunQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["active"], condition=Q(active=True), name="one_active_run"),
        ]
        indexes = [
            # The panel's run table filters by outcome and trigger, newest first.
            models.Index(fields=["status", "-id"], name="run_status_idx"),
            models.Index(fields=["trigger", "-id"], name="run_trigger_idx"),
        ]

    def __str__(self) -> str:
        return f"run #{self.pk} ({self.status})"

    def save(self, *args: object, **kwargs: object) -> None:
        self.redact()
        super().save(*args, **kwargs)

    def redact(self) -> None:
        """Mask credentials in every text and JSON field before the row is written (ml/redact.py)."""
        for field in self._meta.concrete_fields:
            if isinstance(field, models.CharField | models.TextField | models.JSONField):
                setattr(self, field.attname, redact_all(getattr(self, field.attname)))

    @property
    def finished(self) -> bool:
        return self.active is None

    @property
    def duration(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None

    @property
    def pipeline(self) -> dict[str, str] | None:
        """The team's pipeline (TRAINING_PIPELINE) the run trains with: its path and the team code's
        version, "unknown" until the run trained; None for the built-in estimator."""
        made_by = (self.lineage or {}).get("pipeline")
        if made_by:
            return {"path": str(made_by.get("path", "")), "version": str(made_by.get("version") or "unknown")}
        path = (self.setup or {}).get("pipeline")
        return {"path": str(path), "version": "unknown"} if path else None


class TriggerSettings(models.Model):
    """When live serving starts a run by itself: drift in the inputs, or live quality falling.

    One row, edited in the panel beside the schedule and the policy (retraining/monitoring/triggers.py reads it).
    """

    drift_enabled = models.BooleanField(
        default=True, help_text="Start a run when recent inputs drifted from the champion's training data."
    )
    degradation_enabled = models.BooleanField(
        default=True, help_text="Start a run when live quality fell below the champion's holdout score."
    )
    degradation_margin = models.FloatField(
        default=0.05,
        help_text="How far below its holdout score the champion's live primary metric must be (upper 95% bound).",
    )
    min_labels = models.PositiveIntegerField(
        default=200, help_text="Labelled predictions needed before live quality is judged."
    )
    cooldown_hours = models.FloatField(
        default=24.0, help_text="At most one drift or degradation run in this many hours."
    )
    # One client could label its own predictions wrongly and fire the trigger: the labels must come
    # from several givers, and cover a real part of the traffic rather than one client's slice of it.
    min_label_sources = models.PositiveIntegerField(
        default=2,
        help_text="Sources the labels must come from for the degradation trigger to fire "
        "(API keys, or client addresses when keys are off).",
    )
    min_label_share = models.FloatField(
        default=0.01,
        help_text="Share of the window's logged predictions that must be labelled, more than this, "
        "for the degradation trigger to fire (0.01 = 1%).",
    )
    publish_feedback = models.BooleanField(
        default=False, help_text="A drift or degradation run with no new data publishes keyed feedback as data."
    )
    feedback_min_labels = models.PositiveIntegerField(default=500, help_text="New labels needed to publish them.")
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "trigger settings"

    def __str__(self) -> str:
        triggers = (("drift", self.drift_enabled), ("degradation", self.degradation_enabled))
        on = [name for name, enabled in triggers if enabled]
        return f"triggers: {', '.join(on) or 'off'}, cool-down {self.cooldown_hours:g} h"

    @classmethod
    def current(cls) -> "TriggerSettings":
        row, _ = cls.objects.get_or_create(pk=1)
        return row


class RunLog(models.Model):
    """The worker's log lines for one run, the tail within RUN_LOG_MAX_BYTES (retraining/runs/runlog.py).
    A table of its own: lists of runs never read it, and each heartbeat rewrites it, not the run's row."""

    run = models.OneToOneField(RetrainingRun, on_delete=models.CASCADE, related_name="log", primary_key=True)
    text = models.TextField(blank=True)
    # Bytes dropped from the head to keep the tail under the cap: the page says the log was cut.
    dropped_bytes = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"log of run #{self.run_id}"


# The triggers of runs started by watching live serving (retraining/monitoring/triggers.py).
MONITORING_TRIGGERS = (RetrainingRun.Trigger.DRIFT, RetrainingRun.Trigger.DEGRADATION)
