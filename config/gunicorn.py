"""gunicorn settings for the web process (Heroku and local alike).

Heroku's router gives a request 30 s and a stopping dyno 30 s after SIGTERM, so requests time
out before the router does and a graceful stop finishes inside the window.
"""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threads keep connections alive between requests (the sync worker closes every one).
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "4"))
timeout = 25
graceful_timeout = 20
keepalive = 75
# The model is loaded once in the master before forking (see config/wsgi.py): workers start
# ready and share its memory.
preload_app = os.environ.get("WEB_PRELOAD", "true").lower() in {"1", "true", "yes", "on"}
accesslog = "-" if os.environ.get("WEB_ACCESS_LOG", "false").lower() in {"1", "true", "yes", "on"} else None
errorlog = "-"


def post_fork(server, worker):
    from django.db import connections

    from predictor.follower import follower

    connections.close_all()
    follower().start()


def worker_exit(server, worker):
    """Write the predictions still queued for the log before the worker goes (SIGTERM, restart)."""
    from predictor.predlog import writer

    writer().flush(timeout=graceful_timeout / 2)
