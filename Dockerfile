# One image for web, worker, beat and the release step. It holds the MLflow client (mlflow-skinny);
# the MLflow server of docker-compose.yml has its own image (compose/mlflow.Dockerfile).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VAR_DIR=/app/var \
    PORT=8000

# git: the data registry is a git + DVC repository.
RUN apt-get update \
    && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 app

WORKDIR /app
# Production dependencies only: test and lint tools stay in requirements-dev.txt.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY --chown=app:app . .
# Static files are collected at build time, as Heroku's buildpack does: the release step and
# the processes never write them.
RUN SECRET_KEY=collectstatic-only VAR_DIR=/tmp/build-var python manage.py collectstatic --noinput -v0 \
    && rm -rf /tmp/build-var \
    && mkdir -p /app/var \
    && chown -R app:app /app/var /app/staticfiles

USER app
EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "--config", "config/gunicorn.py"]
