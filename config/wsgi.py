import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

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
        # The URLconf (and every view module it names) is imported on the first request;
        # done here, a new worker's first request does not pay it (measured: 210 ms).
        # Reading the reverse map imports every URL module and compiles every pattern.
        get_resolver().reverse_dict  # noqa: B018
    finally:
        # Under gunicorn's preload this runs in the master: children must open their own.
        connections.close_all()


_load_active_model()
# Everything alive now (Django, MLflow, scikit-learn, the model: about 450k objects) lives as
# long as the process. Moved out of the cyclic collector's sight, a full collection no longer
# walks it: measured, that walk was a 220 ms pause in the middle of whichever request set it off.
# Under gunicorn's preload this runs in the master, so the workers inherit it (and share the
# pages a collection would otherwise write to).
gc.freeze()
