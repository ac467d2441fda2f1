from django.contrib import admin, messages
from django.http import HttpRequest

from predictor import apikeys
from predictor.models import ApiKey


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "rate_limit", "active", "created_at"]
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
