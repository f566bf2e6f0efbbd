# Every target bootstraps .venv itself, so a fresh machine needs only Python 3.11, pip and make.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
# Re-install only when the project's metadata changed (quick when already up to date).
RUN_STAMP  := $(VENV)/.stamp-run
TEST_STAMP := $(VENV)/.stamp-test
SERVE_ARGS ?=
PYTEST_ARGS ?=

.PHONY: serve test lint typecheck pytest bench clean

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
	$(VENV)/bin/mypy --strict mcp_trio supervision

pytest: $(TEST_STAMP)
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# The README's test command: lint, types, then the tests (pytest's summary line comes last).
test: lint typecheck pytest

# Benchmarks are programs that print figures, never timed tests.
bench: $(TEST_STAMP)
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .hypothesis build *.egg-info
