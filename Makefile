# The two commands a newcomer needs (see README): `make demo` and `make test`.
# Both install uv (pinned below) and then exactly the versions in uv.lock into .venv on first use:
# every distribution of the workspace editable, plus the development tools.
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SRC_DIRS := core/src plugins/local_transport/src plugins/json_serializer/src examples/example_service/src $(wildcard plugins/redis_transport/src) $(wildcard plugins/zmq_transport/src)
PYPROJECTS := pyproject.toml $(wildcard core/pyproject.toml plugins/*/pyproject.toml examples/*/pyproject.toml)
# uv uses this machine's Python and never downloads one.
export UV_PYTHON := $(PYTHON)
export UV_PYTHON_DOWNLOADS := never

.PHONY: venv demo test lint typecheck pytest explore bench clean lock lock-check upgrade

$(UV):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet "uv==$(UV_VERSION)"

# Fails, naming the fix, when a pyproject.toml changed without `uv lock` (CI runs this first).
lock-check: $(UV)
	@$(UV) lock --check --quiet || { echo "uv.lock is out of date with the pyproject.toml files: run 'make lock' (or 'make upgrade') and commit uv.lock" >&2; exit 1; }

lock: $(UV)
	$(UV) lock

# Refreshes every locked version to the newest release the bounds allow; review and commit uv.lock.
upgrade: $(UV)
	$(UV) lock --upgrade

$(STAMP): uv.lock $(PYPROJECTS) | $(UV)
	$(UV) sync --locked --quiet
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	scripts/ensure-redis.sh || echo "No redis-server: the demo runs over the local transport"
	$(BIN)/python -m example_service.demo $(DEMO_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy $(SRC_DIRS)

pytest: $(STAMP)
	scripts/ensure-redis.sh
	$(BIN)/pytest $(PYTEST_ARGS)

test: lock-check lint typecheck pytest

# The property tests with fresh random examples (make test runs them derandomized: see tests/conftest.py).
explore: $(STAMP)
	HYPOTHESIS_PROFILE=explore $(BIN)/pytest $(shell grep -rl --include='test_*.py' '^from hypothesis import' tests) $(PYTEST_ARGS)

bench: $(STAMP)
	scripts/ensure-redis.sh
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(TOOLS) .interop-venv .mypy_cache .ruff_cache
