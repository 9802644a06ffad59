# certsync: two commands matter on a fresh machine, `make run` and `make test`.
# Every target installs what it needs first (venv, npm packages, Debian packages).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The venv remembers which Python built it: `make test PYTHON=python3.12` rebuilds it for 3.12.
PY_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
INSTALLED  := $(VENV)/.installed-py$(or $(PY_VERSION),-missing)
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEBS   := pebble chromium

.PHONY: deps run test test-unit lint bench package clean

$(INSTALLED): requirements.txt requirements-dev.txt
	@[ -n "$(PY_VERSION)" ] || { echo "PYTHON=$(PYTHON) does not run; point it at Python 3.11 or 3.12" >&2; exit 1; }
	$(PYTHON) -m venv --clear $(VENV)
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

deps: $(INSTALLED) node_modules/.installed .debs-installed

run: deps
	$(BIN)/python -m devtools.stack

test: deps lint
	$(BIN)/python -m pytest

# The fast ring: domain and service-layer tests on the in-memory fakes, and the fake half of the
# adapter contract tests. Nothing is started (the session fixtures refuse to).
FAST_RING := tests/unit tests/service tests/contract tests/acme/test_issuer_contract.py

test-unit: $(INSTALLED)
	CERTSYNC_FAST_RING=1 $(BIN)/python -m pytest $(FAST_RING) -m "not emulators"

lint: $(INSTALLED)
	$(BIN)/ruff check shared functions devtools function_app.py
	$(BIN)/mypy

bench: deps
	$(BIN)/python -m bench

# The deployment package as `func azure functionapp publish` builds it (.funcignore applied):
# dist/package/ and dist/certsync.zip. tests/package runs it in a fresh virtualenv.
package:
	@[ -n "$(PY_VERSION)" ] || { echo "PYTHON=$(PYTHON) does not run" >&2; exit 1; }
	$(PYTHON) -m devtools.package

clean:
	rm -rf $(VENV) node_modules .data .pytest_cache dist
