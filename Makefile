# fleetfix.remediate — every target prints what it does. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
.PHONY: help setup setup-2.16 collection stage sanity units integration integration-2.16 lint docs-lint build-check ee-check ee-introspect galaxy-import changelog-lint test demo bench \
        testbed-build testbed-up testbed-down testbed-status clean

VENV        ?= .venv
PY          := $(abspath $(VENV))/bin/python
STAGE_ROOT  ?= build/stage
COLLECTION  := $(abspath $(STAGE_ROOT))/ansible_collections/fleetfix/remediate
TARGETS     ?=
SANITY_ARGS ?=
export PATH := $(abspath $(VENV))/bin:$(PATH)
export FLEETFIX_TESTBED_STATE ?= $(CURDIR)/tests/testbed/.state
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/collections
# The oldest ansible-core meta/runtime.yml claims, in a second virtual environment.
VENV_2_16   ?= .venv-2.16
STAGE_2_16  ?= build/stage-2.16
COLLECTION_2_16 := $(abspath $(STAGE_2_16))/ansible_collections/fleetfix/remediate
TESTBED     := PYTHONPATH=$(CURDIR)/tests/testbed $(PY) -m testbed

help:  ## this list
	@grep -E '^[a-z0-9.-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

setup:  ## apt packages when missing, .venv with pinned tools (tests/requirements-dev.txt)
	@tools/setup.sh $(VENV)

setup-2.16:  ## a second virtual environment, ansible-core 2.16 (tests/requirements-2.16.txt)
	@tools/setup.sh $(VENV_2_16) tests/requirements-2.16.txt

stage: setup  ## copy the collection to build/stage/ansible_collections/fleetfix/remediate
	@tools/stage.sh $(STAGE_ROOT) >/dev/null && echo "staged: $(COLLECTION)"

collection: setup  ## build the collection tarball and install it into ./collections
	@echo "== building and installing fleetfix.remediate into ./collections"
	@$(VENV)/bin/ansible-galaxy collection build --force --output-path build/ . >/dev/null
	@$(VENV)/bin/ansible-galaxy collection install --force -p collections build/fleetfix-remediate-*.tar.gz >/dev/null
	@ls build/fleetfix-remediate-*.tar.gz

sanity: stage  ## ansible-test sanity, every test, empty ignore files
	@echo "== ansible-test sanity"
	@tools/sanity-bootstrap.sh $(PY)
	@cd $(COLLECTION) && ansible-test sanity --local --python 3.11 --requirements --color no $(SANITY_ARGS)

units: stage  ## ansible-test units
	@echo "== ansible-test units"
	@cd $(COLLECTION) && ansible-test units --local --python 3.11 --requirements --color no $(TARGETS)

integration: stage  ## ansible-test integration against the embedded testbed (TARGETS=... for some)
	@echo "== ansible-test integration (testbed started by the targets, stopped at the end)"
	@tools/integration.sh $(COLLECTION) $(TARGETS)

integration-2.16: setup setup-2.16  ## the integration targets (the site playbook among them) on ansible-core 2.16
	@tools/stage.sh $(STAGE_2_16) >/dev/null
	@echo "== ansible-test integration on $$($(VENV_2_16)/bin/ansible --version | sed -n 1p)"
	@PATH=$(abspath $(VENV_2_16))/bin:$(PATH) tools/integration.sh $(COLLECTION_2_16) $(TARGETS)

lint: stage  ## ansible-lint, production profile, on roles and playbooks
	@echo "== ansible-lint --profile production"
	@cd $(COLLECTION) && ANSIBLE_COLLECTIONS_PATH=$(abspath $(STAGE_ROOT)) ansible-lint --profile production --offline roles playbooks

docs-lint: stage  ## antsibull-docs lint-collection-docs --plugin-docs
	@echo "== antsibull-docs lint-collection-docs"
	@cd $(COLLECTION) && antsibull-docs lint-collection-docs --plugin-docs .

build-check: stage  ## build the tarball and check it carries no test output, venv or cache
	@echo "== ansible-galaxy collection build (contents check)"
	@tools/build-check.sh $(COLLECTION)

ee-check: collection  ## ansible-builder create on ee/execution-environment.yml, context checked, its galaxy and builder stages replayed
	@tools/ee-check.sh

ee-introspect: collection  ## ansible-builder introspect on the installed collection (meta/execution-environment.yml)
	@tools/ee-introspect.sh $(CURDIR)/collections

galaxy-import: stage  ## galaxy-importer on the built tarball (tests/galaxy-importer.cfg: no container, so no ansible-test)
	@tools/galaxy-import.sh $(COLLECTION)

changelog-lint: setup  ## antsibull-changelog lint on the changelog fragments
	@echo "== antsibull-changelog lint"
	@$(VENV)/bin/antsibull-changelog lint

test: sanity units integration integration-2.16 lint docs-lint build-check ee-check ee-introspect galaxy-import changelog-lint  ## everything CI runs
	@echo "== make test: all passed"

testbed-build: setup  ## compile the simulators
	@$(TESTBED) build

testbed-up: setup  ## start the embedded testbed (vCenter simulator, WinRM peer, DNS servers)
	@$(TESTBED) up

testbed-down:  ## stop the embedded testbed
	@$(TESTBED) down

testbed-status:  ## what the testbed is running
	@$(TESTBED) status

demo: collection  ## start the testbed, run the remediation playbooks against it, summarise, stop
	@tools/demo.sh

bench: setup  ## the benchmarks under bench/, a table of figures
	@$(PY) bench/run.py

clean:  ## remove build output (not .venv)
	rm -rf build collections tests/output
