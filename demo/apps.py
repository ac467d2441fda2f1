from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo's datasets, traffic simulator and MLflow UI installer: commands only, no models."""

    name = "demo"
