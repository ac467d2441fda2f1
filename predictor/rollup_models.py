"""The prediction log's hourly rollups (predictor/predlog/rollups.py): what monitoring reads instead of
the rows, and what stays when the rows are pruned."""

from django.db import models


class HourVolume(models.Model):
    """Predictions of one version logged in one hour (predictor/predlog/rollups.py): what monitoring counts
    instead of the rows, and what stays when the rows are pruned."""

    version = models.CharField(max_length=50)
    hour = models.DateTimeField()
    logged = models.BigIntegerField(default=0)
    # Each logged row counted as 1 / the share of predictions kept when it was logged: what was served.
    served = models.FloatField(default=0.0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["version", "hour"], name="one_volume_per_version_hour")]

    def __str__(self) -> str:
        return f"v{self.version} {self.hour:%Y-%m-%d %H}h: {self.logged} logged"


class LabelCell(models.Model):
    """Labelled predictions of one version with one (true label, predicted class) in a span of time:
    the confusion count, the histogram of their probabilities, and for a regression ("" for both)
    the error sums. An hour (HourLabels) or a whole UTC day (DayLabels) of them."""

    version = models.CharField(max_length=50)
    truth = models.CharField(max_length=200)
    predicted = models.CharField(max_length=200)
    count = models.BigIntegerField(default=0)
    # histograms.encode: (class column * BINS + bin, count) pairs of int64, nonzero bins only.
    scores = models.BinaryField(default=b"")
    absolute = models.FloatField(default=0.0)
    squared = models.FloatField(default=0.0)
    fourth = models.FloatField(default=0.0)

    class Meta:
        abstract = True


class HourLabels(LabelCell):
    """Labelled predictions of one version made in one hour with one (true label, predicted class)."""

    hour = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "hour", "truth", "predicted"], name="one_label_cell_per_hour")
        ]

    def __str__(self) -> str:
        return f"v{self.version} {self.hour:%Y-%m-%d %H}h: {self.truth or '-'} as {self.predicted or '-'} x{self.count}"


class DayLabels(LabelCell):
    """The same cells per UTC day (`hour` is the day's midnight): the sum of the day's HourLabels,
    kept with them, so a window of days reads a row per day, not 24."""

    hour = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "hour", "truth", "predicted"], name="one_label_cell_per_day")
        ]

    def __str__(self) -> str:
        return f"v{self.version} {self.hour:%Y-%m-%d}: {self.truth or '-'} as {self.predicted or '-'} x{self.count}"


class HourPredictions(models.Model):
    """A classifier's predictions of one version in one hour that said one class: the Monitoring
    page's class mix without reading a day of rows."""

    version = models.CharField(max_length=50)
    hour = models.DateTimeField(db_index=True)
    predicted = models.CharField(max_length=200)
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "hour", "predicted"], name="one_class_count_per_hour")
        ]

    def __str__(self) -> str:
        return f"v{self.version} {self.hour:%Y-%m-%d %H}h: {self.predicted} x{self.count}"


class HourSources(models.Model):
    """Labelled predictions of one version made in one hour whose newest label came from one source
    (LabelChange.source): who gave the labels, without a subquery per labelled row."""

    version = models.CharField(max_length=50)
    hour = models.DateTimeField(db_index=True)
    source = models.CharField(max_length=200)
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["version", "hour", "source"], name="one_source_count_per_hour")]

    def __str__(self) -> str:
        return f"v{self.version} {self.hour:%Y-%m-%d %H}h: {self.source} x{self.count}"
