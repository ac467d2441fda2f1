"""What was served, what each serving process holds and the labels given (read-only records), and the API keys."""

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest

from predictor.api import apikeys
from predictor.models import ApiKey, Deployment, HeldLabel, LabelChange, ServingProcess


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records of what happened: written by the services, shown (never edited) in the admin."""

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


@admin.register(LabelChange)
class LabelChangeAdmin(ReadOnlyAdmin):
    """Every label given to a logged prediction: who, when, and the label it replaced."""

    list_display = ["prediction_id", "old_label", "label", "source", "given_at"]
    list_filter = ["source"]
    search_fields = ["=prediction_id", "source"]


@admin.register(HeldLabel)
class HeldLabelAdmin(ReadOnlyAdmin):
    """Labels sent before their prediction was written: waiting, or dropped (and why)."""

    list_display = ["prediction_id", "label", "source", "received_at", "expires_at", "dropped"]
    search_fields = ["=prediction_id"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "rate_limit", "row_limit", "active", "created_at"]
    list_filter = ["active"]
    search_fields = ["name", "prefix"]
    readonly_fields = ["prefix", "created_at"]

    def save_model(self, request: HttpRequest, obj: ApiKey, form: object, change: bool) -> None:
        if not change:
            key, obj.prefix, obj.hashed_key = apikeys.generate()
            messages.warning(
                request,
                f"The key for {obj.name} is {key} — copy it now: only its hash is stored, it cannot be shown again.",
            )
        super().save_model(request, obj, form, change)
        apikeys.forget()
