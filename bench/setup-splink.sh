#!/usr/bin/env bash
# The peer's own environment: Splink (latest at the time of writing) and the packages the public
# benchmark sets ship in. Kept apart from c360's venv so neither constrains the other's versions.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
venv="$here/.venv-splink"
if [[ ! -x "$venv/bin/python" ]]; then
  python3.11 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet "splink==5.0.0" "recordlinkage==0.16" "ER-Evaluation==2.3.0" "pandas==2.3.3" \
  "duckdb==2.0.1" "pyarrow"
echo "Splink environment ready: $venv"
