from django.conf import settings
from django.db import models


class Deployment(models.Model):
    """One row each time the served model changed: the history of what was served, and why.

    The newest row is what every serving process must serve; the MLflow `champion` alias is
    kept equal to it.
    """

    class Source(models.TextChoices):
        BOOTSTRAP = "bootstrap", "First champion"
        PIPELINE = "pipeline", "Retraining pipeline"
        ROLLBACK = "rollback", "Rollback"
        AUTO_ROLLBACK = "auto-rollback", "Automatic rollback"
        REGISTRY = "registry", "Registry (alias moved in MLflow)"

    model_name = models.CharField(max_length=200)
    version = models.CharField(max_length=50)
    run_id = models.CharField(max_length=64, blank=True)
    source = models.CharField(max_length=20, choices=Source.choices)
    reason = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    metrics = models.JSONField(default=dict, blank=True)
    data_version = models.JSONField(default=dict, blank=True)
    # The deployment this one replaced, so a bad version can be rolled back to what came before.
    previous = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        # Serving processes poll "the newest deployment" every couple of seconds: ordered by the
        # primary key, which the index already covers.
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.model_name} v{self.version} ({self.source})"


class ServingProcess(models.Model):
    """What each serving process holds, reported by the process itself.

    Staff see from it whether every process has switched to the active deployment, and why
    one has not (a version that failed to load is never swapped in).
    """

    name = models.CharField(max_length=200, unique=True)
    version = models.CharField(max_length=50, blank=True)
    deployment = models.ForeignKey(Deployment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    error = models.TextField(blank=True)
    failed_version = models.CharField(max_length=50, blank=True)
    predictions = models.PositiveBigIntegerField(default=0)
    failures = models.PositiveBigIntegerField(default=0)
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "serving processes"

    def __str__(self) -> str:
        return f"{self.name}: v{self.version or '-'}"


class ApiKey(models.Model):
    """A client's key for the prediction API (used when API_KEYS_REQUIRED is on).

    Only a prefix (to find the row) and the SHA-256 of the whole key are stored: a leaked
    database does not leak usable keys. The key itself is shown once, when staff create it.
    """

    name = models.CharField(max_length=200, help_text="Who uses this key, e.g. the client application.")
    prefix = models.CharField(max_length=12, unique=True, editable=False)
    hashed_key = models.CharField(max_length=64, editable=False)
    rate_limit = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Requests per minute; empty means the API_RATE_LIMIT setting.",
    )
    # One request may carry thousands of rows: what the model and the prediction log work on.
    row_limit = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Rows predicted per minute; empty means the API_ROW_RATE_LIMIT setting (0: no row limit).",
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "API key"
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class RateWindow(models.Model):
    """How many requests a key made in one minute, where the cache cannot count atomically.

    On Redis the count is an INCR; the embedded file cache reads and writes a file, so 8
    concurrent clients let 99 of 100 requests through a 30/minute key. Counted here instead,
    with a conditional UPDATE (count = count + 1) that the database serialises.
    """

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    window = models.BigIntegerField(help_text="Minutes since the epoch.")
    count = models.PositiveIntegerField(default=0)
    rows = models.PositiveBigIntegerField(default=0, help_text="Rows predicted in the minute.")

    class Meta:
        constraints = [
            # Also the index of the per-request UPDATE ... WHERE api_key_id = %s AND window = %s.
            models.UniqueConstraint(fields=["api_key", "window"], name="one_rate_window_per_key_and_minute"),
        ]

    def __str__(self) -> str:
        return f"key #{self.api_key_id}: {self.count} in minute {self.window}"


