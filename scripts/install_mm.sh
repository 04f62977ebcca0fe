#!/usr/bin/env bash
# Install the mmdetection 3.x back end into ./.venv: mmengine 0.10.7, mmdet 3.3.0 and mmcv 2.1.0 (full ops).
#
# Usage: scripts/install_mm.sh [--cuda] [--from-source] [--resolve-only | --prepare-only DIR | --recipe-hash]
#   --cuda             build mmcv with CUDA kernels (needed to train mmdet models on a GPU; run it on a GPU node
#                      with the CUDA toolkit matching torch). Cached apart from the CPU-ops wheel.
#   --resolve-only     find (or build) the verified mmcv wheel, cache it, print its path; install nothing.
#   --prepare-only DIR download the pinned sdist into DIR, check it, unpack and patch it, print the source folder;
#                      compile nothing (what a fresh machine does before the 11-minute compile; tested in CI).
#   --from-source      build from the sdist even when a cached or prebuilt wheel exists (the new wheel is cached)
#   --recipe-hash      print the sha256 of the build recipe (versions, sdist hash, patch, build command); the
#                      full compile is tested again when it differs from scripts/mmcv_recipe.verified.
#
# mmcv 2.1.0 has no wheel for torch 2.14 on PyPI, so the wheel is taken, in this order, from
#   1. the cache <cache>/wheels[/cuda]/mmcv-2.1.0-*.whl (cache = $DFMSD_BENCH_CACHE or ~/.cache/dfmsd-bench),
#      checked against its recorded sha256 (<wheel>.sha256, written when it was cached);
#   2. (CPU ops only) $DFMSD_MMCV_WHEEL, else ../shared/wheels/mmcv-2.1.0-cp311-cp311-linux_x86_64.whl,
#      used only if its sha256 is the pinned one of the prebuilt wheel (copied into the cache);
#   3. a build from the PyPI sdist (sha256 pinned): -std=c++17 -> -std=c++20 for torch 2.14's headers,
#      MAX_JOBS (default 2) parallel compile jobs; about 11 minutes on 2 cores. The wheel is cached.
# A cached or given wheel whose sha256 does not match is refused (exit 1), never silently replaced.
# Idempotent: a second run reuses the cache and pip finds everything installed.
set -euo pipefail
cd "$(dirname "$0")/.."

MMCV_VERSION=2.1.0
PREBUILT_NAME=mmcv-2.1.0-cp311-cp311-linux_x86_64.whl
PREBUILT_SHA256=df0f07f6e060231c0ec5e9b76175bbb8250552b7bda0e532182b5694261ed8a0
SDIST_SHA256=d387bcab66b467479b6660310e23746cfc79c6e57acf04094680adb499a5cd3f
PIP_PINS=(mmengine==0.10.7 mmdet==3.3.0)

die() { echo "install_mm.sh: error: $*" >&2; exit 1; }
say() { echo "install_mm.sh: $*" >&2; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

PATCH='s/-std=c++17/-std=c++20/g'
BUILD_CMD='MMCV_WITH_OPS=1 pip wheel --no-build-isolation --no-deps'
RECIPE="mmcv==$MMCV_VERSION sdist:$SDIST_SHA256 patch:$PATCH build:$BUILD_CMD setuptools<81"

cuda=0
resolve_only=0
from_source=0
prepare_dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --cuda) cuda=1 ;;
    --resolve-only) resolve_only=1 ;;
    --from-source) from_source=1 ;;
    --prepare-only) [ $# -ge 2 ] || die "--prepare-only needs a folder"; prepare_dir=$2; shift ;;
    --recipe-hash) printf '%s' "$RECIPE" | sha256sum | cut -d' ' -f1; exit 0 ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done

cache_root=${DFMSD_BENCH_CACHE:-$HOME/.cache/dfmsd-bench}
wheel_dir="$cache_root/wheels"
if [ "$cuda" = 1 ]; then wheel_dir="$wheel_dir/cuda"; fi
mkdir -p "$wheel_dir"
PY="$PWD/.venv/bin/python"
WHEEL=""
BUILD_DIR=""
trap '[ -z "$BUILD_DIR" ] || rm -rf "$BUILD_DIR"' EXIT

# Put a verified wheel into the cache with its recorded sha256 (atomic: copy to a temp name, then rename).
cache_wheel() {  # cache_wheel SRC SHA256
  local src=$1 digest=$2 dst="$wheel_dir/$(basename "$1")"
  echo "$digest" >"$dst.sha256"
  cp "$src" "$dst.part" && chmod 644 "$dst.part" && mv "$dst.part" "$dst"
  WHEEL=$dst
}

# 1. The cache: an mmcv wheel there must match its recorded sha256 (or, with no record, the prebuilt one).
cached_wheel() {
  local whl recorded got
  for whl in "$wheel_dir"/mmcv-"$MMCV_VERSION"-*.whl; do
    [ -e "$whl" ] || continue
    got=$(sha "$whl")
    if [ -f "$whl.sha256" ]; then recorded=$(tr -d ' \n' <"$whl.sha256"); else recorded=$PREBUILT_SHA256; fi
    if [ "$got" != "$recorded" ]; then
      die "cached $whl has sha256 $got, expected $recorded; refusing it (delete it to rebuild)"
    fi
    WHEEL=$whl
    return 0
  done
  return 1
}

