# The MLflow tracking server of docker-compose.yml: the full mlflow package (server and UI), which
# the app's image (../Dockerfile, requirements.txt: mlflow-skinny) does not carry.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 mlflow

WORKDIR /home/mlflow
COPY requirements-mlflow-ui.txt .
RUN pip install -r requirements-mlflow-ui.txt

USER mlflow
EXPOSE 5000
CMD ["mlflow", "server", "--host", "0.0.0.0", "--port", "5000"]