class Prediction(models.Model):
    """One predicted instance, as served: what went in, what came out, and later its true label.

    Written off the request path by predictor/predlog/. The id is what clients see as
    `prediction_id`; it is a UUID whose first 48 bits are the time in milliseconds (UUIDv7's
    layout), so new rows land at the end of the primary-key index instead of all over it.
    """

    id = models.UUIDField(primary_key=True, editable=False)
    # Pruning (`created_at < cutoff`) and the drift selector (`logged_inputs` since a time).
    created_at = models.DateTimeField(db_index=True)
    model_version = models.CharField(max_length=50)
    inputs = models.JSONField()
    prediction = models.CharField(max_length=200)
    probabilities = models.JSONField(null=True, blank=True)
    # Null, not "": "no ground truth yet" is what the partial index below leaves out.
    label = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    labelled_at = models.DateTimeField(null=True, blank=True)
    # A regression's predicted value and true value as numbers, beside their text: live RMSE and
    # MAE sum errors over them in SQL without parsing text. Null for a classification, whose
    # classes stay classes even when they look like numbers.
    prediction_value = models.FloatField(null=True, blank=True)
    label_value = models.FloatField(null=True, blank=True)
    # The API key that made the prediction (null when keys were off): a key labels only its own.
    # No index and no constraint: the log is written in bulk off the request path, and a
    # deleted key's id is never given again.
    api_key = models.ForeignKey(
        ApiKey,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )

    class Meta:
        indexes = [
            # Prediction volume per version over a window (counted from the index alone), and
            # `logged_inputs` for one version.
            models.Index(fields=["model_version", "created_at"], name="prediction_version_time"),
            # Live metrics: the labelled predictions of one version over a window. Partial, so it
            # holds only the labelled share of the log and the query never reads unlabelled rows.
            models.Index(
                fields=["model_version", "created_at"],
                name="prediction_labelled",
                condition=models.Q(label__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.id}: v{self.model_version} -> {self.prediction}"


class LabelChange(models.Model):
    """One label given to a logged prediction: who gave it, when, and the label it replaced.

    The prediction row holds the newest label (what live quality reads); these rows keep every
    one before it. `source` is who labelled, as one plain value: "key:<id>", "user:<username>"
    (a signed-in session) or "address:<client address>" when no key is used.
    """

    prediction_id = models.UUIDField(db_index=True)
    old_label = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    label = models.CharField(max_length=200)
    source = models.CharField(max_length=200)
    api_key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    given_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-given_at", "-id"]

    def __str__(self) -> str:
        return f"{self.prediction_id}: {self.old_label} -> {self.label} by {self.source}"


class HeldLabel(models.Model):
    """A label sent before its prediction reached the log, held until the row is written.

    In the database, because the row may be written by another process than the one that took
    the feedback. Applied (and deleted) when the row comes; past `expires_at`, or refused when
    its row came (`dropped` says why), it is dropped unapplied and counted.
    """

    prediction_id = models.UUIDField(db_index=True)
    label = models.CharField(max_length=200)
    source = models.CharField(max_length=200)
    api_key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    received_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    dropped = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"{self.prediction_id}: {self.label} (held until {self.expires_at:%H:%M:%S})"


class LoggedVersion(models.Model):
    """The classes of a model version that has predictions in the log.

    Feedback checks a label against the model that made the prediction (not the one served
    now), and live metrics read the logged probabilities in this order; the log itself stores
    only the version. Written once per version by the prediction-log writer.
    """

    version = models.CharField(max_length=50, unique=True)
    model_name = models.CharField(max_length=200)
    classes = models.JSONField(null=True, blank=True)
    first_logged_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-first_logged_at"]

    def __str__(self) -> str:
        return f"{self.model_name} v{self.version}"


class DriftCheck(models.Model):
    """One comparison of recent logged inputs with a model's training profile (ml/drift/drift.py).

    Written by the monitoring beat task and `manage.py check_drift`; the panel draws per-feature
    drift over time from these rows and the drift trigger reads the newest one.
    """

    checked_at = models.DateTimeField(db_index=True)
    version = models.CharField(max_length=50)
    # The window compared: predictions of `version` logged since this time (the newest `rows` of them).
    since = models.DateTimeField()
    rows = models.PositiveIntegerField()
    verdict = models.CharField(max_length=30)
    # The drifted features, largest PSI first ("predictions" last when the prediction mix moved).
    drifted = models.JSONField(default=list)
    # DriftReport.as_dict(): per-feature PSI, p-value, missing share, unseen categories, thresholds.
    report = models.JSONField(default=dict)

    class Meta:
        ordering = ["-checked_at"]

    def __str__(self) -> str:
        return f"drift check of v{self.version} at {self.checked_at:%Y-%m-%d %H:%M}: {self.verdict}"

    @property
    def summary(self) -> str:
        """One line: "drift on tenure (PSI 0.41), contract (PSI 0.25) (1200 rows)" or "no drift (1200 rows)"."""
        from ml.drift.drift import describe

        scores = {**self.report.get("features", {}), "predictions": self.report.get("predictions") or {}}
        return describe(self.verdict, self.rows, {name: scores.get(name, {}).get("psi") for name in self.drifted})


class LogBudget(models.Model):
    """The prediction log's budget as last enforced (one row): the share of new predictions kept
    and when a serving process last counted the log (the check is claimed by moving `checked_at`,
    so one process at a time counts and prunes)."""

    checked_at = models.DateTimeField()
    rows = models.BigIntegerField(default=0, help_text="Rows in the log at the last check.")
    share = models.FloatField(default=1.0, help_text="Share of new predictions the budget keeps (1: all).")
    notified = models.BooleanField(default=False, help_text="The team was told that sampling started.")

    def __str__(self) -> str:
        return f"{self.rows} rows, keeping {self.share:.4g} of new predictions"


class LogSampling(models.Model):
    """A change of the budget's share: predictions logged from `since` until the next change were
    kept at `share` (times PREDICTION_LOG_SAMPLE), so a count over that time divided by it
    estimates what was served."""

    since = models.DateTimeField(db_index=True)
    share = models.FloatField()
    rows = models.BigIntegerField(help_text="Rows in the log when the share changed.")
    budget = models.BigIntegerField(help_text="PREDICTION_LOG_MAX_ROWS then.")

    class Meta:
        ordering = ["-since", "-id"]

    def __str__(self) -> str:
        return f"{self.share:.4g} from {self.since:%Y-%m-%d %H:%M:%S}"


class ProfileCopy(models.Model):
    """A run's training profile as MLflow holds it, copied the first time the drift check reads it
    (predictor/drift_check.py): later checks, a one-off `check_drift` included, read it here without
    importing MLflow. A run's artifacts never change, so the copy never goes stale."""

    run_id = models.CharField(max_length=64, unique=True)
    profile = models.JSONField(null=True)  # null: the run logged no profile

    def __str__(self) -> str:
        return f"profile of run {self.run_id}"


# The hourly rollups of the log, in their own module; imported here, where Django looks for models.
from predictor.rollup_models import DayLabels, HourLabels, HourPredictions, HourSources, HourVolume  # noqa: E402, F401
