from django.urls import include, path

from retraining import api

urlpatterns = [
    path("panel/", include("retraining.panel.urls")),
    path("api/v1/runs", api.RunList.as_view(), name="api-runs"),
    path("api/v1/runs/<int:pk>", api.RunDetail.as_view(), name="api-run"),
    path("api/v1/runs/<int:pk>/log", api.RunLogView.as_view(), name="api-run-log"),
    path("api/v1/runs/<int:pk>/cancel", api.RunCancel.as_view(), name="api-run-cancel"),
    path("api/v1/workers", api.WorkerList.as_view(), name="api-workers"),
]
