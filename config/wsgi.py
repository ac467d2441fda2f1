import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()


def _load_active_model() -> None:
    """Load the champion before the process reports ready, not on the first request."""
    from django.db import connections

    from predictor import registry
    from predictor.serving import holder

    try:
        registry.import_loaders()
        holder().sync()
    finally:
        # Under gunicorn's preload this runs in the master: children must open their own.
        connections.close_all()


_load_active_model()
