from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from predictor.api import report, views

urlpatterns = [
    path("api/v1/predict", views.predict, name="predict"),
    path("api/v1/model", views.model, name="served-model"),
    path("api/v1/feedback", views.feedback, name="feedback"),
    path("api/v1/monitoring", report.MonitoringView.as_view(), name="monitoring"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]
