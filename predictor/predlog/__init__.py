"""The prediction log: every served prediction with an id, its later ground truth, and the
selectors that monitoring, drift and the retraining triggers read it through.

- writing.py: `record` (the request path's one call) and the background writer;
- ids.py: prediction ids (time-ordered UUIDs) and the sampling decided by each id;
- feedback.py: labels sent by clients, all or nothing; labels.py: checking a label and storing it
  with who gave it (LabelChange); held.py: labels sent before their prediction was written;
- selectors.py: `logged_inputs`, `prediction_volume`, `versions_logged`, `live_metrics`
  (`windows_live_metrics`: several windows at once), `live_metric` (one metric, from the confusion
  counts where it can), `labelled_counts`, `label_sources` (who gave the labels), `logged_count`,
  `positive_class` (what live precision, recall, F1 and ROC AUC are about);
- quality.py: the metrics and their intervals; retention.py: pruning by beat.
"""

from predictor.predlog.feedback import InvalidFeedback, items_of, record_labels
from predictor.predlog.held import counts as held_counts
from predictor.predlog.ids import new_ids
from predictor.predlog.labels import KEY_SOURCE, Labeller
from predictor.predlog.retention import ensure_prune_task, prune
from predictor.predlog.selectors import (
    label_sources,
    labelled_counts,
    live_metric,
    live_metrics,
    logged_count,
    logged_inputs,
    positive_class,
    prediction_volume,
    version_task,
    versions_logged,
    windows_live_metrics,
)
from predictor.predlog.writing import record, writer

__all__ = [
    "KEY_SOURCE",
    "InvalidFeedback",
    "Labeller",
    "ensure_prune_task",
    "held_counts",
    "items_of",
    "label_sources",
    "labelled_counts",
    "live_metric",
    "live_metrics",
    "logged_count",
    "logged_inputs",
    "new_ids",
    "positive_class",
    "prediction_volume",
    "prune",
    "record",
    "record_labels",
    "version_task",
    "versions_logged",
    "windows_live_metrics",
    "writer",
]