# 2. The prebuilt CPU-ops wheel ($DFMSD_MMCV_WHEEL must match; the shared default is skipped if it does not).
prebuilt_wheel() {
  local src got
  if [ -n "${DFMSD_MMCV_WHEEL:-}" ]; then
    [ -f "$DFMSD_MMCV_WHEEL" ] || die "DFMSD_MMCV_WHEEL=$DFMSD_MMCV_WHEEL: no such file"
    got=$(sha "$DFMSD_MMCV_WHEEL")
    [ "$got" = "$PREBUILT_SHA256" ] ||
      die "DFMSD_MMCV_WHEEL=$DFMSD_MMCV_WHEEL has sha256 $got, expected $PREBUILT_SHA256; refusing it"
    cache_wheel "$DFMSD_MMCV_WHEEL" "$got"
    return 0
  fi
  src=../shared/wheels/$PREBUILT_NAME
  [ -f "$src" ] || return 1
  got=$(sha "$src")
  if [ "$got" != "$PREBUILT_SHA256" ]; then
    say "warning: $src has sha256 $got, expected $PREBUILT_SHA256; not using it"
    return 1
  fi
  cache_wheel "$src" "$got"
}

# Download the pinned sdist into $1, check its sha256, unpack and patch it; sets SRC to the source folder.
# `pip download` prepares the sdist's metadata by running its setup.py: without build isolation, so that it runs
# in the venv (torch, setuptools<81 with pkg_resources) instead of a fresh env whose setuptools lacks pkg_resources.
prepare_sdist() {
  local dir=$1 tarball
  [ -x "$PY" ] || die "no ./.venv (run scripts/install.sh first): preparing mmcv needs torch installed"
  mkdir -p "$dir"
  "$PY" -m pip install -q 'setuptools<81' wheel psutil ninja
  "$PY" -m pip download -q --no-deps --no-build-isolation --no-binary :all: "mmcv==$MMCV_VERSION" -d "$dir" ||
    die "pip download of the mmcv $MMCV_VERSION sdist failed"
  tarball="$dir/mmcv-$MMCV_VERSION.tar.gz"
  [ -f "$tarball" ] || die "pip download saved no $tarball"
  [ "$(sha "$tarball")" = "$SDIST_SHA256" ] || die "$tarball: sha256 $(sha "$tarball") is not the pinned $SDIST_SHA256"
  tar xzf "$tarball" -C "$dir"
  SRC="$dir/mmcv-$MMCV_VERSION"
  sed -i "$PATCH" "$SRC/setup.py"
  grep -q -- '-std=c++20' "$SRC/setup.py" || die "the C++20 patch of mmcv's setup.py did not apply"
}

# 3. Build from the PyPI sdist with the C++20 fix; the new wheel's sha256 is recorded beside it.
build_wheel() {
  local build wheel
  build=$(mktemp -d "$cache_root/mmcv-build.XXXXXX")
  BUILD_DIR=$build
  say "building mmcv $MMCV_VERSION from source (about 11 min on 2 cores; MAX_JOBS=${MAX_JOBS:-2})"
  prepare_sdist "$build"
  if [ "$cuda" = 1 ]; then export FORCE_CUDA=1; else export FORCE_CUDA=0 CUDA_VISIBLE_DEVICES=""; fi
  (cd "$SRC" &&
    MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-2} "$PY" -m pip wheel --no-build-isolation --no-deps -w "$build/dist" .) ||
    die "building the mmcv wheel failed (see the compiler output above)"
  wheel=$(ls "$build"/dist/mmcv-"$MMCV_VERSION"-*.whl 2>/dev/null | head -n1)
  [ -n "$wheel" ] || die "pip wheel produced no mmcv wheel"
  cache_wheel "$wheel" "$(sha "$wheel")"
}

if [ -n "$prepare_dir" ]; then
  prepare_sdist "$prepare_dir"
  echo "$SRC"
  exit 0
fi

# The helpers set WHEEL and return 1 only for "not there"; a bad file exits the script (die).
if [ "$from_source" = 1 ]; then
  build_wheel
elif ! cached_wheel; then
  if [ "$cuda" = 1 ] || ! prebuilt_wheel; then
    build_wheel
  fi
fi
say "mmcv wheel: $WHEEL"
if [ "$resolve_only" = 1 ]; then echo "$WHEEL"; exit 0; fi

[ -x "$PY" ] || die "no ./.venv: run scripts/install.sh first"
"$PY" -m pip install -q 'setuptools<81' wheel psutil
"$PY" -m pip install -q "${PIP_PINS[@]}" "$WHEEL"
"$PY" - <<'EOF' || die "the installed mmdet stack does not import (see above)"
import mmcv, mmdet, mmengine
from mmcv.ops import nms, RoIAlign  # compiled ops: fails for mmcv-lite or a broken build
print(f"install_mm.sh: mmengine {mmengine.__version__}, mmcv {mmcv.__version__}, mmdet {mmdet.__version__}: ok")
EOF
