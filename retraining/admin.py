"""Runs and policy history in the admin: read-only, they are records of what happened. The periodic
tasks stay editable there (django-celery-beat's own admin), with a word on who owns the schedule."""

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html
from django_celery_beat.admin import PeriodicTaskAdmin
from django_celery_beat.models import PeriodicTask

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


class OwnedSchedulePeriodicTaskAdmin(PeriodicTaskAdmin):
    """django-celery-beat's admin edits the same rows as the panel's Schedule page, which also
    keeps the retraining schedule's preset and checks its cron expression: staff are told so."""

    def warn(self, request: HttpRequest) -> None:
        messages.warning(
            request,
            format_html(
                "The control panel's Schedule page owns the retraining schedule: change it on "
                '<a href="{}">the Schedule page</a>, which checks the cron expression. An edit here '
                "is what beat runs, unchecked.",
                reverse("panel-schedule"),
            ),
        )

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if request.method == "GET":
            self.warn(request)
        return super().changelist_view(request, extra_context)

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if request.method == "GET":
            self.warn(request)
        return super().changeform_view(request, object_id, form_url, extra_context)


admin.site.unregister(PeriodicTask)
admin.site.register(PeriodicTask, OwnedSchedulePeriodicTaskAdmin)
