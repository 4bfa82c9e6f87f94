#!/usr/bin/env bash
# The test command. On a fresh Debian/Ubuntu machine it installs what the tests need
# (redis-server and nginx from the distribution; the tests start their own on free loopback
# ports, nginx with a config under a temp dir; chromium, the distribution's browser the GraphQL
# IDE test drives headless; prometheus, whose server and promtool check the shipped monitoring
# rules and dashboard, started by the test on a free loopback port, never the packaged service;
# the JDK, for the Java program that checks session tokens as a Spring module's JDK would),
# installs the npm dependencies, type-checks, runs every test, and ends with one line
# "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
[ -x /usr/bin/chromium ] || missing+=(chromium)
{ command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; } || missing+=(prometheus)
# The JDK (javac, java): a Java 17 program checks session tokens with the JDK alone (test/tokens/java).
{ command -v javac >/dev/null 2>&1 && command -v java >/dev/null 2>&1; } || missing+=(default-jdk-headless)
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  if [[ " ${missing[*]} " == *" prometheus "* ]]; then
    # The package may start its system service (port 9090). The tests never use it; stop it so
    # it holds nothing, by its own PID only (systemd's, or the init script's pid file).
    $sudo systemctl stop prometheus 2>/dev/null || true
    pid=$(systemctl show -p MainPID --value prometheus 2>/dev/null || true)
    [ -n "$pid" ] && [ "$pid" != 0 ] || pid=$(cat /run/prometheus.pid /run/prometheus/prometheus.pid 2>/dev/null | head -n 1 || true)
    if [ -n "$pid" ] && [ "$pid" != 0 ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = prometheus ]; then
      $sudo kill "$pid" || true
    fi
  fi
fi
redis_major=$(redis-server --version | sed -E 's/.*v=([0-9]+).*/\1/')
if [ "$redis_major" -lt 7 ]; then
  echo "redis-server 7.0 or newer is needed (found $(redis-server --version))" >&2
  exit 1
fi

npm ci --no-audit --no-fund --loglevel=error
npm run --silent typecheck

mkdir -p test-results
set +e
# --forceExit: a test that leaks a handle (a socket left open by a failure) must not hold the
# whole run until CI gives up on it; the run still fails on the test itself.
npx jest --json --outputFile=test-results/jest.json --forceExit
status=$?
set -e
node -e '
  const r = require("./test-results/jest.json");
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests + r.numRuntimeErrorTestSuites} failed`);
'
exit $status
