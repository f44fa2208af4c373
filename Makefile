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
	$(BIN)/analyzer detect data/sample/messages.parquet --window 60 --out $(OUT)/detect \
	    --server-log data/sample/server_requests.jsonl --quiet
	$(BIN)/analyzer investigate data/sample/messages.parquet --complaints data/sample/complaints.csv \
	    --server-log data/sample/server_requests.jsonl --out $(OUT)/detect
	$(BIN)/analyzer failures data/sample/messages.parquet --out $(OUT)/detect \
	    --server-log data/sample/server_requests.jsonl --quiet
	$(BIN)/analyzer optouts data/sample/messages.parquet --out $(OUT)/detect --quiet
	@# The application's ingress log: Twilio's webhooks and status callbacks to it.
	$(BIN)/analyzer inbound data/sample/messages.parquet --out $(OUT)/detect \
	    --server-log data/sample/app_requests.jsonl
	$(BIN)/analyzer report $(OUT)/detect --out $(OUT)/report --ticket
	@echo "Demo report: $(CURDIR)/$(OUT)/report/index.html"

test: $(DEVSTAMP)
	$(BIN)/ruff check analyzer tests benchmarks
	$(BIN)/mypy analyzer
	$(BIN)/pytest -q

bench: $(DEVSTAMP)
	$(BIN)/python -m benchmarks.bench_detect
	$(BIN)/python -m benchmarks.bench_month
	$(BIN)/python -m benchmarks.bench_crossref
	$(BIN)/python -m benchmarks.bench_export
	$(BIN)/python -m benchmarks.bench_report
	$(BIN)/python -m benchmarks.bench_logs
	$(BIN)/python -m benchmarks.bench_failures
	$(BIN)/python -m benchmarks.bench_optouts
	$(BIN)/python -m benchmarks.bench_verdicts --markdown

sample: $(STAMP)
	$(BIN)/analyzer simulate --out data/sample --messages 3000 --seed 7 --quiet \
	    --log-format twilio-sdk --log-format twilio-sdk-legacy --log-format combined --log-format envoy

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
