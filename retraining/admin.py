"""Runs and policy history in the admin: read-only, they are records of what happened."""

from django.contrib import admin

from predictor.admin import ReadOnlyAdmin
from retraining.models import PromotionPolicy, RetrainingRun


@admin.register(RetrainingRun)
class RetrainingRunAdmin(ReadOnlyAdmin):
    list_display = ["id", "status", "trigger", "triggered_by", "model_version", "decision_rule", "created_at"]
    list_filter = ["status", "trigger"]
    search_fields = ["id", "model_version", "mlflow_run_id", "error"]
    date_hierarchy = "created_at"


@admin.register(PromotionPolicy)
class PromotionPolicyAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "primary_metric",
        "min_improvement",
        "max_guard_drop",
        "test",
        "significance",
        "created_by",
        "created_at",
    ]
