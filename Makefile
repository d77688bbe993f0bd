# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv and
# install what they need; nothing relies on something installed by hand.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test bench serve clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/python -m demo.run
	CATALOG_READ_ACCESS=open $(BIN)/catalog serve

test: install
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python -m bench

serve: install
	$(BIN)/catalog serve

clean:
	rm -rf catalog.db* mlflow.db* mlruns mlartifacts data demo-out
