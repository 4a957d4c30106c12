# Working on the template: `make demo` bakes and serves a service, `make test` runs every test tier.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CACHE ?= $(HOME)/.cache/fastapi-sentry-template
DEMO_DIR ?= $(CACHE)/demo
PORT ?= 8000
PYTEST_ARGS ?=

export TEMPLATE_CACHE_DIR ?= $(CACHE)
# Every tier finds the tools `make install` put into the venv (uv, cookiecutter, schemathesis) before any other.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: help install demo demo-port test test-template test-generated test-e2e test-fuzz test-browser bench bench-jobs bench-logs lint clean

help:
	@echo "make demo   bake a service with default answers and serve it on 127.0.0.1:$(PORT)"
	@echo "make test   install what the template's tests need and run every tier"
	@echo "make test-e2e   only the end-to-end tier (real bugsink, uvicorn, PostgreSQL)"
	@echo "make test-fuzz  only the schemathesis run against the baked service"
	@echo "make test-browser  only the docs pages in headless Chromium (Debian's package, installed if missing)"
	@echo "make bench  benchmark the baked service against bare FastAPI (not part of make test)"
	@echo "make bench-jobs  jobs per second through one worker, Sentry off and on, and what an enqueue costs"
	@echo "make bench-logs  what a log line costs with Sentry Logs off and on"

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python --group dev
	touch $@

install: $(BIN)/.installed

# Fails at once, before anything is installed, when something already holds the port.
demo-port:
	@$(PYTHON) -c 'import socket; socket.create_server(("127.0.0.1", $(PORT))).close()' 2>/dev/null || \
		{ echo "make demo: 127.0.0.1:$(PORT) is in use; pick a free port, e.g. make demo PORT=8010" >&2; exit 1; }

demo: demo-port install
	rm -rf "$(DEMO_DIR)"
	$(BIN)/cookiecutter --no-input --output-dir "$(DEMO_DIR)" . > /dev/null
	$(PYTHON) -m venv "$(DEMO_DIR)/venv"
	cd "$(DEMO_DIR)/my-service" && "$(DEMO_DIR)/venv/bin/python" -m pip install --quiet -e ".[dev]"
	cd "$(DEMO_DIR)/my-service" && "$(DEMO_DIR)/venv/bin/alembic" upgrade head
	@echo ""
	@echo "Serving $(DEMO_DIR)/my-service on http://127.0.0.1:$(PORT) (Ctrl-C stops it). Try:"
	@echo "  curl -i http://127.0.0.1:$(PORT)/health/ready"
	@echo "  curl -i -X POST http://127.0.0.1:$(PORT)/api/v1/posts -H 'Content-Type: application/json' -d '{\"title\": \"Hello\", \"body\": \"First\"}'"
	@echo "  curl -i http://127.0.0.1:$(PORT)/api/v1/posts/999"
	@echo "  curl -i http://127.0.0.1:$(PORT)/sentry-debug"
	@echo "  open http://127.0.0.1:$(PORT)/docs"
	cd "$(DEMO_DIR)/my-service" && "$(DEMO_DIR)/venv/bin/uvicorn" app.main:app --host 127.0.0.1 --port $(PORT)

test: lint
	$(BIN)/python -m pytest tests $(PYTEST_ARGS)

test-template: install
	$(BIN)/python -m pytest tests --ignore=tests/e2e -m "not slow" $(PYTEST_ARGS)

test-generated: install
	$(BIN)/python -m pytest tests/test_generated_project.py $(PYTEST_ARGS)

test-e2e: install
	$(BIN)/python -m pytest tests/e2e $(PYTEST_ARGS)

test-fuzz: install
	$(BIN)/python -m pytest tests/test_fuzz.py $(PYTEST_ARGS)

test-browser: install
	$(BIN)/python -m pytest tests/test_browser.py $(PYTEST_ARGS)

# wrk (Debian's package) is the load generator the published numbers come from; without it the bench falls back
# to a slower Python generator.
bench: install
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; } || \
		echo "make bench: wrk not found and not installable here; using the Python load generator" >&2
	$(BIN)/python -m bench $(BENCH_ARGS)
	$(BIN)/python -m bench.workers

bench-jobs: install
	$(BIN)/python -m bench.jobs $(BENCH_ARGS)

bench-logs: install
	$(BIN)/python -m bench.logs $(BENCH_ARGS)

lint: install
	$(BIN)/ruff check hooks tests bench
	$(BIN)/ruff format --check hooks tests bench

clean:
	rm -rf $(VENV) .pytest_cache
