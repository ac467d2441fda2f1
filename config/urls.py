from django.contrib import admin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.templatetags.static import static
from django.urls import include, path
from django.views import defaults
from django.views.generic import RedirectView


def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico on pages that name no icon (the admin, the API docs): the
    panel's static icon. Not permanent: its hashed name changes when the file does."""
    response = HttpResponseRedirect(static("panel/favicon.ico"))
    response["Cache-Control"] = "max-age=86400"
    return response


admin.site.site_header = "Model retraining administration"
admin.site.site_title = "Model retraining"
admin.site.index_title = "Records and settings"

urlpatterns = [
    # The root is where a newcomer and the admin's "View site" land: the control panel.
    path("", RedirectView.as_view(pattern_name="panel-dashboard"), name="root"),
    path("favicon.ico", favicon, name="favicon"),
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
