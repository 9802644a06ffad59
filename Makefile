# certsync: two commands matter on a fresh machine, `make run` and `make test`.
# Every target installs what it needs first (venv, npm packages, Debian packages).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEBS   := pebble chromium

.PHONY: deps run test test-unit lint bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

.debs-installed:
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

deps: $(VENV)/.installed node_modules/.installed .debs-installed

run: deps
	$(BIN)/python -m devtools.stack

test: deps
	$(BIN)/python -m pytest

# The fast ring: domain and service-layer tests on the in-memory fakes, and the fake half of the
# adapter contract tests. Nothing is started (the session fixtures refuse to).
FAST_RING := tests/unit tests/service tests/contract

test-unit: $(VENV)/.installed
	CERTSYNC_FAST_RING=1 $(BIN)/python -m pytest $(FAST_RING) -m "not emulators"

lint: $(VENV)/.installed
	$(BIN)/ruff check shared functions devtools function_app.py
	$(BIN)/mypy

bench: deps
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) node_modules .data .pytest_cache
