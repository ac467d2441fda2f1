from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo's datasets, their data registry and the traffic simulator: commands only, no models."""

    name = "demo"
