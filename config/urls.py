from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from django.views import defaults

urlpatterns = [
    path("", include("predictor.urls")),
    path("", include("retraining.urls")),
    path("admin/", admin.site.urls),
]


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """API clients get a JSON 404 (as the runs API's own 404s are); browsers get the page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": f"no such resource: {request.path}"}, status=404)
    return defaults.page_not_found(request, exception)


handler404 = not_found
