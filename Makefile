# Two commands matter: `make demo` (set up everything and run the main job) and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO := demo

.PHONY: install weights demo test test-slow lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

weights: install
	$(BIN)/sr weights fetch

demo: install weights
	mkdir -p $(DEMO)
	$(BIN)/python -c "import skimage.data, PIL.Image as I; I.fromarray(skimage.data.astronaut()).resize((128, 128)).save('$(DEMO)/astronaut.png')"
	$(BIN)/sr upscale $(DEMO)/astronaut.png -o $(DEMO)/astronaut_x3.7.png --scale 3.7
	@echo "Upscaled: $(DEMO)/astronaut.png -> $(DEMO)/astronaut_x3.7.png"

test: install weights
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

test-slow: install weights
	$(BIN)/python -m pytest -m slow

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(DEMO) .pytest_cache
