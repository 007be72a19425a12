# The two commands a newcomer needs (see README): `make demo` and `make test`.
# Both create .venv and install every distribution editable on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SRC_DIRS := core/src plugins/local_transport/src plugins/json_serializer/src examples/example_service/src $(wildcard plugins/redis_transport/src) $(wildcard plugins/zmq_transport/src)
DISTS := ./core $(patsubst %,./%,$(wildcard plugins/*)) ./examples/example_service

.PHONY: venv demo test lint typecheck pytest bench clean

$(STAMP): requirements-dev.txt $(wildcard core/pyproject.toml plugins/*/pyproject.toml examples/*/pyproject.toml)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt $(foreach d,$(DISTS),-e $(d))
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

test: lint typecheck pytest

bench: $(STAMP)
	scripts/ensure-redis.sh
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .interop-venv .mypy_cache .ruff_cache
