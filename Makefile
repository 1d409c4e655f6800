# EventPay: `make run` serves the whole product, `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | md5sum | cut -c1-12)
NODE_STAMP := frontend/node_modules/.installed-$(shell cat frontend/package-lock.json 2>/dev/null | md5sum | cut -c1-12)
FRONTEND_SOURCES := $(shell find frontend/src frontend/public frontend/index.html frontend/vite.config.ts -type f 2>/dev/null)

# The tests' own configuration: the machine's PostgreSQL and Redis (a database number of their own, for
# the broker and the cache, whose keys carry their own prefix);
# localstripe is started by the test session on a free port.
TEST_ENV := DATABASE_URL=$${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/eventpay} \
	REDIS_URL=$${TEST_REDIS_URL:-redis://127.0.0.1:6379/11} CACHE_URL=$${TEST_REDIS_URL:-redis://127.0.0.1:6379/11} \
	STRIPE_SECRET_KEY=sk_offline_eventpay \
	STRIPE_API_BASE=http://127.0.0.1:8420 STRIPE_WEBHOOK_SECRET=whsec_test_current,whsec_test_previous \
	DJANGO_DEBUG=true

.PHONY: run test install frontend lint test-python test-frontend chromium wrk clean bench bench-scale soak audit

run: install frontend/dist/index.html
	$(BIN)/python -m offline.run

test: install chromium wrk frontend/dist/index.html lint test-frontend test-python

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

$(NODE_STAMP): frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund
	rm -f frontend/node_modules/.installed-* && touch $@

frontend/dist/index.html: $(NODE_STAMP) $(FRONTEND_SOURCES)
	cd frontend && npm run build

test-frontend: $(NODE_STAMP)
	cd frontend && npm test

# Python style and architecture: ruff (lint and format), and the import contracts in pyproject.toml
# (the apps depend one way; only payments/stripe_gateway.py imports stripe); mypy's types (pyproject.toml:
# strict on the payment services, the gateway, events and the worker); the frontend's ESLint and tsc.
lint: install $(NODE_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	DJANGO_DEBUG=true $(BIN)/mypy
	cd frontend && npm run lint && npm run typecheck

test-python: install
	$(TEST_ENV) $(BIN)/python -m pytest $(PYTEST_ARGS)

# Load and burst benchmarks of the webhook path on a stack of their own (a fresh PostgreSQL database
# eventpay_bench, a private Redis, gunicorn, Celery): writes bench/BENCHMARKS.md. Takes about 5 minutes.
bench: install wrk
	$(BIN)/python -m bench.run

# Every read path (API lists, metrics, admin, beat's selectors) and webhook ingest timed on a database of its
# own grown to production size: 10M inbox rows and 1M events by default (about 15 minutes to build on 2 cores;
# kept for `--reuse`). BENCH_SCALE_ARGS='--rows 200000 --events 20000' for a quick run. Writes its section of
# bench/BENCHMARKS.md.
bench-scale: install wrk
	$(BIN)/python -m bench.scale $(BENCH_SCALE_ARGS)

# The production processes under steady mixed traffic with faults on a schedule, for 60 minutes by default
# (SOAK_ARGS='--minutes 3' for a quick look, '--minutes 480' for a night): writes bench/SOAK.md and its plots
# while it runs. Not part of `make test`.
soak: install wrk
	$(BIN)/python -m bench.soak $(SOAK_ARGS)

# Code and dependency audits; docs/SECURITY.md gives every accepted finding and its reason.
audit: install $(NODE_STAMP)
	$(BIN)/bandit -q -r core events payments worker -b docs/bandit-baseline.json
	$(BIN)/pip-audit --skip-editable --progress-spinner off
	@mkdir -p var && cd frontend && if npm audit --omit=dev --json > ../var/npm-audit.json 2>/dev/null; then \
		echo "npm audit: no known vulnerabilities in the production dependencies"; \
	elif grep -q '"auditReportVersion"' ../var/npm-audit.json; then npm audit --omit=dev; exit 1; \
	else echo "npm audit: the registry's advisory service did not answer; nothing audited (see docs/SECURITY.md)"; fi

# The end-to-end tests drive Debian's Chromium (Playwright never downloads a browser here).
chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# The benchmarks' load generator, also run by their smoke tests (tests/bench/) in `make test`.
wrk:
	@command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }

clean:
	rm -rf $(VENV) frontend/node_modules frontend/dist var

# The Docker stack built, run and broken on purpose (deploy/tests, docs/DEPLOYMENT.md): installs and starts
# the engine when missing; about 8 minutes, 13 from nothing. Not part of `make test`; CI runs it after `make test`.
.PHONY: test-deploy
test-deploy: install chromium
	deploy/test-deploy.sh $(DEPLOY_ARGS)
