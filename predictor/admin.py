"""What was served, what each serving process holds and the labels given (read-only records), and the API keys."""

import json
from typing import Any

from django.contrib import admin, messages
from django.db import models
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from predictor.api import apikeys
from predictor.models import ApiKey, Deployment, HeldLabel, LabelChange, ServingProcess

# Deeper than this, a value is shown as indented JSON: tables in tables stop being easier to read.
READABLE_DEPTH = 3


def readable(value: Any, depth: int = 0) -> SafeString:
    """A JSON value as a person reads it: lists as lists, objects as key/value tables, a list of
    objects as one table; every text escaped."""
    if value in (None, "", [], {}):
        return format_html("{}", "-")
    if depth >= READABLE_DEPTH and isinstance(value, dict | list):
        return format_html("<pre>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False))
    if isinstance(value, dict):
        rows = format_html_join(
            "", "<tr><th>{}</th><td>{}</td></tr>", ((k, readable(v, depth + 1)) for k, v in value.items())
        )
        return format_html("<table>{}</table>", rows)
    if isinstance(value, list) and all(isinstance(item, dict) for item in value):
        columns = list(dict.fromkeys(key for item in value for key in item))
        head = format_html_join("", "<th>{}</th>", ((column,) for column in columns))
        body = format_html_join(
            "",
            "<tr>{}</tr>",
            (
                (format_html_join("", "<td>{}</td>", ((readable(item.get(c, ""), depth + 1),) for c in columns)),)
                for item in value
            ),
        )
        return format_html("<table><tr>{}</tr>{}</table>", head, body)
    # A few numbers (an interval, a class pair) read best on one line.
    if isinstance(value, list) and all(isinstance(item, int | float) for item in value) and len(value) <= 4:
        return format_html("{}", ", ".join(str(item) for item in value))
    if isinstance(value, list):
        return format_html(
            "<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((readable(item, depth + 1),) for item in value))
        )
    return format_html("{}", value)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records of what happened: written by the services, shown (never edited) in the admin, their
    JSON fields readable (`readable`) rather than raw."""

    def __init__(self, model: type[models.Model], admin_site: admin.AdminSite) -> None:
        super().__init__(model, admin_site)
        self.json_fields = [f.name for f in model._meta.concrete_fields if isinstance(f, models.JSONField)]
        for name in self.json_fields:
            setattr(self, f"{name}_readable", self._display(model._meta.get_field(name)))

    @staticmethod
    def _display(field: models.Field) -> Any:
        @admin.display(description=field.verbose_name)
        def show(obj: models.Model) -> SafeString:
            return readable(getattr(obj, field.name))

        return show

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # Django lists the form's fields, then the read-only ones: a JSON field would come twice.
        fields = (f"{name}_readable" if name in self.json_fields else name for name in super().get_fields(request, obj))
        return list(dict.fromkeys(fields))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [*super().get_readonly_fields(request, obj), *(f"{name}_readable" for name in self.json_fields)]

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
