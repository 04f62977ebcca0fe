#!/usr/bin/env bash
# Install dfmsd-bench with its test extras into ./.venv (and the TeX engine of the LaTeX test), then run the
# whole test suite: the fast default suite first, then the end-to-end tests marked `slow`, then the tests
# marked `slurm` on a real one-node Slurm cluster (scripts/slurm_local.sh installs Debian's packages when
# missing, as root, and starts it; it is stopped at the end). Where no cluster can run (not root, no apt),
# the slurm tests skip with the reason; where it started, they must run (DFMSD_SLURM_REQUIRED=1; collecting
# none is pytest's exit 5). Extra arguments go to every pytest call (e.g. scripts/test.sh -x).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --dev --mm
bash scripts/install_tex.sh  # pdflatex + booktabs + pdftoppm for the LaTeX test of the report tables
export WANDB_MODE=offline WANDB_SILENT=true MPLBACKEND=Agg
.venv/bin/python -m pytest -m "not slow and not slurm" "$@"
.venv/bin/python -m pytest -m "slow and not slurm" "$@"
cluster=0
bash scripts/slurm_local.sh start || cluster=$?
case $cluster in
  0) trap 'bash scripts/slurm_local.sh stop >/dev/null' EXIT; export DFMSD_SLURM_REQUIRED=1 ;;
  3) echo "test.sh: no Slurm cluster here; the slurm tests skip" >&2 ;;
  *) exit "$cluster" ;;
esac
.venv/bin/python -m pytest -m slurm "$@"
