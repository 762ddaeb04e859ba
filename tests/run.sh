#!/usr/bin/env bash
# The test command of the README: set up .venv, then lint, format check, types and the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet -e '.[test]'
.venv/bin/ruff check plugins tests
.venv/bin/ruff format --check plugins tests
.venv/bin/mypy --strict plugins
.venv/bin/python -m pytest "$@"
