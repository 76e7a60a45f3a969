# Two commands: `make run` starts everything locally, `make test` runs the suite.
# Both create .venv and install what they need.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean tools

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[local,dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/hookrelay dev

# The console's browser tests need Debian's chromium and chromium-driver, the alert
# rules' tests its prometheus (for promtool): installed where this user may, otherwise
# those tests are skipped and say why.
tools:
	@command -v chromium >/dev/null && command -v promtool >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	  --no-install-recommends chromium chromium-driver prometheus >/dev/null; } || \
	  echo "chromium or promtool not installed: the browser and alert-rule tests will be skipped"

# Two pytest processes, a test file each at a time: the end-to-end tests mostly wait
# (on rate limits, timeouts, restarts), so two files overlap their waits. Files keep
# their module-wide stacks, and the RabbitMQ tests (one file) never meet.
test: $(STAMP) tools
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/pytest -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.servers
	$(BIN)/python -m bench.segment
	$(BIN)/python -m bench.delivery
	$(BIN)/python -m bench.hooks
	$(BIN)/python -m bench.relay
	$(BIN)/python -m bench.footprint
	$(BIN)/python -m bench.drain
	$(BIN)/python -m bench.capacity
	$(BIN)/python -m bench.replicas
	$(BIN)/python -m bench.forget

clean:
	rm -rf $(VENV) var
