from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from predictor.api import mlflow_protocol, report, v2, views

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
    # The Open Inference Protocol (V2), as KServe, Triton and MLServer serve it.
    path("v2", v2.server_metadata, name="v2-server"),
    path("v2/health/live", v2.live, name="v2-live"),
    path("v2/health/ready", v2.ready, name="v2-ready"),
    path("v2/models/<str:name>", v2.model_metadata, name="v2-model"),
    path("v2/models/<str:name>/versions/<str:version>", v2.model_metadata, name="v2-model-version"),
    path("v2/models/<str:name>/ready", v2.model_ready, name="v2-model-ready"),
    path("v2/models/<str:name>/versions/<str:version>/ready", v2.model_ready, name="v2-model-version-ready"),
    path("v2/models/<str:name>/infer", v2.infer, name="v2-infer"),
    path("v2/models/<str:name>/versions/<str:version>/infer", v2.infer, name="v2-infer-version"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]
