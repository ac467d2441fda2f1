from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("predictor.urls")),
    path("", include("retraining.urls")),
    path("admin/", admin.site.urls),
]
