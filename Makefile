VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: run test distributed bench bench-outages bench-sockets faults venv clean

venv:
	@bash tools/bootstrap.sh

## The whole platform in one process on http://127.0.0.1:8080 (SQLite, in-process bus, dev mode).
run: venv
	$(PY) -m services embedded

## The whole suite, on real RabbitMQ and PostgreSQL, the web client in headless
## Chromium, and real media through Janus and coturn (all installed from Debian when missing).
test: venv
	@bash tools/install-servers.sh chromium chromium-driver janus coturn
	SFERUM_REQUIRE_SERVERS=1 $(PY) -m pytest -n 2 --dist loadscope $(PYTEST_ARGS)

## Every service and the gateway as its own gunicorn process on RabbitMQ and PostgreSQL.
distributed: venv
	@bash tools/install-servers.sh
	$(PY) -m devkit.distributed

## Messaging benchmark on the distributed mode (figures in README.md).
bench: venv
	@bash tools/install-servers.sh
	$(PY) tests/perf/bench_messaging.py $(BENCH_ARGS)

## Broker restarts and killed workers under steady posting (figures in README.md).
bench-outages: venv
	@bash tools/install-servers.sh
	$(PY) tests/perf/bench_outages.py $(OUTAGE_ARGS)

## A soak under faults: 200 posts/s for 10 minutes through 20 RabbitMQ restarts, 20 SIGKILLs
## over every kind of process and 2 PostgreSQL restarts, then every check (README.md).
faults: venv
	@bash tools/install-servers.sh
	$(PY) tests/perf/faults.py $(FAULTS_ARGS)

## Idle WebSockets on one gateway worker, and their reconnection storm (figures in README.md).
bench-sockets: venv
	@bash tools/install-servers.sh
	$(PY) tests/perf/bench_sockets.py $(SOCKETS_ARGS)

clean:
	rm -rf var .pytest_cache
