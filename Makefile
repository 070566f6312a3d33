# Every target creates .venv itself; nothing needs to be installed by hand.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CASE   ?= rcd-sockshop/carts-cpu/1

# Use the dataset mirror beside the checkout unless the user pointed elsewhere.
ifeq ($(origin MANCEROPS_DATASETS), undefined)
  ifneq ($(wildcard ../shared/datasets),)
    export MANCEROPS_DATASETS := $(abspath ../shared/datasets)
  endif
endif

.PHONY: demo test lint bench bench-prometheus bench-elasticsearch servers clean

$(BIN)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed: set PYTHON=python3.11")'
	@echo "creating $(VENV) and installing the dependencies (about 2 minutes the first time)..."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

demo: $(BIN)/.installed
	@mkdir -p reports
	$(BIN)/mancerops investigate --dataset $(CASE) --report reports/demo.html

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The test servers (Prometheus, OpenSearch, Elasticsearch...) are installed first when
# missing: Debian packages via apt (root or sudo), the rest cached in ~/.cache/mancerops-ci.
test: lint servers
	$(BIN)/pytest

$(BIN)/.bench-installed: $(BIN)/.installed
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	touch $@

bench: $(BIN)/.bench-installed
	@mkdir -p reports
	$(BIN)/python benchmarks/bench_rca.py --out reports/bench_rca.json

# PrometheusSource vs prometheus-api-client on 2 million samples in a real Prometheus.
bench-prometheus: $(BIN)/.bench-installed
	@mkdir -p reports
	$(BIN)/python benchmarks/bench_prometheus.py --out reports/bench_prometheus.json

# ElasticsearchSource vs opensearch-py on a day of Nezha logs in a real OpenSearch.
bench-elasticsearch: $(BIN)/.bench-installed
	@mkdir -p reports
	$(BIN)/python benchmarks/bench_elasticsearch.py --out reports/bench_elasticsearch.json

# Debian's prometheus, OpenSearch and Elasticsearch (Maven Central, cached in
# ~/.cache/mancerops-ci) and Jaeger (built with Go, cached there too) for the source
# tests; no daemon is started. Idempotent.
servers:
	bash .ci/run servers

clean:
	rm -rf $(VENV) reports .pytest_cache .ruff_cache

# The streaming anomaly detector on NAB, next to NAB's published scoreboard.
.PHONY: bench-detect
bench-detect: $(BIN)/.installed
	@mkdir -p reports
	$(BIN)/python benchmarks/bench_detect.py --out reports/bench_detect.json
