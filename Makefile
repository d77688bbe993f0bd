# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv and
# install what they need; nothing relies on something installed by hand.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install chromium demo test bench serve clean

# Debian's Chromium for the browser tests (tests/test_ui_browser.py drives it with Playwright).
CHROMIUM := /usr/bin/chromium
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/python -m demo.run
	CATALOG_READ_ACCESS=open $(BIN)/catalog serve

chromium:
	@test -x $(CHROMIUM) || { echo "installing chromium for the browser tests (apt-get)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium; }

test: install chromium
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python -m bench

serve: install
	$(BIN)/catalog serve

clean:
	rm -rf catalog.db* mlflow.db* mlruns mlartifacts data demo-out
