from django.apps import AppConfig


class PredictorConfig(AppConfig):
    name = "predictor"
    verbose_name = "Serving"

    def ready(self) -> None:
        from predictor import checks  # noqa: F401  (registers the production system checks)
