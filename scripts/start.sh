#!/usr/bin/env bash
# Quick start: install what is missing, build, make sure PostgreSQL, Redis and NATS answer on their usual ports
# (installing and starting Debian's packages where they are missing), then run the main job: `adi demo`, the
# whole pipeline watching the demo workload, until Ctrl-C. Its outputs land in ./adi-demo/ (or --out DIR).
# Extra arguments go to `adi demo` (e.g. --duration 60); configuration is by environment variables (README).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/services.sh postgres redis nats
exec bin/adi demo "$@"
