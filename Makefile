# One-command set-up, demo and tests. Every target creates the environment
# first from requirements/lock.txt, so a fresh clone needs nothing else.
PYTHON ?= python3.11
VENV := .venv
CORES ?= 2
STAMP := $(VENV)/.installed
FASHION_MNIST_DIR := /usr/share/datasets/fashion-mnist
export HF_HUB_OFFLINE := 1
export MPLBACKEND := Agg

.PHONY: setup demo test mlflow-ui clean-results

$(STAMP): requirements/lock.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/lock.txt
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -e .
	@# Fashion-MNIST comes from Debian's dataset-fashion-mnist package where we can install it.
	@if [ ! -f $(FASHION_MNIST_DIR)/train-images-idx3-ubyte.gz ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian package dataset-fashion-mnist into $(FASHION_MNIST_DIR)"; \
		apt-get install -y -q dataset-fashion-mnist >/dev/null || \
		{ apt-get update -q >/dev/null && apt-get install -y -q dataset-fashion-mnist >/dev/null; } || \
		echo "could not install dataset-fashion-mnist; the workflow will try the other mirrors"; \
	fi
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(VENV)/bin/snakemake --cores $(CORES) all_tables
	@echo "Tables: results/tables/   Plots: results/plots/   MLflow store: results/mlflow.db"

test: setup
	$(VENV)/bin/python -m pytest -q tests

# The MLflow UI on http://127.0.0.1:$(MLFLOW_PORT), one row per training run; loopback only.
MLFLOW_PORT ?= 5000
mlflow-ui: setup
	$(VENV)/bin/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/results/mlflow.db --host 127.0.0.1 --port $(MLFLOW_PORT) --workers 1

clean-results:
	rm -rf results .snakemake
