#!/usr/bin/env bash
# Run the scikit-learn baseline in a project-local virtualenv (.venv, gitignored).
#   scripts/baseline_sklearn.sh [SPLIT_DIR]   (default: tmp/split, written by scripts/export-split.ts)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
if ! .venv/bin/python -c "import sklearn" 2>/dev/null; then
  .venv/bin/pip install --quiet scikit-learn
fi
split="${1:-tmp/split}"
if [ ! -f "$split/train.jsonl" ]; then
  node scripts/export-split.ts --out "$split"
fi
exec .venv/bin/python scripts/baseline_sklearn.py "$split"
