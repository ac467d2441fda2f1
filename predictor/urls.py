from django.urls import path

from predictor import views

urlpatterns = [
    path("api/v1/predict", views.predict, name="predict"),
    path("healthz", views.healthz, name="healthz"),
]
