# Two commands: `make run` starts everything on embedded defaults, `make test` runs the suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
MLFLOW_PORT ?= 5000
export PORT MLFLOW_PORT

.PHONY: run test test-fast lint format bench-peers

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.prod-installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.prod-installed $@

run: $(VENV)/.prod-installed
	$(BIN)/python manage.py migrate --noinput -v0
	$(BIN)/python manage.py collectstatic --noinput -v0
	$(BIN)/python manage.py bootstrap
	@mkdir -p var
	@# honcho stops everything when one process exits: the worker is restarted instead (config/respawn.py).
	@# The MLflow UI installs its own virtualenv first (predictor/mlflow_ui.py): the API does not wait for it.
	@{ grep -E '^(web|beat):' Procfile; grep -E '^worker:' Procfile | sed 's/^worker: /worker: python -m config.respawn /'; \
	  echo "mlflow: python manage.py mlflow_ui --port $(MLFLOW_PORT)"; } > var/Procfile.run
	@echo ""
	@echo "  API          http://127.0.0.1:$(PORT)/api/v1/predict   (docs: http://127.0.0.1:$(PORT)/api/docs/)"
	@echo "  Panel        http://127.0.0.1:$(PORT)/panel/"
	@echo "  Admin        http://127.0.0.1:$(PORT)/admin/"
	@echo "  MLflow UI    http://127.0.0.1:$(MLFLOW_PORT)/   (first start: installed into .venv-mlflow-ui meanwhile)"
	@echo "  Ctrl-C stops every process. A worker that dies is started again (see the log)."
	@echo ""
	PATH="$(CURDIR)/$(BIN):$$PATH" exec $(BIN)/honcho start -f var/Procfile.run -d $(CURDIR)

# Tests keep their files (databases, MLflow store, broker) apart from the ones `make run` uses.
TEST_VAR := $(CURDIR)/var/test

test: $(VENV)/.dev-installed
	rm -rf $(TEST_VAR)
	$(BIN)/python manage.py collectstatic --noinput -v0
	VAR_DIR=$(TEST_VAR) $(BIN)/pytest $(PYTEST_ARGS)

test-fast: $(VENV)/.dev-installed
	rm -rf $(TEST_VAR)
	VAR_DIR=$(TEST_VAR) $(BIN)/pytest -m "not slow" $(PYTEST_ARGS)

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(VENV)/.dev-installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The serving peers bench/predict.py measures (MLServer, BentoML; skl2onnx + ONNX Runtime for
# bench/compiled_vs_onnx.py), each in its own virtualenv: their pins conflict with ours and each other's.
bench-peers:
	for peer in mlserver bentoml; do \
	  $(PYTHON) -m venv var/bench-venv/$$peer && \
	  var/bench-venv/$$peer/bin/pip install --quiet -r bench/requirements-$$peer.txt && \
	  touch var/bench-venv/$$peer/.installed || exit 1; \
	done
