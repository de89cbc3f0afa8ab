# Everything a fresh machine needs: `make demo` and `make test` build .venv themselves.
VENV    ?= .venv
PYTHON  ?= python3
PY      := $(VENV)/bin/python
PIP     := $(VENV)/bin/pip
STAMP   := $(VENV)/.installed
ROOT    ?= artifacts
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install demo test test-fast lint dev review clean postgres checkov chromium voice fonts \
	constraints

install: $(STAMP)

# The versions of deploy/constraints.txt (the ones the tests last passed with), within the
# ranges of pyproject.toml.
CONSTRAINTS := deploy/constraints.txt

# torchvision's PyPI wheels link against PyPI's torch build (it runs on the CPU too). Ignore a
# machine-local find-links folder so a `+cpu` torch wheel is not picked: torchvision's ops would
# not load against it.
TORCH_FROM_PYPI := env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null $(PIP) install \
	"torch==2.13.*" "torchvision==0.28.*"

$(STAMP): pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(TORCH_FROM_PYPI) -c $(CONSTRAINTS)
	$(PIP) install -c $(CONSTRAINTS) -e ".[dev]"
	touch $(STAMP)

# After changing pyproject.toml: install what its new ranges need (without the old pins), then
# write every version down.
constraints:
	$(PYTHON) -m venv $(VENV)
	$(TORCH_FROM_PYPI)
	$(PIP) install -e ".[dev]"
	sed -n '/^#/p' $(CONSTRAINTS) > $(CONSTRAINTS).new
	$(PIP) freeze --exclude-editable >> $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS)
	touch $(STAMP)

demo: $(STAMP) voice fonts
	$(PY) -m pipeline demo --root $(ROOT)

# Every test, two pytest workers (a test file stays on one worker: its module fixtures are built
# once), files handed out in the order tests/conftest.py sorts them (longest first), not
# pytest-xdist's own (most tests first). PYTEST_WORKERS=0 runs them in this process.
PYTEST_WORKERS ?= 2
PYTEST := $(PY) -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder

test: $(STAMP) voice postgres chromium fonts
	$(PYTEST)

# The inner loop: every test not marked `slow` (no whole chain, browser, daemon, fault or
# concurrency test).
test-fast: $(STAMP) voice fonts
	$(PYTEST) -m "not slow"

# The voice environment: Qwen3-TTS at its own pins, beside .venv (idempotent).
voice:
	scripts/install_voice_env.sh

# PostgreSQL server binaries for the production-storage tests (idempotent; apt-get if missing).
postgres:
	scripts/install_postgres.sh

# Debian's DejaVu fonts for burned-in subtitles (idempotent; apt-get if missing).
fonts:
	sh scripts/install_fonts.sh

# Debian's chromium for the browser test (Playwright drives it; no browser download).
chromium:
	sh scripts/install_chromium.sh

# terraform/ static checks, offline, in their own virtualenv (not part of `make test`).
checkov:
	scripts/checkov.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The Dagster UI on the embedded default: example briefs registered as partitions, tiny profile.
# Its instance is the one beside the artifacts ($(ROOT)/_dagster), which `python -m pipeline
# materialize` and the review app's runs record into too: the UI shows their materializations.
DEV_HOME := $(CURDIR)/$(ROOT)/_dagster
dev: $(STAMP)
	mkdir -p $(DEV_HOME)
	cp deploy/dagster-dev.yaml $(DEV_HOME)/dagster.yaml
	DAGSTER_HOME=$(DEV_HOME) $(PY) -m pipeline register examples/
	DAGSTER_HOME=$(DEV_HOME) CHARACTER_VIDEO_ROOT=$(CURDIR)/$(ROOT) \
		$(PY) scripts/dev_server.py $(VENV)/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

# The producers' review app on http://127.0.0.1:8500 (pt-BR; ?lang=en), over the same artifacts.
review: $(STAMP)
	CHARACTER_VIDEO_ROOT=$(CURDIR)/$(ROOT) $(PY) -m pipeline review --root $(CURDIR)/$(ROOT)

clean:
	rm -rf $(ROOT) .pytest_cache
