# guahao — the two commands a fresh machine needs are `make run` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
GATEWAY_BIND ?= 127.0.0.1:8080
MOCK_BIND ?= 127.0.0.1:8090

.PHONY: run test bench lint build services clean

build:
	$(CARGO) build --workspace --bins

## The whole system on embedded defaults: SQLite, in-process stores, miniprogram-mock.
run: build
	./target/debug/guahao migrate
	./target/debug/guahao seed --demo
	@set -euo pipefail; \
	MOCK_BIND=$(MOCK_BIND) ./target/debug/miniprogram-mock serve & mock=$$!; \
	trap 'kill $$mock 2>/dev/null || true' EXIT INT TERM; \
	echo; \
	echo "  API            http://$(GATEWAY_BIND)/api/v1/hospitals"; \
	echo "  API docs       http://$(GATEWAY_BIND)/docs  (OpenAPI: http://$(GATEWAY_BIND)/api-docs/openapi.json)"; \
	echo "  Metrics        http://$(GATEWAY_BIND)/metrics"; \
	echo "  Mock           http://$(MOCK_BIND)/healthz"; \
	echo; \
	GUAHAO__SERVER__BIND=$(GATEWAY_BIND) ./target/debug/guahao serve

## Every test: unit, SQLite + PostgreSQL, in-process + Redis, and end-to-end with the real binaries.
test: services build
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
		GUAHAO_TEST_REQUIRE_SERVERS=1 $(CARGO) nextest run --workspace --no-fail-fast; \
	else \
		GUAHAO_TEST_REQUIRE_SERVERS=1 $(CARGO) test --workspace --no-fail-fast; \
	fi

services:
	./scripts/ensure-services.sh

## The benchmarks: the booking rush (issue 4) and payment notifications (issue 5, also in-process
## beside `openssl speed rsa2048`). Release build, the real gateway over HTTP with real PostgreSQL
## and Redis; each prints a summary and rewrites its own section of BENCHMARKS.md.
## Extra flags: make bench BENCH_ARGS="--only payments" (see target/release/guahao-bench --help).
bench: services
	$(CARGO) build --release --bin guahao --bin miniprogram-mock --bin guahao-bench
	./target/release/guahao-bench $(BENCH_ARGS)

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

clean:
	$(CARGO) clean
	rm -rf data
