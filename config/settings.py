"""Every setting of the product, read from the environment.

With nothing set, everything runs embedded on this machine (SQLite, a broker that needs no
server, a local MLflow store and a local data registry, all under var/). Setting DATABASE_URL,
REDIS_URL, MLFLOW_TRACKING_URI and DATA_REGISTRY switches to the production column.
"""

import os
import secrets
import ssl
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from config.env import (
    app_version,
    env_bool,
    env_dotted_list,
    env_float,
    env_int,
    env_json_object,
    env_list,
    env_networks,
    env_str,
    env_url,
)
from ml.redact import protect_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)
# Every process of this deployment mounts the same VAR_DIR (one machine, or one shared volume, as
# docker-compose.yml does): what lives under it is then the same for all of them. Unset, processes
# sharing a database server are taken to be on hosts of their own (predictor/checks.py warns).
VAR_DIR_SHARED = env_bool("VAR_DIR_SHARED", False)


def _embedded_secret_key() -> str:
    """A key generated once per checkout, so sessions survive restarts of `make run`."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


# A Heroku dyno has DYNO set: there a missing key is a mistake, never something to generate.
ON_HEROKU = bool(env_str("DYNO"))
SECRET_KEY = env_str("SECRET_KEY")
# Generated into VAR_DIR: a host of its own would generate a key of its own (predictor.W001).
SECRET_KEY_GENERATED = not SECRET_KEY
if not SECRET_KEY:
    if ON_HEROKU:
        raise ImproperlyConfigured("SECRET_KEY is not set: production needs a long random secret key")
    SECRET_KEY = _embedded_secret_key()

DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
PORT = env_int("PORT", 8000, minimum=1)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "predictor",
    "retraining",
    "demo",
]

MIDDLEWARE = [
    # Outermost: runs after every other layer has answered, refusals included.
    "config.middleware.DrainUnreadBody",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # After WhiteNoise: static files answered there need no policy; every page and API answer gets one.
    "config.csp_policy.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database ---------------------------------------------------------------------------------
DATABASE_URL = env_url(
    "DATABASE_URL",
    f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
    {"sqlite", "postgres", "postgresql", "pgsql"},
)
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=600, conn_health_checks=True)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share the file: WAL lets readers run beside the one writer, and
    # IMMEDIATE transactions take the write lock up front instead of failing on upgrade.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis: broker and cache ------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    env_url("REDIS_URL", REDIS_URL, {"redis", "rediss"})
# Heroku Redis speaks TLS with a self-signed certificate.
REDIS_TLS = REDIS_URL.startswith("rediss://")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # The cache counts rate limits on the request path: a Redis that does not answer must
            # fail the count within a second (then counted in the process), not hold the request.
            "OPTIONS": {
                "socket_connect_timeout": 1,
                "socket_timeout": 1,
                **({"ssl_cert_reqs": None} if REDIS_TLS else {}),
            },
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# Celery -----------------------------------------------------------------------------------
BROKER_DIR = VAR_DIR / "broker"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Above the hard time limit, or Redis hands a long training task to a second worker.
        "visibility_timeout": 4 * 3600,
    }
    if REDIS_TLS:
        CELERY_BROKER_USE_SSL = {"ssl_cert_reqs": ssl.CERT_NONE}
else:
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "store_processed": False,
    }
    for _folder in ("queue", "control", "processed"):
        (BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# How long a worker waits for the result of a pool process that died before it gives the task's
# message back to the broker (Celery's default: 10 s). Results are ignored here, and the
# redelivered run closes and requeues itself when its process is dead (retraining/runs/ownership.py).
CELERY_WORKER_LOST_WAIT = env_float("WORKER_LOST_WAIT", 2.0, minimum=0.1)
# Prefork, made to survive a pool process killed while idle (see config/pool.py).
CELERY_WORKER_POOL = "config.pool:TaskPool"
CELERY_TASK_TIME_LIMIT = env_int("RETRAIN_TIME_LIMIT", 3 * 3600, minimum=60)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 60
# django-celery-beat's DatabaseScheduler, which also looks for runs waiting on a dead worker.
CELERY_BEAT_SCHEDULER = "retraining.workers.scheduler:Scheduler"
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A queue of its own lets training run on dedicated workers (`celery worker -Q training`) while
# the light tasks (stale-run sweeps) keep flowing on the others.
RETRAIN_QUEUE = env_str("RETRAIN_QUEUE", "celery")
CELERY_TASK_ROUTES = {
    name: {"queue": RETRAIN_QUEUE} for name in ("retraining.tasks.retrain", "retraining.tasks.scheduled_retrain")
}

# Demo -------------------------------------------------------------------------------------
# The demo's dataset (demo/datasets.py): "churn", generated, where more data helps and
# no model is perfect, so the loop shows deployments and kept champions; or "penguins", where the
# first model already scores 1.0. It also gives the defaults of MODEL_NAME, DATA_PATH and TARGET_COLUMN.
DEMO_TARGETS = {"churn": "churned", "houses": "price", "penguins": "species"}
DEMO_DATASET = env_str("DEMO_DATASET", "churn")
if DEMO_DATASET not in DEMO_TARGETS:
    raise ImproperlyConfigured(f"DEMO_DATASET={DEMO_DATASET!r} is not a demo dataset: choose churn, houses or penguins")

# MLflow -----------------------------------------------------------------------------------
MLFLOW_TRACKING_URI = env_str("MLFLOW_TRACKING_URI", f"sqlite:///{VAR_DIR / 'mlflow.db'}")
MLFLOW_REGISTRY_URI = env_str("MLFLOW_REGISTRY_URI", MLFLOW_TRACKING_URI)
MLFLOW_ARTIFACT_ROOT = env_str("MLFLOW_ARTIFACT_ROOT", str(VAR_DIR / "mlartifacts"))
MLFLOW_EXPERIMENT_NAME = env_str("MLFLOW_EXPERIMENT_NAME", "retraining")
MLFLOW_UI_URL = env_str("MLFLOW_UI_URL", "http://127.0.0.1:5000")
MLFLOW_PORT = env_int("MLFLOW_PORT", 5000, minimum=1)
MODEL_NAME = env_str("MODEL_NAME", f"{DEMO_DATASET}-{'regressor' if DEMO_DATASET == 'houses' else 'classifier'}")
# An S3-compatible artifact store (MinIO, ...). MLflow and boto3 read it (and AWS_ACCESS_KEY_ID /
# AWS_SECRET_ACCESS_KEY) from the environment themselves; read here so a typo fails at start-up.
MLFLOW_S3_ENDPOINT_URL = env_str("MLFLOW_S3_ENDPOINT_URL")
if MLFLOW_S3_ENDPOINT_URL:
    env_url("MLFLOW_S3_ENDPOINT_URL", MLFLOW_S3_ENDPOINT_URL, {"http", "https"})
CHAMPION_ALIAS = "champion"
# One MLflow call gives up within seconds when the server does not answer (MLflow's defaults:
# 7 retries, doubling from 2 s, and 120 s per request: about 4 minutes of silence per call). The
# run's own retries (RUN_RETRY_*) do the waiting, and say so on the run. MLflow reads only the
# environment, so the values are put back there.
for _name, _default in (("MAX_RETRIES", 1), ("BACKOFF_FACTOR", 1), ("TIMEOUT", 10)):
    os.environ[f"MLFLOW_HTTP_REQUEST_{_name}"] = str(env_int(f"MLFLOW_HTTP_REQUEST_{_name}", _default, minimum=0))

# Data registry ----------------------------------------------------------------------------
# Unset: a demo registry (git + DVC, local-directory remote) is created under var/ on first run.
DATA_REGISTRY = env_str("DATA_REGISTRY")
# A database as the source (SQLAlchemy URL; postgres:// is read with psycopg): DATA_TABLE or
# DATA_QUERY is snapshotted as Parquet into the registry at DATA_PATH whenever the row count or the
# maximum of DATA_WATERMARK_COLUMN changed (retraining/data/sql.py). Checked by retraining.E007.
DATA_SOURCE_URL = env_str("DATA_SOURCE_URL")
DATA_TABLE = env_str("DATA_TABLE")
DATA_QUERY = env_str("DATA_QUERY")
DATA_WATERMARK_COLUMN = env_str("DATA_WATERMARK_COLUMN")
DATA_SNAPSHOT_CHUNK_ROWS = env_int("DATA_SNAPSHOT_CHUNK_ROWS", 50_000, minimum=1)
# Without a registry of its own, a database is snapshotted into a local one under var/, not the demo's.
DATA_IS_DEMO = not DATA_REGISTRY and not DATA_SOURCE_URL
if not DATA_REGISTRY:
    DATA_REGISTRY = str(VAR_DIR / "data-registry")
_SNAPSHOT_NAME = (DATA_TABLE.split(".")[-1] or "query") if DATA_SOURCE_URL else ""
# The demo's data is a folder of partition files, so labelled traffic can be published beside its batches.
DATA_PATH = env_str("DATA_PATH", f"data/{_SNAPSHOT_NAME}.parquet" if DATA_SOURCE_URL else f"data/{DEMO_DATASET}")
DATA_REV = env_str("DATA_REV", "main")
DATA_REMOTE = env_str("DATA_REMOTE", str(VAR_DIR / "dvc-remote"))
# Endpoint of an S3-compatible DVC remote (MinIO, ...), written into the registry the app creates.
DATA_REMOTE_ENDPOINT_URL = env_str("DATA_REMOTE_ENDPOINT_URL")
if DATA_REMOTE_ENDPOINT_URL:
    env_url("DATA_REMOTE_ENDPOINT_URL", DATA_REMOTE_ENDPOINT_URL, {"http", "https"})
DATA_CACHE_DIR = Path(env_str("DATA_CACHE_DIR", str(VAR_DIR / "data-cache")))
TARGET_COLUMN = env_str("TARGET_COLUMN", DEMO_TARGETS[DEMO_DATASET])
DATA_ID_COLUMN = env_str("DATA_ID_COLUMN")
# Columns that are never model inputs (timestamps, free text); the target and DATA_ID_COLUMN never are.
EXCLUDE_COLUMNS = env_list("EXCLUDE_COLUMNS", [])
# Rows without a label are left out and counted on the run; by default they refuse the version.
DROP_UNLABELLED_ROWS = env_bool("DROP_UNLABELLED_ROWS", False)
if TARGET_COLUMN in EXCLUDE_COLUMNS:
    raise ImproperlyConfigured(f"EXCLUDE_COLUMNS lists the target column {TARGET_COLUMN!r}: it cannot be excluded")

# Training ---------------------------------------------------------------------------------
TRAINING_ESTIMATOR = env_str("TRAINING_ESTIMATOR", "random_forest")
# A team's own model: `package.module:callable`, called with TRAINING_PARAMS and the feature columns
# by kind, returning an unfitted scikit-learn estimator (retraining/plugin.py); TRAINING_ESTIMATOR is
# then unused. Checked by a system check (retraining.E004).
TRAINING_PIPELINE = env_str("TRAINING_PIPELINE", "")
TRAINING_PARAMS = env_json_object("TRAINING_PARAMS", {"n_estimators": 100})
TRAINING_SEED = env_int("TRAINING_SEED", 42)
HOLDOUT_FRACTION = env_float("HOLDOUT_FRACTION", 0.25, minimum=0.01)
if HOLDOUT_FRACTION >= 1:
    raise ImproperlyConfigured(f"HOLDOUT_FRACTION={HOLDOUT_FRACTION} must be below 1")
MIN_TRAINING_ROWS = env_int("MIN_TRAINING_ROWS", 50, minimum=2)
MAX_MISSING_SHARE = env_float("MAX_MISSING_SHARE", 0.5, minimum=0)
# What the model learns: "classification" or "regression"; unset, inferred from the target
# column, and the run says what was inferred and why (ml/task.py).
TASK = env_str("TASK").lower()
if TASK not in ("", "classification", "regression"):
    raise ImproperlyConfigured(f"TASK={TASK!r} must be classification or regression (or unset: inferred)")
# A classification with more label classes than this is a mistake (an id as the target), not a task;
# an inferred task takes a numeric target with more distinct values for a regression.
MAX_CLASSES = env_int("MAX_CLASSES", 50, minimum=2)
# The class precision, recall, F1 and ROC AUC are computed for when there are two (e.g. "fraud");
# unset, 1 for 0/1 and true/false labels, else the rarer class in the training data (ml/positive.py).
POSITIVE_CLASS = env_str("POSITIVE_CLASS")
# Fewer holdout rows than this that no compared model trained on: the run keeps the champion undecided.
MIN_CLEAN_HOLDOUT_ROWS = env_int("MIN_CLEAN_HOLDOUT_ROWS", 30, minimum=1)
# Which holdout rows decide when the data moved under the champion: "shift" judges a drift or
# degradation run, or one that published feedback, on the holdout rows of data newer than the
# champion's (the whole holdout's figures beside); "always" every run with newer rows; "never" the
# whole holdout (retraining/pipeline/fresh.py).
JUDGE_ON_NEW_ROWS = env_str("JUDGE_ON_NEW_ROWS", "shift").lower()
if JUDGE_ON_NEW_ROWS not in ("shift", "always", "never"):
    raise ImproperlyConfigured(f"JUDGE_ON_NEW_ROWS={JUDGE_ON_NEW_ROWS!r} must be shift, always or never")
# The share of the training weight the rows new since the champion's data carry when a run trains
# after a shift (a drift or degradation run, or one that published feedback): few new rows next to
# many old ones would otherwise teach the challenger mostly the old world. 0 turns it off; rows
# already carrying that share are not weighted down; a run without a shift trains unweighted
# (retraining/pipeline/recent.py, ml/weights.py). The default was chosen with bench/recent_share.py
# and bench/feedback_loop.py (docs/benchmarks.md).
RECENT_ROWS_SHARE = env_float("RECENT_ROWS_SHARE", 0.8, minimum=0)
if RECENT_ROWS_SHARE >= 1:
    raise ImproperlyConfigured(
        f"RECENT_ROWS_SHARE={RECENT_ROWS_SHARE} must be below 1 (the older rows keep some weight), or 0 for off"
    )
APP_VERSION = app_version(BASE_DIR)
RETRAIN_SCHEDULE = env_str("RETRAIN_SCHEDULE", "0 2 * * *")
RUN_HEARTBEAT_TIMEOUT = env_int("RUN_HEARTBEAT_TIMEOUT", 120, minimum=5)
RUN_HEARTBEAT_INTERVAL = env_float("RUN_HEARTBEAT_INTERVAL", 10.0, minimum=0.5)
RUN_QUEUE_TIMEOUT = env_int("RUN_QUEUE_TIMEOUT", 3600, minimum=10)
# A run keeps the worker's log lines for it, the tail within this many bytes (retraining/runs/runlog.py).
RUN_LOG_MAX_BYTES = env_int("RUN_LOG_MAX_BYTES", 256 * 1024, minimum=1024)
# The process that queues a run (a command, a request) answers for it this long at most, until
# a worker claims it or the broker holds its message; a run it left behind is closed after that,
# at once when it died on this machine (retraining/runs/ownership.py).
RUN_START_LEASE = env_int("RUN_START_LEASE", 60, minimum=1)
# A run that meets a transient fault (MLflow or the data remote unreachable) is tried again after
# RUN_RETRY_FIRST_DELAY seconds, then twice as long each time, while the waits add up to no more
# than RUN_RETRY_MAX_WAIT; then it fails (retraining/runs/retries.py). Defaults: 5 attempts in 7.5 min.
RUN_RETRY_FIRST_DELAY = env_int("RUN_RETRY_FIRST_DELAY", 30, minimum=1)
RUN_RETRY_MAX_WAIT = env_int("RUN_RETRY_MAX_WAIT", 900, minimum=0)
# Workers write a heartbeat row this often; one silent for WORKER_HEARTBEAT_TIMEOUT is dead.
WORKER_HEARTBEAT_INTERVAL = env_float("WORKER_HEARTBEAT_INTERVAL", 5.0, minimum=0.5)
WORKER_HEARTBEAT_TIMEOUT = env_int("WORKER_HEARTBEAT_TIMEOUT", 30, minimum=2)
# A run queued this long with no live worker for its queue is flagged and notified (once).
RUN_STALL_ALERT_AFTER = env_int("RUN_STALL_ALERT_AFTER", 120, minimum=1)
# Bearer token for scripts and CI on /api/v1/runs; unset: only staff sessions may use it.
RETRAIN_API_TOKEN = env_str("RETRAIN_API_TOKEN")

# Serving ----------------------------------------------------------------------------------
PREDICT_MAX_ROWS = env_int("PREDICT_MAX_ROWS", 10_000, minimum=1)
# Serve a recognised pipeline through predictor/serving/inference.py (checked equal at load) rather
# than through scikit-learn's own predict_proba and its per-call overhead.
COMPILED_INFERENCE = env_bool("COMPILED_INFERENCE", True)
# Types a model file may hold beyond scikit-learn's (predictor/serving/allowlist.py): type paths or
# module prefixes. What a model file itself lists as trusted is never read.
MODEL_TRUSTED_TYPES = env_dotted_list("MODEL_TRUSTED_TYPES", "mypkg.transformers.Clip or mypkg")
MODEL_POLL_INTERVAL = env_float("MODEL_POLL_INTERVAL", 2.0, minimum=0.1)
REGISTRY_SYNC_INTERVAL = env_float("REGISTRY_SYNC_INTERVAL", 20.0, minimum=0.1)
ROLLBACK_BAKE_WINDOW = env_int("ROLLBACK_BAKE_WINDOW", 15 * 60, minimum=0)
ROLLBACK_FAILURE_SHARE = env_float("ROLLBACK_FAILURE_SHARE", 0.5, minimum=0.0)
ROLLBACK_MIN_REQUESTS = env_int("ROLLBACK_MIN_REQUESTS", 20, minimum=1)
API_KEYS_REQUIRED = env_bool("API_KEYS_REQUIRED", False)
API_RATE_LIMIT = env_int("API_RATE_LIMIT", 6000, minimum=1)
# Rows predicted per minute per API key, unless the key sets its own; 0: rows are not limited.
API_ROW_RATE_LIMIT = env_int("API_ROW_RATE_LIMIT", 0, minimum=0)
# Share of predictions kept in the prediction log (ground truth and drift read it), and for how long.
PREDICTION_LOG_SAMPLE = env_float("PREDICTION_LOG_SAMPLE", 1.0, minimum=0.0)
if PREDICTION_LOG_SAMPLE > 1:
    raise ImproperlyConfigured(f"PREDICTION_LOG_SAMPLE={PREDICTION_LOG_SAMPLE} must be between 0 and 1")
PREDICTION_LOG_DAYS = env_int("PREDICTION_LOG_DAYS", 30, minimum=1)
# Hourly rollups of the log (counts, confusion cells, score histograms) outlive its rows: quality history.
MONITORING_ROLLUP_DAYS = env_int("MONITORING_ROLLUP_DAYS", 400, minimum=1)
# Feedback needs an API key even while predictions are open (keys on: a key labels only its own).
FEEDBACK_REQUIRES_KEY = env_bool("FEEDBACK_REQUIRES_KEY", False)
# A label for a prediction not written yet is held this long for its row, then dropped and counted.
FEEDBACK_HOLD_SECONDS = env_int("FEEDBACK_HOLD_SECONDS", 300, minimum=1)
# The peers whose X-Forwarded-For is believed when telling clients apart (who labelled, with keys
# off). Any other peer could write what it likes there, so its own address is the client's. A dyno
# is reached only through Heroku's router, which connects from the private network and appends the
# address it saw, so on Heroku the private ranges are the default.
TRUSTED_PROXIES = env_networks(
    "TRUSTED_PROXIES", ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"] if ON_HEROKU else []
)
# Rows the log may hold. The default fits app.json's smallest database, heroku-postgresql:essential-0
# (1 GB): a logged row takes about 424 bytes with its indexes (bench/prediction_log_size.py), so
# 1.5 million rows take some 640 MB and leave a third of the plan to everything else.
PREDICTION_LOG_MAX_ROWS = env_int("PREDICTION_LOG_MAX_ROWS", 1_500_000, minimum=1000)

# Drift (ml/drift/drift.py) ---------------------------------------------------------------
# A feature drifted when its PSI reaches DRIFT_PSI_THRESHOLD and its chi-square p-value is below
# DRIFT_ALPHA shared among the features (Bonferroni); fewer rows than DRIFT_MIN_ROWS: no verdict.
DRIFT_PSI_THRESHOLD = env_float("DRIFT_PSI_THRESHOLD", 0.2, minimum=0.001)
DRIFT_ALPHA = env_float("DRIFT_ALPHA", 0.05, minimum=1e-9)
if DRIFT_ALPHA >= 1:
    raise ImproperlyConfigured(f"DRIFT_ALPHA={DRIFT_ALPHA} must be below 1")
DRIFT_MIN_ROWS = env_int("DRIFT_MIN_ROWS", 200, minimum=1)
# Watching live serving (retraining/monitoring/triggers.py): beat compares the champion's recent logged inputs
# (the newest DRIFT_WINDOW_ROWS of the last DRIFT_WINDOW_HOURS) with its training profile, and its
# live quality over QUALITY_WINDOW_DAYS with its holdout score, every MONITOR_INTERVAL seconds.
# Whether that starts a run, and how often, is edited in the panel (TriggerSettings).
MONITOR_INTERVAL = env_int("MONITOR_INTERVAL", 60, minimum=1)
DRIFT_WINDOW_HOURS = env_float("DRIFT_WINDOW_HOURS", 24.0, minimum=0.01)
DRIFT_WINDOW_ROWS = env_int("DRIFT_WINDOW_ROWS", 5000, minimum=1)
QUALITY_WINDOW_DAYS = env_float("QUALITY_WINDOW_DAYS", 7.0, minimum=0.01)

# Notifications ----------------------------------------------------------------------------
SLACK_WEBHOOK_URL = env_str("SLACK_WEBHOOK_URL")
if SLACK_WEBHOOK_URL:
    env_url("SLACK_WEBHOOK_URL", SLACK_WEBHOOK_URL, {"http", "https"})
# The settings keep the real URLs; what is derived from them (runs, tags, answers, messages,
# logs) shows their secret parts masked, even where a tool echoes them away from the URL.
for _url in (
    DATABASE_URL,
    REDIS_URL,
    MLFLOW_TRACKING_URI,
    MLFLOW_REGISTRY_URI,
    MLFLOW_S3_ENDPOINT_URL,
    DATA_REGISTRY,
    DATA_REMOTE,
    DATA_REMOTE_ENDPOINT_URL,
    DATA_SOURCE_URL,
):
    protect_url(_url)
# A Slack webhook has no password: its path is the secret.
protect_url(SLACK_WEBHOOK_URL, path_is_secret=True)
NOTIFY_EMAILS = env_list("NOTIFY_EMAILS", [])
PUBLIC_URL = env_str("PUBLIC_URL", f"http://127.0.0.1:{PORT}").rstrip("/")
EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "retraining@localhost")

# Auth, i18n, static -----------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "panel-login"
LOGIN_REDIRECT_URL = "panel-dashboard"
LOGOUT_REDIRECT_URL = "panel-login"
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# Production hardening behind Heroku's router (which terminates TLS).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", SECURE_SSL_REDIRECT)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
# Every page loads its scripts and styles from this origin, or inline with the response's nonce
# (`request.csp_nonce`, only the API docs' Swagger UI start-up needs it), and nothing from any
# other origin: markup that got into a page by mistake can neither run nor restyle it. Images
# also from data: URIs, which Swagger UI's stylesheet draws its icons with.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Retraining model service",
    "DESCRIPTION": "Predictions from the champion model, and the retraining pipeline that replaces it.",
    "VERSION": "1.0.0",
    # 3.1 (JSON Schema 2020-12): a dataframe_split row is a tuple of typed values (prefixItems).
    "OAS_VERSION": "3.1.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_INCLUDE_SCHEMA": False,
    # The prediction endpoints are plain Django views (lean hot path), described by hand.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "predictor.api.openapi.add_serving_paths",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    # Every line is redacted: tracebacks of git, DVC or a driver may quote a URL with its credentials.
    "filters": {"redact": {"()": "ml.redact.RedactingFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "alembic": {"level": "WARNING"},
        "mlflow": {"level": "WARNING"},
    },
}
