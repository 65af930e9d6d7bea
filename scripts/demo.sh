#!/usr/bin/env bash
# The first thing to run: installs dependencies, builds, brings up the lab,
# starts uplinkd in it with config/lab.toml, injects a short fault sequence
# while `uplinkctl events --follow` prints what the daemon saw, then tears it
# all down. Without uplinkd (not built yet) it demonstrates the lab alone, with
# pings. Needs root (network namespaces). About a minute.
#
#   scripts/demo.sh                                   install, build, run
#   DEMO_SKIP_BUILD=1 BUILD_DIR=build scripts/demo.sh reuse a build (no apt, no ninja)
#
# It ends by itself a few seconds after its last step (uplinkd gets SIGTERM,
# every process it started is stopped by PID, the lab is removed), also on
# Ctrl-C or a failure. Its events are printed line by line whether stdout is a
# terminal, a pipe or a file. Exit status: 0 when every step showed what its
# title says, 1 otherwise (the steps that did not are listed at the end).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD_DIR:-$ROOT/build}

if [ "$(id -u)" -ne 0 ]; then echo "demo.sh: run as root (network namespaces)" >&2; exit 1; fi

# say, alive, await_exit, stop_pid, summary
. scripts/lib/lab.sh

if [ "${DEMO_SKIP_BUILD:-0}" != 1 ]; then   # DEMO_SKIP_BUILD=1 BUILD_DIR=...: reuse a build
  say "dependencies"
  scripts/setup-deps.sh
  say "build"
  cmake -S . -B "$BUILD" -G Ninja >/dev/null
  # The whole tree when it builds; else just the lab (other modules may be mid-work).
  ninja -C "$BUILD" || ninja -C "$BUILD" uplink-lab
fi

LAB="$BUILD/bin/uplink-lab"
PREFIX="demo$(head -c 64 /dev/urandom | tr -dc 'a-z0-9' | head -c 4)"
export UPLINK_LAB_PREFIX=$PREFIX
TMP=$(mktemp -d /tmp/uplink-demo.XXXXXX)
DAEMON_PID="" EVENTS_PID="" PRINTER_PID="" SEND_PID="" RECV_PID=""
MISSED=()   # steps whose expected outcome did not show

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  stop_pid "$SEND_PID"
  stop_pid "$RECV_PID"
  # The event reader first: `uplinkctl events --follow` by its PID; its printer
  # then reads end-of-file and ends by itself (bounded, then by PID as well).
  stop_pid "$EVENTS_PID"
  if [ -n "$PRINTER_PID" ]; then
    await_exit "$PRINTER_PID" 2 || stop_pid "$PRINTER_PID"
    wait "$PRINTER_PID" 2>/dev/null
  fi
  if [ -n "$DAEMON_PID" ]; then
    say "stop uplinkd (SIGTERM to PID $DAEMON_PID)"
    stop_pid "$DAEMON_PID" 5
    local drc=$?
    echo "  uplinkd exited with status $drc"
    if [ "$drc" -ne 0 ]; then
      sed 's/^/  [uplinkd] /' "$TMP/uplinkd.log" | tail -20
      [ "$rc" -eq 0 ] && rc=1
    fi
  fi
  say "tear down"
  "$LAB" down
  rm -rf "$TMP"
  if [ "${#MISSED[@]}" -gt 0 ]; then
    echo "demo.sh: these steps did not show what they announce:" >&2
    printf '  %s\n' "${MISSED[@]}" >&2
    [ "$rc" -eq 0 ] && rc=1
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

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
  # Same rewrite as the test fixture: [daemon] paths into the temp dir. And the
  # LAN rule without `sticky`, so that each new LAN flow is classified afresh
  # (with sticky = "10m" the LAN host stays on the one line it was first given
  # while that line is healthy, and a fault on the other line moves nothing).
  sed -e "s#^socket *=.*#socket = \"$SOCK\"#" -e "s#^state_dir *=.*#state_dir = \"$TMP/state\"#" \
      -e "s#^hooks_dir *=.*#hooks_dir = \"$TMP/hooks.d\"#" -e '/^sticky *=/d' config/lab.toml > "$TMP/uplinkd.toml"
  say "uplinkd in router (config/lab.toml; this run drops the LAN rule's sticky = \"10m\")"
  # `uplink-lab exec` and `ip netns exec` exec: $! is uplinkd's own PID.
  "$LAB" exec router -- "$UPLINKD" --config "$TMP/uplinkd.toml" >"$TMP/uplinkd.log" 2>&1 &
  DAEMON_PID=$!
  for _ in $(seq 100); do "$UPLINKCTL" --socket "$SOCK" status >/dev/null 2>&1 && break; sleep 0.1; done
  # Events, one line each as they happen: uplinkctl flushes every line; the
  # printer (sed -u, unbuffered) prefixes them. Each has its own PID, so the
  # tear-down stops the reader, and the printer ends at end-of-file.
  exec {EVENTS_FD}> >(exec sed -u 's/^/  [event] /')
  PRINTER_PID=$!
  "$UPLINKCTL" --socket "$SOCK" events --follow >&"$EVENTS_FD" 2>&1 &
  EVENTS_PID=$!
  exec {EVENTS_FD}>&-
  # LAN traffic made visible: a 50 packets/s UDP stream from lan to core, a new
  # flow every 0.5 s (each one classified afresh: about 3 of 4 via wan1, 1 of 4
  # via wan2, their weights), counted in core per source address. The router
  # masquerades the LAN and the ISPs do not NAT: the source names the line.
  # `ip netns exec` execs the program, so these PIDs are the tools' own.
  if [ -x "$BUILD/bin/flow-send" ] && [ -x "$BUILD/bin/flow-recv" ]; then
    ip netns exec "$PREFIX-core" "$BUILD/bin/flow-recv" --port 5050 >"$TMP/recv.log" 2>&1 &
    RECV_PID=$!
    sleep 0.3
    ip netns exec "$PREFIX-lan" "$BUILD/bin/flow-send" --target 203.0.113.1 --port 5050 --rate 50 \
      --flows 100000 --packets-per-flow 25 --src-port-base 0 >"$TMP/send.log" 2>&1 &
    SEND_PID=$!
  fi
  # Waits (at most $1 s) until every WORD (e.g. wan1=down default=wan2) is in the summary.
  CURRENT_STEP="start"
  expect() {
    local secs=$1 i now w ok; shift
    for ((i = 0; i < secs * 5; i++)); do
      now=" $(summary) " ok=1
      for w in "$@"; do [[ "$now" == *" $w "* ]] || ok=0; done
      [ "$ok" = 1 ] && return 0
      sleep 0.2
    done
    echo "  (after ${secs}s still: $now; expected $*)"
    MISSED+=("$CURRENT_STEP: expected $*")
  }
  step() { CURRENT_STEP=$*; say "$*"; }
  # Per ISP: the LAN packets core received since the previous call ("mark":
  # only remember the counts).
  lan_traffic() {
    [ -n "$RECV_PID" ] || return 0
    local before; before=$(grep -c '^{' "$TMP/recv.log" || true)
    kill -USR1 "$RECV_PID" 2>/dev/null || return 0
    for _ in $(seq 30); do [ "$(grep -c '^{' "$TMP/recv.log" || true)" -gt "$before" ] && break; sleep 0.1; done
    python3 - "$TMP/recv.log" "$TMP/recv.prev" "${1:-show}" <<'PY'
import json, sys
log, prev_path, mode = sys.argv[1], sys.argv[2], sys.argv[3]
lines = [l for l in open(log) if l.startswith("{")]
now = {src: v["packets"] for src, v in json.loads(lines[-1])["by_source"].items()} if lines else {}
try:
    prev = json.load(open(prev_path))
except (OSError, ValueError):
    prev = {}
json.dump(now, open(prev_path, "w"))
if mode == "mark":
    sys.exit(0)
isps = {"198.18.1.2": "wan1 (eth1, isp-eth)", "198.18.2.2": "wan2 (eth2, isp-dsl)",
        "198.18.3.2": "cell1 (wwan0, isp-cell1)", "198.18.4.2": "cell2 (wwan1, isp-cell2)"}
print("  LAN stream lan -> core in the 3 s after the change, packets per ISP (core sees the line's address):")
for src, name in isps.items():
    n = now.get(src, 0) - prev.get(src, 0)
    print(f"    {name:26s} {n:6d} {'#' * min(60, n // 10)}")
PY
  }
  # Once the expected state shows: 3 s of LAN traffic on the new lines, then
  # the daemon's view and what core counted in those 3 s.
  evidence() { lan_traffic mark; sleep 3; "$UPLINKCTL" --socket "$SOCK" status || true; lan_traffic; }
  expect 20 wan1=up wan2=up cell1=up cell2=up default=wan1,wan2
  evidence
