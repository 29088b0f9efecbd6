# Two commands: `make run` serves the whole product on the embedded SQLite default,
# `make test` runs the whole suite. Both set up .venv on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

# the demo screens dealers against the synthetic blacklist `demo seed` writes (unless one is configured)
run: export RISK_BLACKLIST_FILE ?= ./var/blacklist.csv
run: $(STAMP)
	$(BIN)/risk-engine db upgrade
	$(BIN)/risk-engine demo seed --if-empty
	$(BIN)/risk-engine serve --host 127.0.0.1 --port 8000

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) var .pytest_cache
