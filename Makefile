# s3fed — the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test bench soak lint clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## Start a local federation on loopback with real demo data; prints the URLs. Ctrl-C stops it.
demo: install
	$(BIN)/s3fed demo

## The test suite (real nodes on loopback ports); under 10 minutes on 2 cores.
test: install
	$(BIN)/python -m pytest -m "not slow" -q

## Long-running tests (load, soak).
soak: install
	$(BIN)/python -m pytest -m slow -q

## Benchmarks (not part of `make test`).
bench: install
	$(BIN)/python -m tests.benchmarks $(BENCH_ARGS)

lint: install
	$(BIN)/ruff check node sync vocab tests

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache demo-data
