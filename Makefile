# Tollgate. On a fresh machine: `make run` to start it, `make test` to test everything.

CARGO ?= cargo
FRONTEND_SRC := $(shell find frontend/src frontend/public frontend/index.html frontend/package.json frontend/vite.config.ts frontend/tsconfig*.json -type f 2>/dev/null)

.PHONY: run dev test build frontend fmt lint clean mock-upstream bench-analytics bench-hostile bench bench-instructions screenshots

## run: build what is missing or stale (web app included), then start Tollgate on LISTEN_ADDR (127.0.0.1:8080)
run: build
	./target/release/tollgate

## build: the release binaries and the web app
build: frontend
	$(CARGO) build --release --bins

## dev: the backend in debug mode plus Vite's dev server (proxying the API)
dev:
	$(CARGO) build --bin tollgate
	( ./target/debug/tollgate & echo $$! > .dev-backend.pid ); \
	trap 'kill $$(cat .dev-backend.pid) 2>/dev/null; rm -f .dev-backend.pid' EXIT INT TERM; \
	if [ -f frontend/package.json ]; then cd frontend && npm ci --no-audit --no-fund && npm run dev; else wait; fi

## test: everything CI runs (installs and starts the services the tests need)
test:
	scripts/test.sh

## screenshots: run the browser tests and keep their screenshots for the README (frontend/docs/screenshots)
screenshots: frontend
	$(CARGO) build --bin tollgate
	cd frontend && E2E_SCREENSHOTS_DIR=docs/screenshots TOLLGATE_BIN=../target/debug/tollgate npm run e2e

## bench-analytics: ingest rate and analytics latency, ClickHouse (10M events) vs SQLite (1M events)
bench-analytics:
	scripts/bench-analytics.sh

## bench-hostile: the server's peak memory under a 2 MB and 16 concurrent 10 MiB requests (goal: < 100 MiB)
bench-hostile:
	$(CARGO) build --release --bin tollgate
	scripts/bench-hostile.py

## bench: latency, req/s and peak RSS of Tollgate against nginx direct (the floor), stream timing, events stored = sent (CLICKHOUSE=1: events to ClickHouse; SOAK=600: a soak; DURATION=10: seconds per row), then what the limiter adds, in memory and on Redis
bench:
	$(CARGO) build --release --bins
	CLICKHOUSE=$(CLICKHOUSE) SOAK=$(SOAK) DURATION=$(DURATION) scripts/bench.py
	scripts/bench-limits.sh

## bench-instructions: instructions per call under valgrind's callgrind, non-streamed and streamed (repeatable within ~1 %, unlike timings: compare builds with it; DURATION=10: seconds a mode)
bench-instructions:
	$(CARGO) build --release --bins
	DURATION=$(DURATION) scripts/bench-instructions.py

## mock-upstream: a fake OpenAI- and Anthropic-compatible provider on :9999 (OPENAI_BASE_URL=http://127.0.0.1:9999/v1, ANTHROPIC_BASE_URL=http://127.0.0.1:9999)
mock-upstream:
	$(CARGO) run --release --bin mock-upstream -- --port 9999

ifneq ($(wildcard frontend/package.json),)
frontend: frontend/dist/index.html

frontend/node_modules/.package-lock.json: frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund

frontend/dist/index.html: frontend/node_modules/.package-lock.json $(FRONTEND_SRC)
	cd frontend && npm run build
else
frontend:
	@true
endif

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

clean:
	$(CARGO) clean
	rm -rf frontend/dist frontend/node_modules .venv
