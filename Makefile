# The README's two commands are `make demo` and `make test`; both set the machine up first.
SHELL := /bin/bash
PY_VERSION ?= 3.12.1
VENV := .venv
PY := $(VENV)/bin/python
SAM_VENV := .tools/sam
SAM := $(SAM_VENV)/bin/sam
SECURITY := .tools/security/bin
REGION := us-east-1

.PHONY: setup demo test faults lint static security unit integration bench clean

setup: .setup-stamp

# Re-run set-up whenever what it installs changes.
.setup-stamp: pyproject.toml layers/pitwall/requirements.txt package.json package-lock.json scripts/setup.sh
	bash scripts/setup.sh $(PY_VERSION)
	touch $@

demo: setup
	$(VENV)/bin/pitwall demo

# Every test in one pytest run of three workers (pytest-xdist) on the two cores: the local
# cloud's tests wait on accelerated clocks more than they compute (about 1.7 cores busy in all).
# Whole files go to a worker (--dist loadfile): a file's local cloud is set up once, and the
# fault matrix's cases run one after the other on theirs (`make faults` runs the matrix alone).
# The matrix, the longest file, goes first.
test: setup lint static
	$(PY) -m pytest -q -n 3 --dist loadfile tests/faults tests/integration tests/install tests/unit tests/host

faults: setup
	$(PY) -m pytest -q tests/faults

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# asl-validator takes one --json-path per file; --no-arn-check: the ${Substitutions} are not ARNs yet
static: setup
	for machine in statemachines/*.asl.json; do \
		npx --no-install asl-validator --no-arn-check --json-path "$$machine" || exit 1; \
	done
	$(SAM) validate --lint --region $(REGION)
	$(SAM_VENV)/bin/cfn-lint template.yaml  # the tool venv's: it has aws-sam-translator to expand SAM
	PYENV_VERSION=$(PY_VERSION) $(SAM) build --build-dir build/sam
	$(MAKE) security

# checkov on the SAM-expanded template (.checkov.yaml), parliament on every IAM policy, bandit on
# the Python; each accepted finding is named where it is, with its reason (README, Hardening).
security: setup
	mkdir -p build
	$(PY) -m pitwall_local.template > build/template.expanded.json
	$(SECURITY)/checkov --skip-download --config-file .checkov.yaml -f build/template.expanded.json
	PYTHONPATH=layers/pitwall $(SECURITY)/python scripts/audit_policies.py build/template.expanded.json template.yaml
	$(SECURITY)/bandit -q -c pyproject.toml -r layers/pitwall/pitwall functions cli local scripts

unit: setup
	$(PY) -m pytest -q tests/unit

integration: setup
	$(PY) -m pytest -q tests/integration

bench: setup
	$(PY) -m bench

clean:
	rm -rf $(VENV) .tools node_modules build .setup-stamp
