"""gunicorn settings for the web process (Heroku and local alike).

Heroku's router gives a request 30 s and a stopping dyno 30 s after SIGTERM, so requests time
out before the router does and a graceful stop finishes inside the window.
"""

import contextlib
import ctypes
import os

# This machine only, unless told: `make run` signs staff in with a generated password and must not
# be reachable from the network. A Heroku dyno (DYNO set) listens on 0.0.0.0:$PORT, as its router
# requires; WEB_BIND says anything else (docker-compose passes --bind 0.0.0.0:8000).
_port = os.environ.get("PORT", "8000")
bind = os.environ.get("WEB_BIND") or (f"0.0.0.0:{_port}" if os.environ.get("DYNO") else f"127.0.0.1:{_port}")
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
# gunicorn's control socket defaults to one path per user (~/.gunicorn/gunicorn.ctl): a second
# instance on the machine takes it over from the first. Nothing here uses it.
control_socket_disable = True
accesslog = "-" if os.environ.get("WEB_ACCESS_LOG", "false").lower() in {"1", "true", "yes", "on"} else None
errorlog = "-"


# glibc gives each thread that allocates concurrently an arena of its own and keeps what the
# arena held: with 4 threads parsing 10,000-row batches a worker stayed ~75 MiB above its start
# (bench/web_memory.py, docs/benchmarks.md). Two arenas hold that down at no measured cost.
MALLOC_ARENA_MAX = 2
_M_ARENA_MAX = -8


def _limit_malloc_arenas() -> None:
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to tune
        ctypes.CDLL("libc.so.6").mallopt(_M_ARENA_MAX, MALLOC_ARENA_MAX)


def _redact_gunicorn_logs() -> None:
    """gunicorn writes through handlers of its own: its lines (a request's URL with `token=`, a
    worker's traceback) are redacted as the app's are."""
    import logging

    from ml.redact import redact_handlers

    for name in ("gunicorn.error", "gunicorn.access"):
        redact_handlers(logging.getLogger(name))


def on_starting(server):
    _redact_gunicorn_logs()


def post_fork(server, worker):
    from django.db import connections

    _limit_malloc_arenas()
    _redact_gunicorn_logs()

    from predictor.serving.follower import follower

    connections.close_all()
    follower().start()


def worker_exit(server, worker):
    """Write the predictions still queued for the log before the worker goes (SIGTERM, restart)."""
    from predictor.predlog import writer

    writer().flush(timeout=graceful_timeout / 2)
