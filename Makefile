# batchctl: `make demo` shows it working locally; `make test` installs what is missing and runs every test;
# `make deps` only installs.
SHELL := /bin/bash
.DEFAULT_GOAL := build

SWIFT       ?= swift
PYTHON      ?= python3
VENV        := .venv
TOOLS_VENV  := .venv-tools
RENDER_DIR  := .build/deploy-render
APT_PACKAGES := curl libcurl4-openssl-dev libhiredis-dev libyaml-dev pkg-config redis-server redis-sentinel python3-venv prometheus prometheus-redis-exporter
SUDO        := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Release builds put every function of every module (the dependencies' too) in its own section, so that lld can
# place the code `batchctl controller` runs together (Package.swift, linker/batchctl.order): the controller's
# resident memory, issue 7. The Dockerfile builds with the same flags.
RELEASE_FLAGS := -Xswiftc -Xfrontend -Xswiftc -function-sections

.PHONY: deps apt-deps venv tools-venv build release install test chaos check-deploy check-image bench demo fuzz clean

## deps: install the system packages and the Python venvs the tests need, and only what is missing
deps: apt-deps venv tools-venv

apt-deps:
	@missing=""; \
	for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if ! command -v kubectl >/dev/null 2>&1; then missing="$$missing kubernetes-client"; fi; \
	if [ -n "$$missing" ]; then \
	  echo "Installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	else \
	  echo "System packages: all present."; \
	fi

# The venv is rebuilt only when the requirements change (the stamp holds their checksum).
venv: $(VENV)/.requirements.sha
$(VENV)/.requirements.sha: Tests/Fixtures/requirements.txt
	@if [ ! -x $(VENV)/bin/python ]; then $(PYTHON) -m venv $(VENV); fi
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r Tests/Fixtures/requirements.txt
	@sha256sum Tests/Fixtures/requirements.txt > $@

# Validators for deploy/ live in their own venv: checkov pins many packages.
tools-venv: $(TOOLS_VENV)/.requirements.sha
$(TOOLS_VENV)/.requirements.sha: deploy/tests/requirements.txt
	@if [ ! -x $(TOOLS_VENV)/bin/python ]; then $(PYTHON) -m venv $(TOOLS_VENV); fi
	$(TOOLS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r deploy/tests/requirements.txt
	@sha256sum deploy/tests/requirements.txt > $@

## check-deploy: render deploy/ and its overlay, validate them strictly (Kubernetes 1.30 and the newest
## schema kubernetes-validate knows), lint, run checkov, test the admission policy's CEL and the CRD schema
check-deploy: tools-venv build
	@mkdir -p $(RENDER_DIR)
	$(TOOLS_VENV)/bin/kubectl kustomize deploy/crds > $(RENDER_DIR)/crds.yaml
	$(TOOLS_VENV)/bin/kubectl kustomize deploy > $(RENDER_DIR)/base.yaml
	$(TOOLS_VENV)/bin/kubectl kustomize deploy/overlays/batch-jobs > $(RENDER_DIR)/overlay.yaml
	@for f in $(RENDER_DIR)/crds.yaml $(RENDER_DIR)/base.yaml $(RENDER_DIR)/overlay.yaml; do \
	  $(TOOLS_VENV)/bin/kubernetes-validate --strict --quiet --no-warn -k 1.30.0 $$f && \
	  $(TOOLS_VENV)/bin/kubernetes-validate --strict --quiet --no-warn $$f || exit 1; \
	done; echo "kubernetes-validate --strict: CRDs, base and overlay (with monitoring) valid for 1.30.0 and $$($(TOOLS_VENV)/bin/python -c 'import kubernetes_validate.utils as u; print(u.latest_version())')"
	$(TOOLS_VENV)/bin/yamllint --strict -c .yamllint.yaml deploy config
	$(TOOLS_VENV)/bin/checkov --quiet --compact --skip-download --framework kubernetes \
	  -f $(RENDER_DIR)/crds.yaml -f $(RENDER_DIR)/base.yaml -f $(RENDER_DIR)/overlay.yaml
	.build/debug/batchctl config validate deploy/overlays/batch-jobs/batchctl.yaml > /dev/null
	$(TOOLS_VENV)/bin/python -m pytest -q deploy/tests

## check-image: lint the Dockerfile and check that the release binary (static Swift stdlib, as the image
## builds it) needs exactly the shared libraries the image's runtime stage installs, and no full Foundation,
## and that linker/batchctl.order still names its functions (the controller's memory, BENCHMARKS.md)
check-image: tools-venv
	$(TOOLS_VENV)/bin/hadolint Dockerfile
	$(SWIFT) build -c release $(RELEASE_FLAGS) --product batchctl --static-swift-stdlib
	scripts/check-image-libs.sh "$$($(SWIFT) build -c release --show-bin-path)/batchctl" Dockerfile
	$(PYTHON) scripts/controller-order.py check "$$($(SWIFT) build -c release --show-bin-path)/batchctl"
	@# The controller's memory depends on it (BENCHMARKS.md): batchctl links FoundationEssentials, never full Foundation and ICU.
	@if nm "$$($(SWIFT) build -c release --show-bin-path)/batchctl" | grep -q -e '$$s10Foundation' -e 'ucol_open'; then \
	  echo "FAIL: batchctl links full Foundation (and ICU); keep its modules on FoundationEssentials"; exit 1; \
	else echo "ok: batchctl links FoundationEssentials only (no Foundation, no ICU)"; fi

## build: debug build of every target
build:
	$(SWIFT) build

## demo: deps + debug builds of kubesim and batchctl, then `kubesim demo`: redis-server, KubeSim with its kubelet
## running real Celery workers, the CRD and queues, `batchctl controller`, and a narrated scenario (about 2 minutes).
## DEMO_ARGS passes flags, such as DEMO_ARGS=--interactive to keep it running and try batchctl and kubectl by hand.
demo: deps
	$(SWIFT) build --product kubesim
	$(SWIFT) build --product batchctl
	.build/debug/kubesim demo $(DEMO_ARGS)

## release: optimised build
release:
	$(SWIFT) build -c release $(RELEASE_FLAGS)

## install: release build of batchctl into $(DESTDIR)$(PREFIX)/bin (PREFIX=/usr/local), with the kubectl plugin link
## kubectl-batchctl beside it, so `kubectl batchctl ...` runs it, and kubectl_complete-batchctl, so kubectl completes it
## (docs/kubectl-plugin.md)
PREFIX ?= /usr/local
install:
	$(SWIFT) build -c release $(RELEASE_FLAGS) --product batchctl
	install -D -m 0755 "$$($(SWIFT) build -c release --show-bin-path)/batchctl" "$(DESTDIR)$(PREFIX)/bin/batchctl"
	ln -sfn batchctl "$(DESTDIR)$(PREFIX)/bin/kubectl-batchctl"
	install -m 0755 scripts/kubectl_complete-batchctl "$(DESTDIR)$(PREFIX)/bin/kubectl_complete-batchctl"

## test: deps + build + deploy/ checks + every Swift test (unit, CLI, integration against real Redis and Celery)
test: deps build check-deploy check-image
	@# Serially: on 2 cores, integration tests that wait synchronously can starve an in-process server.
	BATCHCTL_REQUIRE_FIXTURES=1 SWIFT=$(SWIFT) scripts/run-swift-tests.sh --disable-xctest --no-parallel

## chaos: the fault-injection suite in its full form (docs/chaos.md): Redis down 30 s, KubeSim faults at 20 %,
## 50 kill -9s of the controller, leader failover, a 50-way claim race (`make test` runs a short form).
## BATCHCTL_CHAOS_SEED=N replays a run's random choices.
chaos: deps build
	BATCHCTL_CHAOS=full BATCHCTL_REQUIRE_FIXTURES=1 SWIFT=$(SWIFT) scripts/run-swift-tests.sh --disable-xctest --no-parallel --filter ChaosTests

## bench: release builds, benchmarks against a real redis-server and KubeSim on loopback; rewrites BENCHMARKS.md
## (`.build/release/batchbench --only NAME` runs one group: probe, decide, controller, idle-requests, status,
## controller-rss, busy-workers, unacked, flower; `--help` says what each measures)
bench: apt-deps venv tools-venv
	$(SWIFT) build -c release $(RELEASE_FLAGS) --product batchbench
	$(SWIFT) build -c release $(RELEASE_FLAGS) --product kubesim
	$(SWIFT) build -c release $(RELEASE_FLAGS) --product batchctl --static-swift-stdlib
	$(SWIFT) build -c release $(RELEASE_FLAGS) --product rssfloor --static-swift-stdlib
	.build/release/batchbench --output BENCHMARKS.md

## fuzz: libFuzzer with AddressSanitizer (release) on the config loader, the kubeconfig loader, the duration and
## Redis URL parsers, watch-event lines, Status bodies, the YAML module, worker heartbeat events and unacked entries, FUZZ_SECONDS each (9 targets); fails on any crash,
## sanitizer report, per-input timeout or out-of-memory. Not part of `make test`. See Fuzz/README.md.
FUZZ_SECONDS ?= 120
fuzz: apt-deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) Fuzz/fuzz.sh

clean:
	rm -rf .build .build-fuzz
