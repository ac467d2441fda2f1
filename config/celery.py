import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Each worker writes its heartbeat and what it runs (see retraining/workers/heartbeat.py).
app.steps["worker"].add("retraining.workers.heartbeat:Heartbeat")
