from django.contrib.auth import views as auth_views
from django.urls import path

from retraining.panel import views

urlpatterns = [
    path("", views.dashboard, name="panel-dashboard"),
    path("login/", auth_views.LoginView.as_view(template_name="panel/login.html"), name="panel-login"),
    path("logout/", auth_views.LogoutView.as_view(), name="panel-logout"),
    path("live.json", views.live, name="panel-live"),
    path("chart.json", views.chart, name="panel-chart"),
    path("retrain/", views.retrain_now, name="panel-retrain"),
    path("runs/", views.run_list, name="panel-runs"),
    path("runs/compare/", views.compare_runs, name="panel-compare"),
    path("runs/<int:pk>/", views.run_detail, name="panel-run"),
    path("runs/<int:pk>/log/", views.run_log, name="panel-run-log"),
    path("runs/<int:pk>/cancel/", views.cancel_run, name="panel-run-cancel"),
    path("runs/<int:pk>/progress.json", views.run_progress, name="panel-run-progress"),
    path("deployments/", views.deployment_list, name="panel-deployments"),
    path("deployments/<int:pk>/rollback/", views.rollback, name="panel-rollback"),
    path("data/", views.data_version_list, name="panel-data"),
    path("policy/", views.policy, name="panel-policy"),
    path("monitoring/", views.monitoring_page, name="panel-monitoring"),
    path("schedule/", views.schedule_edit, name="panel-schedule"),
    path("schedule/triggers/", views.triggers_edit, name="panel-triggers"),
]
