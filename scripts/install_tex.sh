#!/usr/bin/env bash
# Install the TeX engine the LaTeX test compiles the report's tables with (tests/reports/test_latex.py):
# pdflatex (Debian texlive-latex-base), booktabs (texlive-latex-recommended), pdftoppm (poppler-utils).
# Does nothing when pdflatex, booktabs.sty and pdftoppm are already there; needs root and apt-get otherwise
# (without them it says so and exits 0: the test is then skipped with the reason).
set -euo pipefail
PACKAGES=(texlive-latex-base texlive-latex-recommended poppler-utils)
if command -v pdflatex >/dev/null && command -v pdftoppm >/dev/null && kpsewhich booktabs.sty >/dev/null; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "install_tex.sh: no root apt-get here; install ${PACKAGES[*]} to run the LaTeX test" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" >/dev/null \
  || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" >/dev/null; }
echo "install_tex.sh: $(pdflatex --version | head -1)"
