"""WSGI entry of the floor project (bench/floor_bench.py starts it under gunicorn)."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "floor.settings")

from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()
