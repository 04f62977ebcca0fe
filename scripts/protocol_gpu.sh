#!/usr/bin/env bash
# The whole converged NEON protocol (sweeps/neon_converged.yaml, then DFMSD's readings, sweeps/protocol/readings.yaml)
# on one GPU machine in one call, prepared for a lent device machine (one H200, 16 CPU cores, Python 3.12 with its
# own torch, no network). PREPARED, NOT RUN: no GPU was lent to the task that wrote it, so its wall time is
# unmeasured.
#
# Here, once:  scripts/protocol_gpu.sh --prepare     (copies the prepared NEON data and ImageNet weights into
#              .gpu/ and downloads a pycocotools wheel for Python 3.12; .gpu/ is git-ignored)
# There:       scripts/protocol_gpu.sh OUT            (carry .gpu; writes OUT/protocol runs and OUT/hypotheses.md)
# Runs go 8 at a time on the one GPU (train.device=cuda, 2 CPU threads each); W&B is off; the run ids are those
# of the CPU protocol except for train.device and train.num_threads (numerics differ between devices).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--prepare" ]; then
  mkdir -p .gpu/wheels .gpu/cache .gpu/torch
  grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >>.git/info/exclude
  cache=${DFMSD_BENCH_CACHE:-$HOME/.cache/dfmsd-bench}
  .venv/bin/dfmsd-bench data prepare neon >/dev/null && .venv/bin/dfmsd-bench data prepare weights >/dev/null
  cp -r "$cache/neon" .gpu/cache/ && cp -r "${TORCH_HOME:-$HOME/.cache/torch}/hub" .gpu/torch/
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .gpu/wheels pycocotools
  echo "prepared .gpu/ ($(du -sh .gpu | cut -f1)); carry it to the GPU machine"
  exit 0
fi
out=${1:?usage: scripts/protocol_gpu.sh OUT | --prepare}
python3 -m pip install -q --no-index --no-deps --target /tmp/site .gpu/wheels/*.whl
export PYTHONPATH=/tmp/site:$PWD DFMSD_BENCH_CACHE=$PWD/.gpu/cache TORCH_HOME=$PWD/.gpu/torch WANDB_MODE=disabled
start=$(date +%s)
for sweep in sweeps/neon_converged.yaml sweeps/protocol/readings.yaml; do  # the comparison, then DFMSD's readings
  python3 -m benchmark.cli run "$sweep" train.device=cuda train.num_threads=2 --workers 8 --out "$out/protocol" \
    --no-progress
done
python3 scripts/protocol_tables.py hypotheses "$out/protocol" >"$out/hypotheses.md"
echo "protocol on the GPU: $(( $(date +%s) - start )) s"
