#!/usr/bin/env bash
# Install dfmsd-bench into ./.venv (created if missing). Usage: scripts/install.sh [--dev] [--mm]
#   --dev  test and lint tools (pytest, hypothesis, ruff, submitit)
#   --mm   the mmdetection 3.x back end (mmengine, mmdet, and mmcv 2.1.0 built by scripts/install_mm.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
extras=()
mm=0
for arg in "$@"; do
  case "$arg" in
    --dev) extras+=(dev) ;;
    --mm) mm=1 ;;
    -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip 'setuptools<81' wheel
spec="."
if [ ${#extras[@]} -gt 0 ]; then spec=".[$(IFS=,; echo "${extras[*]}")]"; fi
.venv/bin/python -m pip install -q -e "$spec"
if [ "$mm" = 1 ]; then bash scripts/install_mm.sh; fi
echo "installed: $(.venv/bin/python -c 'import torch, torchvision; print("torch", torch.__version__, "torchvision", torchvision.__version__)')"