else
  say "uplinkd is not built yet: demonstrating the lab alone (ping from each line's address)"
  for l in "eth1 1" "eth2 2" "wwan0 3" "wwan1 4"; do pin $l; done
  step() { say "$*"; }
  expect() { sleep 3; }
  evidence() { echo "  eth1:"; ping_line 1; echo "  wwan0:"; ping_line 3; }
  evidence
fi

step "fault: upstream-down on eth1 (carrier stays up, the ISP loses core: wan1 down, its flows move to wan2)"
"$LAB" fault eth1 upstream-down
expect 15 wan1=down default=wan2
evidence
step "fault: clear eth1 (wan1 earns its way back with up_after good rounds, then shares tier 1 again)"
"$LAB" fault eth1 clear
expect 15 wan1=up default=wan1,wan2
evidence
step "fault: upstream-down on eth1 and eth2 (both tier-1 lines lose core: tier 2, cell1, takes over)"
"$LAB" fault eth1 upstream-down
"$LAB" fault eth2 upstream-down
expect 15 wan1=down wan2=down default=cell1
evidence
step "fault: carrier-down on wwan0 as well (router sees NO-CARRIER: tier 3, cell2, at once)"
"$LAB" fault wwan0 carrier-down
"$LAB" exec router -- ip -br link show wwan0 | sed 's/^/    /'
expect 10 cell1=down default=cell2
evidence
step "fault: clear eth1 and eth2 (tier 1 returns after its recovery hysteresis)"
"$LAB" fault eth1 clear
"$LAB" fault eth2 clear
expect 15 wan1=up wan2=up default=wan1,wan2
evidence
step "fault: carrier back on wwan0, now with 80 ms delay and 10 ms jitter (cell1 up again, standby in tier 2)"
"$LAB" fault wwan0 delay 80 jitter 10
"$LAB" fault wwan0 carrier-up
expect 15 cell1=up default=wan1,wan2
evidence
"$LAB" status

# The AIoT story on this lab and uplinkd (scripts/demo-aiot.sh; it says why and is skipped when the build lacks a piece).
if [ -n "${SOCK:-}" ]; then AIOT_SOCKET=$SOCK AIOT_CONFIG="$TMP/uplinkd.toml" BUILD_DIR=$BUILD scripts/demo-aiot.sh || MISSED+=("the AIoT story (scripts/demo-aiot.sh): see its lines above"); fi
