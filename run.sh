#!/usr/bin/env bash
# One-command entry points. Each sets up .venv (pinned by constraints.txt, CPU jax) on first use, then runs.
#   bash run.sh demo   train the char LSTM on the embedded corpus (no download), then print samples
#   bash run.sh test   the full test suite (CPU, 8 fake devices)
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=${GENJAX_VENV:-.venv}

setup() {
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || { echo "genjax needs Python 3.11+; set PYTHON=/path/to/python3.11" >&2; exit 1; }
  local stamp="$VENV/.genjax-installed"
  if [ ! -f "$stamp" ] || ! cmp -s constraints.txt "$stamp"; then
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
    cp constraints.txt "$stamp"
  fi
}

case "${1:-}" in
  demo)
    setup
    workdir=${2:-runs/pydoc_demo}
    "$VENV/bin/genjax" train --config configs/char_rnn_pydoc.py:cpu --workdir "$workdir" --config.steps=600
    "$VENV/bin/genjax" sample --workdir "$workdir" -n 2 --length 400 --prompt "The "
    ;;
  test)
    setup
    shift
    # Two workers, whole files each (a file shares its compiled fixtures): the suite is compile-bound, ~18% faster
    "$VENV/bin/python" -m pytest -n "${GENJAX_TEST_WORKERS:-2}" --dist loadfile "$@"
    ;;
  *)
    echo "usage: bash run.sh demo [WORKDIR] | bash run.sh test [PYTEST_ARGS]" >&2
    exit 2
    ;;
esac
