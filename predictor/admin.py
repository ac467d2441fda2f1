"""What was served, and what each serving process holds: read-only records in the admin."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from predictor.models import Deployment, ServingProcess


class ReadOnlyAdmin(admin.ModelAdmin):
    """Deployments change only through predictor.services (alias first, then the row)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Deployment)
class DeploymentAdmin(ReadOnlyAdmin):
    list_display = ["id", "model_name", "version", "source", "created_by", "created_at"]
    list_filter = ["source", "model_name"]
    search_fields = ["version", "run_id", "reason"]


@admin.register(ServingProcess)
class ServingProcessAdmin(ReadOnlyAdmin):
    list_display = ["name", "version", "error", "predictions", "failures", "seen_at"]
