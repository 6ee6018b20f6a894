#!/usr/bin/env bash
# One-command setup: a virtual environment in .venv with kinlatent (editable) and its test tools.
# torch is pinned to 2.13.0 (the CPU build on this machine's disk; an unpinned torch pulls a CUDA build).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet "torch==2.13.0"
.venv/bin/python -m pip install --quiet -e ".[dev]"
echo "kinlatent installed in .venv (activate with: source .venv/bin/activate)"
