#!/usr/bin/env bash
# modemmanager_real_test: uplinkd's libmm-glib client against Debian's real
# ModemManager daemon (1.20) on a private bus, with no modem: the real client
# meets the real service. uplinkd runs in a namespace of its own (loopback
# only: its probes reach nothing outside).
#   modemmanager_real_test.sh SOURCE_DIR BUILD_DIR        (ctest: label netns, root)
# Checks: before ModemManager runs, the cellular link is down with reason
# modem_manager_unavailable; once it runs (no modem), reason no_modem; when it
# is killed, modem_manager_unavailable again and the other link untouched;
# restarted, no_modem again; no error storm in the log; uplinkd exits 0.
set -uo pipefail
SRC=${1:?usage: modemmanager_real_test.sh SOURCE_DIR BUILD_DIR}
BUILD=${2:?usage: modemmanager_real_test.sh SOURCE_DIR BUILD_DIR}
if [ "$(id -u)" -ne 0 ]; then echo "modemmanager_real_test: FAIL: needs root (network namespace)"; exit 1; fi
MM=$(command -v ModemManager || echo /usr/sbin/ModemManager)
[ -x "$MM" ] || { echo "modemmanager_real_test: FAIL: ModemManager not installed (package modemmanager)"; exit 1; }

NS="mmreal$$"
T=$(mktemp -d /tmp/uplink-mm-real.XXXXXX)
BUS_PID="" MM_PID="" DAEMON_PID=""
FAILED=0
. "$(dirname "$0")/test_lib.sh"
cleanup() {
  set +e
  stop_pid "$DAEMON_PID"
  stop_pid "$MM_PID"
  stop_pid "$BUS_PID"
  ip netns delete "$NS" 2>/dev/null
  if [ "$FAILED" = 0 ]; then rm -rf "$T"; else log "kept $T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ctl() { "$BUILD/bin/uplinkctl" --socket "$T/uplinkd.sock" "$@"; }
reason() { ctl status --json | python3 -c "import json,sys; print([l for l in json.load(sys.stdin)['links'] if l['name']=='$1'][0]['reason'])"; }
state() { ctl status --json | python3 -c "import json,sys; print([l for l in json.load(sys.stdin)['links'] if l['name']=='$1'][0]['state'])"; }
is() { [ "$("$1" "$2")" = "$3" ]; }
start_mm() {
  # The real daemon on the private bus (its "session" bus in test mode), no udev, no scanning: no modem.
  DBUS_SESSION_BUS_ADDRESS="$BUS" "$MM" --test-session --test-no-udev --no-auto-scan --test-no-suspend-resume \
    >>"$T/modemmanager.log" 2>&1 &
  MM_PID=$!
}

mkdir -p "$T/bus" "$T/hooks.d"
"$SRC/netns-tests/tools/fake-mm" bus --dir "$T/bus" >"$T/bus.log" 2>&1 &
BUS_PID=$!
wait_for 10 "private bus" test -s "$T/bus/address" || exit 1
BUS=$(cat "$T/bus/address")

ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" addr add 198.18.9.2/24 dev lo
cat >"$T/uplinkd.toml" <<EOF
[daemon]
socket = "$T/uplinkd.sock"
state_dir = "$T/state"
hooks_dir = "$T/hooks.d"

[links.lo]
kind = "ethernet"
interface = "lo"
[links.lo.probe]
targets = ["198.18.9.2"]
interval = "200ms"
down_after = 2
up_after = 2

[links.cell1]
kind = "cellular"
interface = "wwan0"
modem = "any"
apn = "internet"
[links.cell1.probe]
targets = ["198.18.9.2"]
EOF
ip netns exec "$NS" env DBUS_SYSTEM_BUS_ADDRESS="$BUS" "$BUILD/bin/uplinkd" --config "$T/uplinkd.toml" \
  >"$T/uplinkd.log" 2>&1 &
DAEMON_PID=$!
wait_for 10 "uplinkd answers" ctl status || exit 1

wait_for 10 "cell1: modem_manager_unavailable before ModemManager runs" is reason cell1 modem_manager_unavailable
wait_for 10 "lo up" is state lo up
start_mm
# The client rebinds every 2 s while the bus or ModemManager is missing; the daemon takes a moment to start.
wait_for 20 "cell1: no_modem once ModemManager runs" is reason cell1 no_modem
ctl modems | grep -q "cell1" || fail "uplinkctl modems does not list cell1"
stop_pid "$MM_PID"
MM_PID=""
wait_for 10 "cell1: modem_manager_unavailable after ModemManager stopped" is reason cell1 modem_manager_unavailable
[ "$(state lo)" = up ] || fail "the other link changed while ModemManager went away"
start_mm
wait_for 20 "cell1: no_modem after ModemManager restarted" is reason cell1 no_modem

# A missing modem and a missing ModemManager are steady states: a handful of lines, not a storm.
n=$(grep -c "cellular" "$T/uplinkd.log")
[ "$n" -le 40 ] || fail "$n cellular log lines in a minute (an error storm?)"

kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID"; rc=$?; DAEMON_PID=""
[ "$rc" -eq 0 ] || fail "uplinkd exited $rc on SIGTERM"
if [ "$FAILED" = 0 ]; then log "modemmanager_real_test: PASS"; else
  tail -40 "$T/uplinkd.log"; tail -20 "$T/modemmanager.log"; log "modemmanager_real_test: FAIL"; exit 1
fi
