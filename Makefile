VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: run test distributed bench venv clean

venv:
	@bash tools/bootstrap.sh

## The whole platform in one process on http://127.0.0.1:8080 (SQLite, in-process bus, dev mode).
run: venv
	$(PY) -m services embedded

## The whole suite, on real RabbitMQ and PostgreSQL (installed from Debian when missing).
test: venv
	@bash tools/install-servers.sh
	$(PY) -m pytest $(PYTEST_ARGS)

## Every service and the gateway as its own gunicorn process on RabbitMQ and PostgreSQL.
distributed: venv
	@bash tools/install-servers.sh
	$(PY) -m services distributed

## Messaging benchmark on the distributed mode (figures in README.md).
bench: venv
	@bash tools/install-servers.sh
	$(PY) tests/perf/bench_messaging.py $(BENCH_ARGS)

clean:
	rm -rf var .pytest_cache
