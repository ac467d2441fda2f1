from django.urls import include, path

urlpatterns = [
    path("panel/", include("retraining.panel.urls")),
]
