#!/usr/bin/env bash
# The first thing to run: installs dependencies, builds, brings up the lab,
# starts uplinkd in it with config/lab.toml, injects a short fault sequence
# while `uplinkctl events` prints what the daemon saw, then tears it all down.
# Without uplinkd (not built yet) it demonstrates the lab alone, with pings.
# Needs root (network namespaces). About a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD_DIR:-$ROOT/build}

if [ "$(id -u)" -ne 0 ]; then echo "demo.sh: run as root (network namespaces)" >&2; exit 1; fi

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "dependencies"
scripts/setup-deps.sh

if [ "${DEMO_SKIP_BUILD:-0}" != 1 ]; then   # DEMO_SKIP_BUILD=1 BUILD_DIR=...: reuse a build
  say "build"
  cmake -S . -B "$BUILD" -G Ninja >/dev/null
  # The whole tree when it builds; else just the lab (other modules may be mid-work).
  ninja -C "$BUILD" || ninja -C "$BUILD" uplink-lab
fi

LAB="$BUILD/bin/uplink-lab"
PREFIX="demo$(head -c 64 /dev/urandom | tr -dc 'a-z0-9' | head -c 4)"
export UPLINK_LAB_PREFIX=$PREFIX
TMP=$(mktemp -d /tmp/uplink-demo.XXXXXX)
DAEMON_PID="" EVENTS_PID=""

cleanup() {
  set +e
  [ -n "$EVENTS_PID" ] && kill "$EVENTS_PID" 2>/dev/null && wait "$EVENTS_PID" 2>/dev/null
  [ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null
  say "tear down"
  "$LAB" down
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

say "lab up (prefix $PREFIX)"
"$LAB" up
"$LAB" status

pin() {  # route core through one line for the router's own address on it (table 900+N)
  local line=$1 n=$2
  "$LAB" exec router -- ip route replace 203.0.113.0/24 via "198.18.$n.1" dev "$line" table $((900 + n))
  "$LAB" exec router -- ip rule add from "198.18.$n.2" table $((900 + n)) pref $((90 + n))
}
ping_line() {  # ping core from one line's address: the evidence for a fault
  local n=$1
  "$LAB" exec router -- ping -q -c 5 -i 0.1 -W 1 -I "198.18.$n.2" 203.0.113.1 | tail -2 | sed 's/^/    /' || true
}

UPLINKD="$BUILD/bin/uplinkd" UPLINKCTL="$BUILD/bin/uplinkctl"
if [ -x "$UPLINKD" ] && [ -x "$UPLINKCTL" ]; then
  SOCK="$TMP/uplinkd.sock"
  mkdir -p "$TMP/state" "$TMP/hooks.d"
  # Same rewrite as the test fixture: [daemon] paths into the temp dir.
  sed -e "s#^socket *=.*#socket = \"$SOCK\"#" -e "s#^state_dir *=.*#state_dir = \"$TMP/state\"#" \
      -e "s#^hooks_dir *=.*#hooks_dir = \"$TMP/hooks.d\"#" config/lab.toml > "$TMP/uplinkd.toml"
  say "uplinkd in router"
  "$LAB" exec router -- "$UPLINKD" --config "$TMP/uplinkd.toml" >"$TMP/uplinkd.log" 2>&1 &
  DAEMON_PID=$!
  for _ in $(seq 50); do "$UPLINKCTL" --socket "$SOCK" status >/dev/null 2>&1 && break; sleep 0.1; done
  "$UPLINKCTL" --socket "$SOCK" events --follow | sed 's/^/  [event] /' &
  EVENTS_PID=$!
  sleep 6
  "$UPLINKCTL" --socket "$SOCK" status || true
  step() { say "$*"; }
  evidence() { "$UPLINKCTL" --socket "$SOCK" status || true; }
else
  say "uplinkd is not built yet: demonstrating the lab alone (ping from each line's address)"
  for l in "eth1 1" "eth2 2" "wwan0 3" "wwan1 4"; do pin $l; done
  step() { say "$*"; }
  evidence() { echo "  eth1:"; ping_line 1; echo "  wwan0:"; ping_line 3; }
  evidence
fi

step "fault: upstream-down on eth1 (carrier stays up, the ISP loses core)"
"$LAB" fault eth1 upstream-down
sleep 5; evidence
step "fault: clear eth1"
"$LAB" fault eth1 clear
sleep 5; evidence
step "fault: carrier-down on wwan0 (router sees NO-CARRIER)"
"$LAB" fault wwan0 carrier-down
"$LAB" exec router -- ip -br link show wwan0 | sed 's/^/    /'
sleep 3; evidence
step "fault: delay 80 jitter 10 on wwan0, carrier back"
"$LAB" fault wwan0 carrier-up
"$LAB" fault wwan0 delay 80 jitter 10
sleep 3; evidence
step "fault: clear wwan0"
"$LAB" fault wwan0 clear
"$LAB" status
