from django.urls import path

from retraining import api, views

urlpatterns = [
    path("panel/runs/<int:pk>/", views.run_detail, name="panel-run"),
    path("api/v1/runs", api.RunList.as_view(), name="api-runs"),
    path("api/v1/runs/<int:pk>", api.RunDetail.as_view(), name="api-run"),
]
