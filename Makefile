# Two commands do everything: `make demo` and `make test` (each creates .venv first).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv demo test bench bench-accuracy bench-throughput bench-proxy clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[proxy,test]"
	touch $(STAMP)

demo: venv
	$(BIN)/python examples/demo.py

test: venv
	REDACTOR_REQUIRE_PG=1 $(BIN)/python -m pytest -q

$(VENV)/.bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[proxy,test,bench]"
	touch $(VENV)/.bench

bench-accuracy: $(VENV)/.bench
	$(BIN)/python benchmarks/accuracy.py

bench-proxy: venv
	$(BIN)/python benchmarks/proxy_load.py

bench-throughput: $(VENV)/.bench
	$(BIN)/python benchmarks/throughput.py

bench: bench-accuracy bench-throughput

clean:
	rm -rf $(VENV) .pytest_cache build dist
