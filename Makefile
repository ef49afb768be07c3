# The two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
export PORT HOST

.PHONY: run test venv lint format migrate demo clean bot-emulator

venv: $(STAMP)

# Re-install whenever the pinned requirements change.
$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

migrate: venv
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py bootstrap

run: demo
	@if [ -n "$$DISCORD_TOKEN" ]; then \
	  procs="web worker beat bot"; \
	else \
	  procs="web worker beat"; \
	  echo "bot: not started - set DISCORD_TOKEN (see README, 'Discord application') to run it"; \
	fi; \
	echo "web:     http://$(HOST):$(PORT)/   admin: http://$(HOST):$(PORT)/admin/"; \
	echo "health:  http://$(HOST):$(PORT)/health/ready   metrics: http://$(HOST):$(PORT)/metrics"; \
	echo "Ctrl-C stops everything."; \
	exec $(VENV)/bin/honcho -f Procfile.dev start -p $(PORT) $$procs

# The real bot against the local Discord emulator (tests/discord_emulator): no Discord account needed.
EMULATOR_PORT ?= 8765
bot-emulator: demo
	@$(PY) -m tests.discord_emulator --port $(EMULATOR_PORT) --token emulator-local & \
	  emulator=$$!; trap 'kill $$emulator' EXIT INT TERM; sleep 2; \
	  DISCORD_TOKEN=emulator-local DISCORD_API_BASE_URL=http://127.0.0.1:$(EMULATOR_PORT)/api/v10 \
	  BOT_METRICS_PORT=0 $(PY) manage.py runbot

test: venv
	@if [ -n "$$DATABASE_URL" ]; then echo "make test: database from DATABASE_URL (PostgreSQL)"; \
	  else echo "make test: database SQLite (embedded default; PostgreSQL-only tests are skipped)"; fi
	@if [ -n "$$REDIS_URL" ]; then echo "make test: cache and broker from REDIS_URL (Redis)"; \
	  else echo "make test: cache local memory (embedded default; Redis-only tests are skipped)"; fi
	$(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) var db.sqlite3 staticfiles .pytest_cache .ruff_cache
