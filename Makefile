# batchctl: `make test` installs what is missing and runs every test; `make deps` only installs.
SHELL := /bin/bash
.DEFAULT_GOAL := build

SWIFT       ?= swift
PYTHON      ?= python3
VENV        := .venv
APT_PACKAGES := curl libcurl4-openssl-dev libhiredis-dev pkg-config redis-server python3-venv
SUDO        := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps apt-deps venv build release test clean

## deps: install the system packages and the Python venv the tests need, and only what is missing
deps: apt-deps venv

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

## build: debug build of every target
build:
	$(SWIFT) build

## release: optimised build
release:
	$(SWIFT) build -c release

## test: deps + build + every test (unit, CLI, integration against real Redis and Celery)
test: deps build
	$(SWIFT) test --disable-xctest

clean:
	rm -rf .build
