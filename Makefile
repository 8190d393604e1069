# Two commands matter: `make demo` (set up everything and run the main job) and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO := demo
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install weights demo sample browser domain-data generic-photos test test-slow lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

weights: install
	$(BIN)/sr weights fetch

demo: install weights
	$(MAKE) sample
	$(BIN)/python -c "import skimage.data, PIL.Image as I; I.fromarray(skimage.data.astronaut()).resize((128, 128)).save('$(DEMO)/astronaut.png')"
	rm -f $(DEMO)/astronaut_x3.7.png  # the demo's own output from an earlier run
	$(BIN)/sr upscale $(DEMO)/astronaut.png -o $(DEMO)/astronaut_x3.7.png --scale 3.7
	@echo "Sample workspace: $(DEMO)/workspace; upscaled $(DEMO)/astronaut.png -> $(DEMO)/astronaut_x3.7.png"
	@echo "Starting the studio on http://localhost:8501 (Ctrl-C stops it)"
	CURATOR_WORKSPACE=$(DEMO)/workspace $(BIN)/streamlit run app.py --server.headless true

sample: install
	mkdir -p $(DEMO)
	test -d $(DEMO)/workspace || $(BIN)/curator sample $(DEMO)/workspace

# The browser test drives Debian's Chromium through Playwright.
browser:
	command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# The clip-art domain experiment renders Debian's public-domain SVGs (datasets/openclipart.md).
domain-data:
	command -v rsvg-convert >/dev/null && test -d /usr/share/openclipart/svg || { $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openclipart-svg librsvg2-bin; }

# Photographs for benchmarks/merge_alpha.py (generic quality of a domain fine-tune); ~94 MB.
generic-photos:
	test -d /usr/share/wallpapers/EveningGlow || { $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq plasma-workspace-wallpapers; }

test: install weights browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

test-slow: install weights browser
	$(BIN)/python -m pytest -m slow

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(DEMO) .pytest_cache
