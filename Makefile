# GridGov — `make run` serves the demo district, `make test` runs the whole suite.
# Both work on a fresh machine: they create .venv, install from PyPI and npm, and build under var/.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
VENDOR := gridgov/web/static/vendor

.PHONY: run test install dev assets browser demo lint bench clean

run: install assets
	$(BIN)/gridgov migrate
	$(BIN)/gridgov demo
	$(BIN)/gridgov serve --host $(HOST) --port $(PORT)

test: dev assets browser
	$(BIN)/ruff check .
	$(BIN)/pytest -n 2 --dist loadgroup

install: $(VENV)/.installed
dev: $(VENV)/.dev-installed

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@ $(VENV)/.installed

# Front-end assets come from npm once, at set-up; the app serves them itself.
assets: $(VENDOR)/.built

$(VENDOR)/.built: package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts
	rm -rf $(VENDOR) && mkdir -p $(VENDOR)/images $(VENDOR)/swagger
	cp node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.css $(VENDOR)/
	cp node_modules/leaflet/dist/images/* $(VENDOR)/images/
	cp node_modules/leaflet.markercluster/dist/leaflet.markercluster.js \
	   node_modules/leaflet.markercluster/dist/MarkerCluster.css \
	   node_modules/leaflet.markercluster/dist/MarkerCluster.Default.css $(VENDOR)/
	cp node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/
	cp node_modules/alpinejs/dist/cdn.min.js $(VENDOR)/alpine.min.js
	cp node_modules/echarts/dist/echarts.min.js $(VENDOR)/
	cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css $(VENDOR)/swagger/
	touch $@

# Browser tests drive Debian's chromium; install it when we may (root), else they say why they skip.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null) \
	      || echo "could not install chromium; browser tests will skip"; \
	  else echo "chromium not installed (apt-get install chromium); browser tests will skip"; fi; \
	fi

demo: install
	$(BIN)/gridgov migrate
	$(BIN)/gridgov demo

lint: dev
	$(BIN)/ruff check .

bench: dev
	$(BIN)/python bench/locate.py
	$(BIN)/python bench/calendar.py

clean:
	rm -rf $(VENV) node_modules $(VENDOR) var .pytest_cache
