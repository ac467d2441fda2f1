from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from predictor.api import mlflow_protocol, report, views

urlpatterns = [
    path("api/v1/predict", views.predict, name="predict"),
    path("api/v1/model", views.model, name="served-model"),
    path("api/v1/feedback", views.feedback, name="feedback"),
    path("api/v1/monitoring", report.MonitoringView.as_view(), name="monitoring"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    # MLflow's scoring protocol, at the paths `mlflow models serve` uses.
    path("invocations", mlflow_protocol.invocations, name="mlflow-invocations"),
    path("ping", mlflow_protocol.ping, name="mlflow-ping"),
    path("health", mlflow_protocol.ping, name="mlflow-health"),
    path("version", mlflow_protocol.version, name="mlflow-version"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]
