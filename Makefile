# Two commands are the contract: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev
OUT    ?= out/demo

.PHONY: demo test lint bench sample clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(DEVSTAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(STAMP)
	$(BIN)/analyzer detect data/sample/messages.parquet --window 60 --out $(OUT)/detect
	@echo "Demo output: $(OUT)/detect"

test: $(DEVSTAMP)
	$(BIN)/ruff check analyzer tests benchmarks
	$(BIN)/mypy analyzer
	$(BIN)/pytest -q

bench: $(DEVSTAMP)
	$(BIN)/python benchmarks/bench_detect.py

sample: $(STAMP)
	$(BIN)/analyzer simulate --out data/sample --messages 3000 --seed 7 --quiet \
	    --log-format twilio-sdk --log-format twilio-sdk-legacy --log-format combined --log-format envoy

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
