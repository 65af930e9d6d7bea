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
DAEMON_PID="" EVENTS_PID="" SEND_PID="" RECV_PID=""

cleanup() {
  set +e
  [ -n "$SEND_PID" ] && kill "$SEND_PID" 2>/dev/null && wait "$SEND_PID" 2>/dev/null
  [ -n "$RECV_PID" ] && kill "$RECV_PID" 2>/dev/null && wait "$RECV_PID" 2>/dev/null
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
  # LAN traffic made visible: a 50 packets/s UDP stream from lan to core, new
  # flow every 2 s (so each one is classified afresh), counted in core per
  # source address. The ISPs do not NAT: the source names the line that carried it.
  # `ip netns exec` execs the program, so these PIDs are the tools' own.
  if [ -x "$BUILD/bin/flow-send" ] && [ -x "$BUILD/bin/flow-recv" ]; then
    ip netns exec "$PREFIX-core" "$BUILD/bin/flow-recv" --port 5050 >"$TMP/recv.log" 2>&1 &
    RECV_PID=$!
    sleep 0.3
    ip netns exec "$PREFIX-lan" "$BUILD/bin/flow-send" --target 203.0.113.1 --port 5050 --rate 50 \
      --flows 100000 --packets-per-flow 100 --src-port-base 0 >"$TMP/send.log" 2>&1 &
    SEND_PID=$!
  fi
  sleep 6
  "$UPLINKCTL" --socket "$SOCK" status || true
  step() { say "$*"; }
  # Per ISP: the LAN packets core received since the previous step.
  lan_traffic() {
    [ -n "$RECV_PID" ] || return 0
    local before; before=$(grep -c '^{' "$TMP/recv.log" || true)
    kill -USR1 "$RECV_PID"
    for _ in $(seq 30); do [ "$(grep -c '^{' "$TMP/recv.log" || true)" -gt "$before" ] && break; sleep 0.1; done
    python3 - "$TMP/recv.log" "$TMP/recv.prev" <<'PY'
import json, sys
log, prev_path = sys.argv[1], sys.argv[2]
lines = [l for l in open(log) if l.startswith("{")]
now = {src: v["packets"] for src, v in json.loads(lines[-1])["by_source"].items()}
try:
    prev = json.load(open(prev_path))
except (OSError, ValueError):
    prev = {}
json.dump(now, open(prev_path, "w"))
isps = {"198.18.1.2": "wan1 (eth1, isp-eth)", "198.18.2.2": "wan2 (eth2, isp-dsl)",
        "198.18.3.2": "cell1 (wwan0, isp-cell1)", "198.18.4.2": "cell2 (wwan1, isp-cell2)"}
print("  LAN stream lan -> core since the last step, packets per ISP (core sees the line's address):")
for src, name in isps.items():
    n = now.get(src, 0) - prev.get(src, 0)
    print(f"    {name:26s} {n:6d} {'#' * min(60, n // 10)}")
PY
  }
  evidence() { "$UPLINKCTL" --socket "$SOCK" status || true; lan_traffic; }
  evidence
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
step "fault: upstream-down on eth1 and eth2 (both tier-1 lines lose core: tier 2, cell1, takes over)"
"$LAB" fault eth1 upstream-down
"$LAB" fault eth2 upstream-down
sleep 5; evidence
step "fault: carrier-down on wwan0 as well (router sees NO-CARRIER: tier 3, cell2, at once)"
"$LAB" fault wwan0 carrier-down
"$LAB" exec router -- ip -br link show wwan0 | sed 's/^/    /'
sleep 3; evidence
step "fault: clear eth1 and eth2 (tier 1 returns after its recovery hysteresis)"
"$LAB" fault eth1 clear
"$LAB" fault eth2 clear
sleep 5; evidence
step "fault: delay 80 jitter 10 on wwan0, carrier back"
"$LAB" fault wwan0 carrier-up
"$LAB" fault wwan0 delay 80 jitter 10
sleep 3; evidence
step "fault: clear wwan0"
"$LAB" fault wwan0 clear
"$LAB" status
