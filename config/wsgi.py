import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()


def _refuse_an_older_database() -> None:
    """A database made by an older schema stops the process here, with one line, before anything reads it."""
    from retraining.checks import refuse_to_start_with_errors

    refuse_to_start_with_errors(tags=("database",))


def _load_active_model() -> None:
    """Load the champion before the process reports ready, not on the first request."""
    from django.db import connections

    from predictor.serving import registry
    from predictor.serving.holder import holder

    try:
        registry.import_loaders()
        holder().sync()
        # Django imports the URLconf (and every view module it names) on the first request:
        # reading the reverse map here imports them and compiles every pattern, so a new
        # worker's first request is as fast as the others.
        get_resolver().reverse_dict  # noqa: B018
    finally:
        # Under gunicorn's preload this runs in the master: children must open their own.
        connections.close_all()


_refuse_an_older_database()
_load_active_model()
# Everything alive now (Django, MLflow, scikit-learn, the model: hundreds of thousands of
# objects) lives as long as the process. Moved out of the cyclic collector's sight, a full
# collection does not walk it, so it cannot pause whichever request set the collection off.
# Under gunicorn's preload this runs in the master, so the workers inherit it (and share the
# pages a collection would otherwise write to).
gc.freeze()
