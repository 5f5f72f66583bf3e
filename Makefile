# The two set-up commands are `make demo` and `make test`; both create .venv first.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-all test-lowest wheel-check lint bench bench-all clean

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

# The lower bounds of pyproject.toml's dependency ranges, tested: a second venv with every runtime
# dependency pinned to its lower bound (.ci/lowest_constraints.py) runs the suite on the source
# tree (the Cython extensions built by `install` against NumPy 2 also load under NumPy 1.26),
# without the slow and packaging tests. `make test` covers the newest releases the ranges allow.
LOWEST := .venv-lowest
test-lowest: install
	test -x $(LOWEST)/bin/python || $(PYTHON) -m venv $(LOWEST)
	$(LOWEST)/bin/python -m pip install --quiet --upgrade pip
	$(PYTHON) .ci/lowest_constraints.py > $(LOWEST)/constraints.txt
	$(PYTHON) .ci/lowest_constraints.py --requirements > $(LOWEST)/requirements.txt
	$(LOWEST)/bin/python -m pip install --quiet -c $(LOWEST)/constraints.txt \
		-r $(LOWEST)/requirements.txt
	$(LOWEST)/bin/python -m pip list --format=freeze > $(LOWEST)/installed.txt
	PYTHONPATH=$(CURDIR) $(LOWEST)/bin/python -m pytest -m "not slow" -q tests \
		--ignore=tests/packaging -p no:cacheprovider

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

# Every benchmark (about an hour on 2 cores; run it on a quiet machine, each script records the
# load average); peers from the bench extra, PyPSA in its own venv. Each script writes its own
# docs/benchmarks/<area>.md (+ .json of every run); collect.py assembles docs/benchmarks.md.
bench-all: install
	$(BIN)/python -m pip install --quiet --no-build-isolation -e ".[test,bench]"
	$(BIN)/python benchmarks/bench_acopf.py --repeats 3
	$(BIN)/python benchmarks/bench_ingest.py --repeats 5
	$(BIN)/python benchmarks/bench_forecast.py --threads 1
	$(BIN)/python benchmarks/bench_reconfigure.py --repeats 3
	$(BIN)/python benchmarks/bench_dispatch.py --simbench
	$(BIN)/python benchmarks/bench_formats.py --readings 35040 --repeats 5
	$(BIN)/python benchmarks/bench_store.py --meters 2000 --days 365 --pg-meters 571 --pg-days 365 --repeats 3
	$(BIN)/python benchmarks/bench_fleet.py --feeders 100 --workers 1 2 --repeats 1
	$(BIN)/python benchmarks/collect.py

clean:
	rm -rf build $(VENV) $(LOWEST) gridopt/_ext/*.so gridopt/_ext/*.c ext/*.c
