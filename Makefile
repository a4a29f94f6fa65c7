# The two commands: `make run` (embedded, no server to install) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test test-faults bench lint lint-openapi openapi typecheck messages clean help

help:
	@echo "make run   - install, migrate, load demo data, serve web + worker + beat on :8000"
	@echo "make test  - install and run the suite (PostgreSQL and Redis when reachable)"
	@echo "make test-faults - the long fault tests: throwaway Redis, PostgreSQL and app servers"
	@echo "make bench - fill a fresh PostgreSQL database with 1M cases and print the figures"
	@echo "make lint  - ruff, mypy, the import contracts (lint-imports), pip-audit, the API schema"
	@echo "make openapi - write the served API schema to docs/openapi.json (commit it)"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Compiled catalogues are build output: compiled at install time when gettext is present.
messages: $(STAMP)
	@if ! ls locale/*/LC_MESSAGES/*.po >/dev/null 2>&1; then \
		echo "No translation catalogues yet: pages and emails are in English"; \
	elif command -v msgfmt >/dev/null 2>&1; then \
		$(BIN)/python manage.py compilemessages --ignore=.venv -v0; \
	else echo "gettext (msgfmt) not found: pages and emails stay in English"; fi

# `make run PORT=8010` serves elsewhere; links in emails and in seed_demo's output follow it.
PORT ?= 8000
run: export SITE_URL ?= http://127.0.0.1:$(PORT)
run: $(STAMP) messages
	mkdir -p var/celery-broker/processed var/mail var/private-media
	DEBUG=true $(BIN)/python manage.py migrate --no-input -v0
	DEBUG=true $(BIN)/python manage.py seed_demo
	@echo "Emails are written to var/mail/ (one .log file per message)."
	@echo "Serving on $$SITE_URL/ (admin: $$SITE_URL/admin/login/)"
	@trap 'kill 0' EXIT INT TERM; \
	DEBUG=true $(BIN)/celery -A disputes_portal worker -B --loglevel=INFO --concurrency=1 \
		--pool=solo --schedule=var/celerybeat-schedule & \
	DEBUG=true $(BIN)/python manage.py runserver 127.0.0.1:$(PORT) --noreload; \
	wait

# The fault tests (marked `faults`) stop and start real services; `make test-faults` runs them.
# A -m in PYTEST_ARGS comes later on the command line and wins over the default.
test: $(STAMP) messages
	@eval "$$($(BIN)/python scripts/detect_services.py)"; \
	$(BIN)/python -m pytest -m "not faults" $(PYTEST_ARGS)

test-faults: $(STAMP) messages
	@eval "$$($(BIN)/python scripts/detect_services.py)"; \
	$(BIN)/python -m pytest -m faults $(PYTEST_ARGS)

# The benchmark: a fresh database (disputes_bench) filled by bench_data, then every figure.
# BENCH_SIZE and BENCH_ARGS make a smaller or shorter run, e.g.
#   make bench BENCH_SIZE="--merchants 100 --orders 200000 --disputes 100000"
BENCH_DB ?= disputes_bench
BENCH_SIZE ?= --merchants 1000 --orders 2000000 --disputes 1000000
BENCH_ARGS ?=
bench: $(STAMP)
	@eval "$$($(BIN)/python scripts/detect_services.py)"; \
	export DATABASE_URL="$${DATABASE_URL%/*}/$(BENCH_DB)"; \
	if [[ -n "$${REDIS_URL:-}" ]]; then export CELERY_BROKER_URL="$${REDIS_URL%/*}/15"; fi; \
	$(BIN)/python scripts/bench_database.py && \
	$(BIN)/python manage.py migrate --no-input -v0 && \
	$(BIN)/python manage.py bench_data $(BENCH_SIZE) && \
	$(BIN)/python manage.py bench $(BENCH_ARGS)

# Style, types, the shape of the code (import-linter contracts in pyproject.toml), and known
# vulnerabilities in the installed dependencies (pip-audit; AUDIT_REQUIRED=1 fails when offline).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports
	$(BIN)/python scripts/audit_dependencies.py
	$(MAKE) --no-print-directory lint-openapi

# The API's contract (docs/api-changelog.md): docs/openapi.json is the schema /api/v1/openapi.json
# serves (`make openapi` rewrites it, the same bytes on every machine); it passes Redocly's
# recommended rules (redocly.yaml; @redocly/cli pinned in package-lock.json, installed by npm ci),
# and openapi-python-client generates a client from it without a warning. Redocly's telemetry and
# its update check are off: nothing leaves this machine.
openapi: $(STAMP)
	$(BIN)/python manage.py export_openapi

node_modules/.package-lock.json: package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { \
		echo "make lint needs Node.js and npm, for @redocly/cli (package.json): install them"; \
		exit 1; }
	npm ci --no-audit --no-fund

lint-openapi: $(STAMP) node_modules/.package-lock.json
	$(BIN)/python manage.py export_openapi --check
	REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true npx --no-install redocly lint
	@out=$$(mktemp -d); \
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/openapi-python-client generate --path docs/openapi.json \
		--output-path "$$out/client" --meta none >"$$out/log" 2>&1; status=$$?; \
	cat "$$out/log"; \
	if [ $$status -ne 0 ] || grep -qiE "warning|error" "$$out/log"; then \
		rm -rf "$$out"; echo "openapi-python-client: the schema needs fixing (above)"; exit 1; fi; \
	rm -rf "$$out"; echo "openapi-python-client: a client generates without warnings"

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
