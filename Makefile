# seqserve: make install | browser | proto | train | export | serve | test | lint | typecheck | bench | docker | docker-test
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
MODELS ?= models
# make serve PORT=50052, or SEQSERVE_PORT=50052 make serve
PORT ?= $(or $(SEQSERVE_PORT),50051)
TRAIN_ARGS ?=
PIP_INSTALL := $(PIP) install --quiet --disable-pip-version-check -c constraints.txt
STAMP := $(VENV)/.installed
PROTOS := $(shell find proto -name '*.proto')
GENERATED := contract/src/seqserve/v1/seqserve_pb2.py
PARTS := contract client server trainer
PART_FILES := $(foreach p,$(PARTS),$(p)/pyproject.toml $(p)/setup.py) $(foreach p,client server trainer,$(p)/requirements.txt)

.PHONY: browser install proto train export serve test test-fast lint typecheck check bench bench-quick fuzz soak docker docker-test clean

install: $(STAMP)

$(STAMP): constraints.txt requirements-dev.txt $(PART_FILES) $(PROTOS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) --upgrade pip setuptools wheel
	$(PIP_INSTALL) -r client/requirements.txt -r server/requirements.txt \
		-r trainer/requirements.txt -r requirements-dev.txt
	$(PIP_INSTALL) --no-deps --config-settings editable_mode=compat $(foreach p,$(PARTS),-e ./$(p))
	touch $(STAMP)

# Generated code is not committed: seqserve-contract's build (contract/setup.py) writes it
# into contract/src when installed; `proto` re-runs that build after a .proto edit.
proto: $(GENERATED)

$(GENERATED): $(PROTOS)
	$(PIP_INSTALL) --no-deps --config-settings editable_mode=compat -e ./contract
	@touch $(GENERATED)

train: $(STAMP)
	$(PY) -m seqserve.trainer train --models $(MODELS) $(TRAIN_ARGS)

export: $(STAMP)
	$(PY) -m seqserve.trainer export --models $(MODELS) $(TRAIN_ARGS)

# Serve the model repository on PORT, training and exporting first if it holds no model.
serve: $(STAMP)
	@if ! ls $(MODELS)/*/*/model.json >/dev/null 2>&1; then $(MAKE) --no-print-directory train export; fi
	$(VENV)/bin/seqserve-server --models $(MODELS) --port $(PORT)

# Debian's chromium, for the models page test (tests/http_api/test_http_page.py): installed
# with apt-get when missing and running as root (CI), otherwise asked for.
browser:
	@command -v chromium >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq chromium >/dev/null; \
		else echo "the models page test needs chromium: sudo apt-get install chromium"; exit 1; fi; }

# The test command: installs, trains and exports (cached), then runs every test.
test: $(STAMP) browser
	$(MAKE) --no-print-directory train export
	$(VENV)/bin/pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

check: lint typecheck

# Reliability runs at full length (tests/reliability; `make test` runs them shorter):
# fuzz sends FUZZ_EXAMPLES hypothesis-generated requests, then the HTTP/2-level attacks (raw
# h2 frames: rapid reset for ATTACK_SECONDS, stream floods); soak runs SOAK_SECONDS of 64 clients.
FUZZ_EXAMPLES ?= 12000
ATTACK_SECONDS ?= 10
SOAK_SECONDS ?= 60

fuzz: $(STAMP)
	$(MAKE) --no-print-directory train export
	SEQSERVE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(VENV)/bin/pytest -s -m slow tests/reliability/test_fuzz.py
	SEQSERVE_ATTACK_SECONDS=$(ATTACK_SECONDS) $(VENV)/bin/pytest -s tests/reliability/test_http2.py

soak: $(STAMP)
	$(MAKE) --no-print-directory train export
	SEQSERVE_SOAK_SECONDS=$(SOAK_SECONDS) $(VENV)/bin/pytest -s -m slow tests/reliability/test_soak.py

# Benchmarks (bench/): `bench` creates the bench's pinned virtualenvs (bench/setup.sh:
# perf_analyzer, MLServer, PyTriton) and runs every system, writing docs/benchmarks.md and
# docs/bench.png (~25 min). `bench-quick` (CI) installs perf_analyzer only, runs seqserve and
# B0 for a few seconds per point and perf_analyzer against seqserve over gRPC and over HTTP
# (each must exit 0), into bench/results/.
BENCH_ARGS ?=

bench: $(STAMP)
	$(MAKE) --no-print-directory train export
	bash bench/setup.sh
	$(PY) -m bench --models $(MODELS) $(BENCH_ARGS)

bench-quick: $(STAMP)
	$(MAKE) --no-print-directory train export
	BENCH_VENVS=perf bash bench/setup.sh
	$(PY) -m bench --quick --models $(MODELS) $(BENCH_ARGS)

# Container image (docker/Dockerfile) from the exported models; needs a Docker daemon.
# No registry reachable: docker/build.sh builds the python:3.11-slim base with
# docker/offline-base.sh. docker-test starts (and stops) a daemon itself when it can.
DOCKER_IMAGE ?= seqserve:latest

docker: $(STAMP)
	$(MAKE) --no-print-directory train export
	IMAGE=$(DOCKER_IMAGE) docker/build.sh

docker-test: $(STAMP)
	$(MAKE) --no-print-directory train export
	docker/test.sh

clean:
	rm -rf $(VENV) build */build */dist */src/*.egg-info contract/src/seqserve/v1 \
		contract/src/seqserve/kserve contract/src/seqserve/contract/descriptors.binpb
