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
SRC_DIRS := core/src plugins/local_transport/src plugins/json_serializer/src examples/example_service/src $(wildcard plugins/redis_transport/src) $(wildcard plugins/zmq_transport/src) plugins/otel/src
PYPROJECTS := pyproject.toml $(wildcard core/pyproject.toml plugins/*/pyproject.toml examples/*/pyproject.toml)
# uv uses this machine's Python and never downloads one.
export UV_PYTHON := $(PYTHON)
export UV_PYTHON_DOWNLOADS := never

.PHONY: venv demo test lint typecheck pytest docs lowest explore bench clean lock lock-check upgrade

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

# lint-imports checks the layering contracts in pyproject.toml ([tool.importlinter]).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# src/ strictly; then tests/, bench/ and scripts/ with the same configuration. Programs that run as
# scripts (sibling imports from their own directory) are checked with that directory as their path.
typecheck: $(STAMP)
	$(BIN)/mypy $(SRC_DIRS)
	$(BIN)/mypy tests bench scripts
	MYPYPATH=bench/workloads $(BIN)/mypy bench/workloads/*.py
	MYPYPATH=tests/pysoa149 $(BIN)/mypy tests/pysoa149/peer_client.py tests/pysoa149/peer_server.py
	MYPYPATH=tests/thirdparty_plugin/src $(BIN)/mypy tests/thirdparty_plugin/src/soa_testplugin_echo/*.py

pytest: $(STAMP)
	scripts/ensure-redis.sh
	$(BIN)/pytest $(PYTEST_ARGS)

# The documentation site, into site/. --strict: a broken link or anchor, a page missing from the nav,
# or an API reference to a name that no longer exists fails the build.
# Also renders the pending changelog fragments (changes/), so a misnamed fragment fails here.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet
	@$(BIN)/towncrier build --draft --version next >/dev/null 2>&1 || $(BIN)/towncrier build --draft --version next

test: lock-check lint typecheck docs pytest

# The published lower bounds are true: installs every distribution with its direct dependencies at
# the lowest versions their bounds allow (uv's lowest-direct resolution) into $(LOWEST_VENV), apart
# from uv.lock (`uv pip`, so the lock is never touched), and runs the core unit tests, a Redis
# round trip and soa-otel's middleware tests there (under a minute). CI runs it after `make test`;
# raise a bound that fails here.
LOWEST_VENV := .venv-lowest
LOWEST_PACKAGES := -e 'core[django,testplan,testing]' -e plugins/local_transport -e plugins/json_serializer -e plugins/redis_transport -e plugins/zmq_transport -e plugins/otel
LOWEST_TOOLS := 'pytest>=8.3' 'pytest-timeout>=2.3' 'hypothesis>=6.100' 'pytz>=2019.1' 'parameterized>=0.9'
LOWEST_TESTS := tests/core tests/redis_transport/test_end_to_end.py tests/otel/test_middleware.py -m 'not slow' \
	--ignore=tests/core/test_packaging.py --ignore=tests/core/plugins/test_thirdparty_plugin.py
lowest: $(UV)
	rm -rf $(LOWEST_VENV)
	$(UV) venv --quiet $(LOWEST_VENV)
	$(UV) pip install --quiet --python $(LOWEST_VENV)/bin/python --resolution lowest-direct $(LOWEST_PACKAGES) $(LOWEST_TOOLS)
	$(UV) pip list --python $(LOWEST_VENV)/bin/python
	scripts/ensure-redis.sh
	$(LOWEST_VENV)/bin/pytest -q $(LOWEST_TESTS)

# The property tests with fresh random examples (make test runs them derandomized: see tests/conftest.py).
explore: $(STAMP)
	HYPOTHESIS_PROFILE=explore $(BIN)/pytest $(shell grep -rl --include='test_*.py' '^from hypothesis import' tests) $(PYTEST_ARGS)

bench: $(STAMP)
	scripts/ensure-redis.sh
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(LOWEST_VENV) $(TOOLS) .interop-venv .mypy_cache .ruff_cache .import_linter_cache site
