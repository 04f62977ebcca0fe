#!/usr/bin/env bash
# Install dfmsd-bench with its test extras into ./.venv, then run the whole test suite:
# the fast default suite first, then the end-to-end tests marked `slow`.
# Extra arguments go to both pytest calls (e.g. scripts/test.sh -x).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --dev --mm
export WANDB_MODE=offline WANDB_SILENT=true MPLBACKEND=Agg
.venv/bin/python -m pytest -m "not slow" "$@"
.venv/bin/python -m pytest -m slow "$@"
