# clonegen's task runner. `make` lists the targets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# daphne's 1 MiB defaults silently drop any real screenshot sent over the socket.
DAPHNE_FLAGS := --websocket-max-message-size 16777216 --websocket-max-frame-size 16777216

.DEFAULT_GOAL := help
# The second test pass: the production stack (see "Running several processes" in the README).
TEST_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/clonegen
TEST_REDIS_URL ?= redis://127.0.0.1:6379/1

.PHONY: help run run-two superuser test browser test-embedded test-stack screenshots tailwind lint format clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-18s %s\n", $$1, $$2}'

$(BIN)/activate: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(BIN)/activate

run: $(BIN)/activate browser ## set up, migrate and serve on http://127.0.0.1:8000 (demo mode without OPENAI_API_KEY)
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(BIN)/python manage.py migrate --no-input
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(BIN)/daphne $(DAPHNE_FLAGS) -b $(HOST) -p $(PORT) clonegen.asgi:application

superuser: $(BIN)/activate ## create an admin login for /admin/ (same settings as `make run`)
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(BIN)/python manage.py migrate --no-input
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(BIN)/python manage.py createsuperuser

run-two: $(BIN)/activate ## two workers on :8001 and :8002; needs DATABASE_URL (PostgreSQL) and REDIS_URL
	@test -n "$$DATABASE_URL" -a -n "$$REDIS_URL" || { echo "set DATABASE_URL and REDIS_URL"; exit 1; }
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/daphne $(DAPHNE_FLAGS) --proxy-headers -b $(HOST) -p 8001 clonegen.asgi:application & \
	$(BIN)/daphne $(DAPHNE_FLAGS) --proxy-headers -b $(HOST) -p 8002 clonegen.asgi:application & \
	trap 'kill 0' INT TERM; wait

test: lint browser test-embedded test-stack ## set up and run everything: lint, migrations check, both stacks

# Server renders, URL captures and the browser tests drive Debian's Chromium (Playwright never
# downloads one). Installed here when this user can; otherwise renders are marked failed with
# the reason, URL captures answer url_unreachable, and the browser tests skip and say why.
browser: ## install Debian's chromium (renders, URL captures, browser tests), if missing and root
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && apt-get install -y -qq chromium; \
		else \
			echo "No /usr/bin/chromium: no server renders, URL captures or browser tests (apt-get install chromium)"; \
		fi; \
	fi

test-embedded: $(BIN)/activate ## the whole suite on the embedded stack (SQLite, in-memory layer)
	DJANGO_DEBUG=1 $(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/pytest

# A larger pool than a server's 10: every test runs its own event loop, and connections that
# the test loops' worker threads never hand back add up over the run (a test artifact under
# investigation: a long-lived server reuses its threads).
# Not again: UI tests, the tests that choose PostgreSQL and Redis themselves, and the modules
# that touch neither a database nor a channel layer (the same code runs on either stack).
STACK_FREE_TESTS := test_multiprocess.py test_extraction.py test_images.py test_catalog.py \
	test_access.py test_image_models.py test_live.py test_model_table.py test_prompts.py \
	test_request_params.py test_score_page.py test_scoring.py test_snapshot_size.py test_sse.py \
	test_url_guard.py test_url_proxy.py test_rendering.py test_url_capture.py \
	test_model_client.py test_placeholder_images.py test_model_status.py \
	test_standin_images.py test_tailwind.py test_origins.py
# Runs when both services answer; skipped (and said so) when they don't, except in CI (CI=true),
# where .ci/run starts them and a missing service is a failure.
test-stack: $(BIN)/activate ## the suite again on PostgreSQL + Redis, when they are reachable (required in CI)
	@if ! $(BIN)/python -m tests.services_up $(TEST_POSTGRES_URL) $(TEST_REDIS_URL); then \
		if [ "$$CI" = true ]; then echo "CI: PostgreSQL and Redis are required"; exit 1; fi; \
		echo "*** SKIPPED the PostgreSQL + Redis pass: no PostgreSQL or Redis at 127.0.0.1 (see above)"; \
		exit 0; \
	fi; \
	DATABASE_URL=$(TEST_POSTGRES_URL) REDIS_URL=$(TEST_REDIS_URL) DJANGO_DB_POOL_MAX_SIZE=40 \
		$(BIN)/pytest -m "not ui" \
		$(addprefix --ignore=tests/,$(STACK_FREE_TESTS)) \
		--deselect=tests/test_transfer.py::test_round_trip_sqlite_to_postgresql_to_sqlite

screenshots: $(BIN)/activate browser ## refresh the README's screenshot docs/ui.png (a demo-mode run in Chromium)
	$(BIN)/python -m tests.screenshots

lint: $(BIN)/activate ## ruff over the whole tree
	$(BIN)/ruff check .

format: $(BIN)/activate ## apply ruff's fixes
	$(BIN)/ruff check --fix .

# The Tailwind v3 play script previews and renders load instead of cdn.tailwindcss.com. Committed,
# so `make run` needs no npm; this refreshes it (and its VERSION) from the npm registry.
TAILWIND_CDN_VERSION ?= 3.4.10
TAILWIND_DIR := generations/static/generations/vendor/tailwindcss
tailwind: ## refresh the vendored Tailwind v3 play script from npm (tailwindcss-cdn@TAILWIND_CDN_VERSION)
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	(cd "$$tmp" && npm pack --silent tailwindcss-cdn@$(TAILWIND_CDN_VERSION) >/dev/null && tar xzf tailwindcss-cdn-*.tgz) && \
	rm -rf $(TAILWIND_DIR)/[0-9]* && mkdir -p $(TAILWIND_DIR)/$(TAILWIND_CDN_VERSION) && \
	cp "$$tmp"/package/$(TAILWIND_CDN_VERSION)/tailwindcss.js \
		"$$tmp"/package/$(TAILWIND_CDN_VERSION)/tailwindcss-with-all-plugins.js $(TAILWIND_DIR)/$(TAILWIND_CDN_VERSION)/ && \
	echo $(TAILWIND_CDN_VERSION) > $(TAILWIND_DIR)/VERSION && \
	echo "tailwindcss-cdn $(TAILWIND_CDN_VERSION) -> $(TAILWIND_DIR)/$(TAILWIND_CDN_VERSION)"

clean: ## remove the virtualenv and caches (keeps data/)
	rm -rf $(VENV) .pytest_cache .ruff_cache
