# Developer entry points; the real work is in scripts/ (see each script's header).
.DEFAULT_GOAL := help

.PHONY: help setup demo run test lock docs fuzz chaos backup load bench-nearby bench-detail bench-checkin bench-sweep bench-push bench-dashboard bench-dedup

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

setup: ## Install/start PostgreSQL+PostGIS and Redis, create .venv, migrate the database
	bash scripts/setup

demo: ## setup, then load the demo data and print the demo logins
	bash scripts/setup --demo

run: ## Run API + worker + cron in the foreground on http://127.0.0.1:8000 (Ctrl-C stops)
	bash scripts/run

test: ## Run the tests; pass pytest arguments with ARGS="-x -k leads"
	bash scripts/test $(ARGS)

lock: .venv/bin/pip-compile ## Re-pin requirements*.txt (hashes) from requirements*.in; ARGS="--upgrade-package X"
	$(PIP_COMPILE) $(ARGS) -o requirements.txt requirements.in
	$(PIP_COMPILE) $(ARGS) -o requirements-dev.txt requirements-dev.in

# pip-tools comes with requirements-dev.txt. The lock is resolved against the default package index alone, without
# pip.conf or PIP_FIND_LINKS/PIP_EXTRA_INDEX_URL: a machine's local wheel folders and mirrors must not end up in it,
# and every machine and the Docker build must be able to download what it hashes.
PIP_COMPILE = env -u PIP_FIND_LINKS -u PIP_EXTRA_INDEX_URL PIP_CONFIG_FILE=/dev/null CUSTOM_COMPILE_COMMAND="make lock" \
	.venv/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras

.venv/bin/pip-compile:
	bash scripts/setup

docs: setup ## Regenerate the API docs
	.venv/bin/python scripts/gen_api_docs.py

fuzz: setup ## Long schemathesis run over every operation as every role (figures in README)
	bash scripts/fuzz

chaos: setup ## Fault injection: Redis, FCM, PostgreSQL and worker failures on throwaway servers
	bash scripts/chaos

backup: ## pg_dump the database to var/backups/ (restore with scripts/restore FILE)
	bash scripts/backup

load: setup ## Mixed mobile workload with wrk (bench/load.py; --quick for a short run)
	.venv/bin/python -m bench.load

bench-nearby: setup ## Nearby benchmark (1M merchants; see bench/README.md)
	.venv/bin/python -m bench.nearby

bench-detail: setup ## Merchant detail benchmark
	.venv/bin/python -m bench.detail

bench-checkin: setup ## Check-in benchmark
	.venv/bin/python -m bench.checkin

bench-sweep: setup ## Lead sweep benchmark
	.venv/bin/python -m bench.sea_sweep

bench-push: setup ## Push fan-out benchmark
	.venv/bin/python -m bench.push_fanout

bench-dashboard: setup ## Manager dashboards' SQL against plain counts (quick: 200k merchants)
	.venv/bin/python -m bench.dashboard --quick

bench-dedup: setup ## Duplicate detection quality and import speed (Hangzhou POIs)
	.venv/bin/python -m bench.dedup
