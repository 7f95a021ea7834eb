# werving: the commands a newcomer, a developer and CI run.
#   make run    the whole system in one process (SQLite, in-process broker, local mail sink)
#   make test   every test; integration tests need PostgreSQL and RabbitMQ on 127.0.0.1
#   make lint   ruff, mypy (strict) and the import-linter contracts
#   make bench  throughput and latency on RabbitMQ and PostgreSQL (docs/benchmarks.md)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test unit integration lint format bench migrate contracts clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/werving dev

test: $(STAMP)
	$(BIN)/pytest

unit: $(STAMP)
	$(BIN)/pytest tests/unit

integration: $(STAMP)
	$(BIN)/pytest tests/integration

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy shared services tests bench
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python bench/run.py

migrate: $(STAMP)
	$(BIN)/werving migrate

contracts: $(STAMP)
	$(BIN)/werving contracts docs/contracts

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
