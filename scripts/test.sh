#!/usr/bin/env bash
# Install dfmsd-bench with its test extras into ./.venv (and the TeX engine of the LaTeX test), then run the
# whole test suite: the fast default suite first, then the end-to-end tests marked `slow`.
# Extra arguments go to both pytest calls (e.g. scripts/test.sh -x).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --dev --mm
bash scripts/install_tex.sh  # pdflatex + booktabs + pdftoppm for the LaTeX test of the report tables
export WANDB_MODE=offline WANDB_SILENT=true MPLBACKEND=Agg
.venv/bin/python -m pytest -m "not slow" "$@"
.venv/bin/python -m pytest -m slow "$@"
