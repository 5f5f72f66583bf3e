# The two set-up commands are `make demo` and `make test`; both create .venv first.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-all wheel-check lint bench bench-all clean

install: $(STAMP)

$(STAMP): pyproject.toml setup.py $(wildcard ext/*.pyx ext/*.pxd)
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=/path/to/python3.11 ...'"; exit 2; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "setuptools>=77" wheel "Cython>=3.0,<4" "numpy>=1.26,<3"
	$(BIN)/python -m pip install --quiet --no-build-isolation -e ".[test]"
	touch $(STAMP)

demo: install
	$(BIN)/gridopt demo

test: install
	$(BIN)/python -m pytest -m "not slow" -q

test-all: install
	$(BIN)/python -m pytest -q

# What `pip install .` gives a user: build the wheel from a copy of the source, install it into a
# fresh venv that cannot see this checkout, run `gridopt opf` and `gridopt demo` from elsewhere
# (tests/packaging, also part of `make test`).
wheel-check: install
	$(BIN)/python -m pytest tests/packaging -q

# ruff, mypy, and the layer contracts of pyproject.toml ([tool.importlinter]; docs/architecture.md).
lint: install
	$(BIN)/ruff check gridopt tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: install
	$(BIN)/python benchmarks/bench_acopf.py
	$(BIN)/python benchmarks/collect.py

# Every benchmark (about an hour on 2 cores); peers from the bench extra, PyPSA in its own venv.
bench-all: install
	$(BIN)/python -m pip install --quiet --no-build-isolation -e ".[test,bench]"
	$(BIN)/python benchmarks/bench_acopf.py
	$(BIN)/python benchmarks/bench_ingest.py
	$(BIN)/python benchmarks/bench_forecast.py --threads 1
	$(BIN)/python benchmarks/bench_reconfigure.py
	$(BIN)/python benchmarks/bench_dispatch.py
	$(BIN)/python benchmarks/collect.py

clean:
	rm -rf build $(VENV) gridopt/_ext/*.so gridopt/_ext/*.c ext/*.c
