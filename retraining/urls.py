from django.urls import path

from retraining import views

urlpatterns = [
    path("panel/runs/<int:pk>/", views.run_detail, name="panel-run"),
]
