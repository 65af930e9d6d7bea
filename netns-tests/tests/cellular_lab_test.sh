#!/usr/bin/env bash
# cellular_lab_test: uplinkd's cellular module against the fake ModemManager
# (netns-tests/tools/fake-mm, driven through libmm-glib exactly like the real
# daemon) in the lab (`uplink-lab up --cellular`: wwan0/wwan1 get their
# addresses only from a bearer and pass nothing without one).
#   cellular_lab_test.sh SOURCE_DIR BUILD_DIR        (ctest: label netns, root)
# Two modems, both connected at once (cell1 on a private APN with a password,
# cell2 public), wan1 as the last tier. Checks, in order, which line carries
# the LAN's packets and what uplinkd reports: start-up; bearer dropped; zombie
# bearer; APN refused (no hammering); ModemManager hanging (the control loop
# answers); SIM-slot switch; modem vanishing and returning at a new path;
# ModemManager restarting (other links untouched); the password nowhere; clean
# stop (addresses gone). Time bounds derive from the configured probe timing
# and the fake's delays, with margin for a busy machine.
set -uo pipefail
FAILED=0
. "$(dirname "$0")/test_lib.sh"
lab_test cellular_lab_test "$@"

P="cl$$"
T=$(mktemp -d /tmp/uplink-cellular-test.XXXXXX)
LAB="$BUILD/bin/uplink-lab"
FAKE="$SRC/netns-tests/tools/fake-mm"
SECRET="pw-$RANDOM-$RANDOM-never-shown"
BUS_PID="" SERVE_PID="" DAEMON_PID=""
export UPLINK_LAB_OWNER=$$

cleanup() {
  set +e
  stop_pid "$DAEMON_PID"
  stop_pid "$SERVE_PID"
  stop_pid "$BUS_PID"
  "$LAB" down --prefix "$P" >/dev/null 2>&1
  if [ "$FAILED" = 0 ]; then rm -rf "$T"; else log "kept $T (uplinkd.log, fake-mm.log)"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mm() { "$FAKE" ctl --control "$T/mm.sock" "$@"; }
modem_field() {  # LINK JQ-PATH: one field of `uplinkctl modems --json`
  ctl modems --json | python3 -c "import json,sys; d={m['link']:m for m in json.load(sys.stdin)['modems']}; v=d['$1']
for k in '$2'.split('.'): v=v[k] if v is not None else None
print(v)"
}
rx() { ip -n "$P-$1" -j -s link show cpe | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['stats64']['rx']['packets'])"; }
# carried_by ISP: 200 LAN pings go out on that ISP's line (its counter grows by
# at least 190; every other cellular/ethernet line by less than the probes' share).
carried_by() {
  local want=$1 isp before=() after=() i=0 d
  local isps=(isp-eth isp-cell1 isp-cell2)
  for isp in "${isps[@]}"; do before+=("$(rx "$isp")"); done
  ip netns exec "$P-lan" ping -q -c 200 -i 0.005 -W 1 203.0.113.10 >/dev/null 2>&1
  for isp in "${isps[@]}"; do after+=("$(rx "$isp")"); done
  for isp in "${isps[@]}"; do
    d=$((after[i] - before[i]))
    if [ "$isp" = "$want" ]; then [ "$d" -ge 190 ] || { echo "$isp +$d"; return 1; }
    else [ "$d" -lt 150 ] || { echo "$isp +$d"; return 1; }; fi
    i=$((i + 1))
  done
}
# (the output is read whole first: `grep -q` closing a pipe early would fail the pipeline under pipefail)
event_seen() { local ev; ev=$(ctl events --json) && grep "\"event\":\"$1\"" <<<"$ev" | grep -q "\"link\":\"$2\""; }
calls() {  # MODEM VERB: how often uplinkd called it on the fake (connect, disconnect, ...)
  mm state | python3 -c "import json,sys; print([m for m in json.load(sys.stdin)['modems'] if m['name']=='$1'][0]['calls']['$2'])"
}

# ---- the lab, the bus, the fake ModemManager ---------------------------------
log "lab $P up --cellular"
"$LAB" up --prefix "$P" --cellular >"$T/lab.log" 2>&1 || { cat "$T/lab.log"; fail "lab up"; exit 1; }
mkdir -p "$T/bus" "$T/hooks.d"
"$FAKE" bus --dir "$T/bus" >"$T/bus.log" 2>&1 &
BUS_PID=$!
wait_for 10 "private system bus" test -s "$T/bus/address" || exit 1
BUS=$(cat "$T/bus/address")
SCALE=0.2  # the fake's delays x 0.2: enable 20 ms, register 60 ms, connect 40 ms, SIM switch 400 ms
cat >"$T/modems.json" <<EOF
{"modems": [
 {"name": "m1", "imei": "356938035643809", "primary_port": "cdc-wdm0", "interface": "wwan0",
  "operator": "Lab Private", "operator_code": "00101", "primary_slot": 1, "signal": 72,
  "slots": [
   {"iccid": "8901000000000000011", "imsi": "001010000000011", "service": true, "apns": ["iot.private"],
    "user": "scada", "password": "$SECRET",
    "ipv4": {"address": "198.18.3.2", "prefix": 24, "gateway": "198.18.3.1", "dns": ["203.0.113.53"], "mtu": 1430}},
   {"iccid": "8901000000000000012", "imsi": "001020000000012", "service": true, "apns": [],
    "ipv4": {"address": "198.18.3.2", "prefix": 24, "gateway": "198.18.3.1", "dns": [], "mtu": 1500}}]},
 {"name": "m2", "imei": "356938035643817", "primary_port": "cdc-wdm1", "interface": "wwan1",
  "operator": "Lab Public", "operator_code": "00102", "primary_slot": 1, "signal": 55,
  "slots": [
   {"iccid": "8901000000000000021", "imsi": "001010000000021", "service": true, "apns": ["internet"],
    "ipv4": {"address": "198.18.4.2", "prefix": 24, "gateway": "198.18.4.1", "dns": [], "mtu": 1500}}]}
]}
EOF
start_fake() {
  # A connected bearer passes traffic on its lab line; anything else blackholes it.
  "$FAKE" serve --bus "$BUS" --modems "$T/modems.json" --control "$T/mm.sock" --state "$T/mm.state" \
    --time-scale "$SCALE" \
    --on-connect "'$LAB' fault --prefix '$P' \"\$MODEM_INTERFACE\" clear" \
    --on-disconnect "'$LAB' fault --prefix '$P' \"\$MODEM_INTERFACE\" blackhole" >>"$T/fake-mm.log" 2>&1 &
  SERVE_PID=$!
  wait_for 10 "fake ModemManager answers" mm state
}
start_fake || exit 1
printf '%s\n' "$SECRET" >"$T/apn.secret"

# ---- uplinkd -------------------------------------------------------------------
probe() {
  cat <<EOF
[links.$1.probe]
method = "icmp"
targets = ["203.0.113.1", "203.0.113.2"]
interval = "500ms"
fast_interval = "100ms"
timeout = "300ms"
down_after = 2
up_after = 2
EOF
}
{
  cat <<EOF
[daemon]
socket = "$T/uplinkd.sock"
state_dir = "$T/state"
hooks_dir = "$T/hooks.d"
log_level = "debug"

[links.wan1]
kind = "ethernet"
interface = "eth1"
gateway = "198.18.1.1"
EOF
  probe wan1
  cat <<EOF

[links.cell1]
kind = "cellular"
interface = "wwan0"
modem = "imei:356938035643809"
apn = "iot.private"
apn_user = "scada"
apn_password = "file:$T/apn.secret"
ip_type = "ipv4"
[links.cell1.reconnect]
backoff_initial = "1s"
backoff_max = "4s"
reset_after = 3
EOF
  probe cell1
  cat <<EOF

[links.cell2]
kind = "cellular"
interface = "wwan1"
modem = "imei:356938035643817"
apn = "internet"
ip_type = "ipv4"
EOF
  probe cell2
  cat <<EOF

[policies.default]
mode = "failover"
members = [{ link = "cell1", tier = 1 }, { link = "cell2", tier = 2 }, { link = "wan1", tier = 3 }]

[[rules]]
name = "lan"
source = "192.168.50.0/24"
policy = "default"

[[rules]]
name = "router"
policy = "default"
EOF
} >"$T/uplinkd.toml"
"$BUILD/bin/uplinkd" --check-config "$T/uplinkd.toml" || { fail "config check"; exit 1; }
ip netns exec "$P-router" env DBUS_SYSTEM_BUS_ADDRESS="$BUS" "$BUILD/bin/uplinkd" --config "$T/uplinkd.toml" \
  >"$T/uplinkd.log" 2>&1 &
DAEMON_PID=$!
wait_for 10 "uplinkd answers" ctl status || exit 1

# Probe detection bound (interval + down_after rounds of 3 x timeout, x1.5, +2 s)
# and recovery bound (up_after rounds + the fake's connect delays), both with margin.
DETECT=6 RECOVER=15

# ---- 1. start-up: both modems connected at once; the LAN leaves by cell1 --------
wait_for 20 "cell1 bearer connected" is modem_field cell1 phase connected
wait_for 20 "cell2 bearer connected" is modem_field cell2 phase connected
wait_for "$RECOVER" "cell1 up" is link_field cell1 state up
wait_for "$RECOVER" "cell2 up" is link_field cell2 state up
wait_for 5 "policy default on cell1" active default cell1
ip -n "$P-router" -4 addr show wwan0 | grep -q "198.18.3.2/24" || fail "wwan0 has no bearer address"
ip -n "$P-router" -4 addr show wwan1 | grep -q "198.18.4.2/24" || fail "wwan1 has no bearer address"
ip -n "$P-router" link show wwan0 | grep -q "mtu 1430" || fail "wwan0's MTU is not the bearer's 1430"
[ "$(modem_field cell1 modem.operator)" = "Lab Private" ] || fail "cell1 operator not shown"
[ "$(modem_field cell1 bearer.ipv4.gateway)" = "198.18.3.1" ] || fail "cell1 gateway not shown"
wait_for 5 "LAN traffic on isp-cell1" carried_by isp-cell1

# ---- 2. bearer dropped (ModemManager reports it): down at once, reconnect -------
# The fake reconnects in 8 s (connect delay 40 s x 0.2), so the LAN's move is observable.
mm set-delay m1 connect 40 >/dev/null
mm drop-bearer m1 >/dev/null
wait_for 3 "cell1 down with reason bearer_disconnected" is link_field cell1 reason bearer_disconnected
wait_for 3 "policy default moved to cell2" active default cell2
wait_for 5 "LAN traffic on isp-cell2" carried_by isp-cell2
wait_for $((RECOVER + 8)) "cell1 reconnected and up" is link_field cell1 state up
wait_for 5 "policy default back on cell1" active default cell1
event_seen bearer_dropped cell1 || fail "no bearer_dropped event"
# The policy change names its cause: cell1 going down.
events=$(ctl events --json)
grep '"policy":"default"' <<<"$events" | grep '"cause_link":"cell1"' | grep -q '"cause":"down"' ||
  fail "no policy event caused by cell1 going down"
mm set-delay m1 connect 0.2 >/dev/null

# ---- 3. zombie bearer: connected in ModemManager, passing nothing ----------------
d0=$(calls m1 disconnect)
"$LAB" fault --prefix "$P" wwan0 blackhole >/dev/null
wait_for "$DETECT" "cell1 down by probes" is link_field cell1 state down
wait_for 5 "zombie_bearer event" event_seen zombie_bearer cell1
wait_for 5 "bearer disconnected by uplinkd" test "$(calls m1 disconnect)" -gt "$d0"
# The reconnect connects a fresh bearer, whose line passes traffic again.
wait_for "$RECOVER" "cell1 up after the zombie" is link_field cell1 state up

# ---- 4. APN refused: its own reason, backs off to backoff_max, no hammering ------
mm refuse-apn m1 apn >/dev/null
mm drop-bearer m1 >/dev/null
wait_for 10 "cell1 reason apn_rejected" is link_field cell1 reason apn_rejected
c0=$(calls m1 connect)
sleep 3  # backoff_max is 4 s: no further attempt inside 3 s
c1=$(calls m1 connect)
[ "$c1" -le "$((c0 + 1))" ] || fail "connect attempts while the APN is refused: $c0 -> $c1 in 3 s"
event_seen apn_rejected cell1 || fail "no apn_rejected event"
mm refuse-apn m1 off >/dev/null
ctl modem cell1 reconnect >/dev/null || fail "uplinkctl modem cell1 reconnect"
wait_for "$RECOVER" "cell1 up after the APN is accepted again" is link_field cell1 state up

# ---- 5. ModemManager hangs: the control loop still answers ----------------------
mm hang on >/dev/null
for i in 1 2 3; do
  s=$(date +%s%N)
  ctl status --json >/dev/null || fail "status while ModemManager hangs"
  ms=$((($(date +%s%N) - s) / 1000000))
  [ "$ms" -lt 2000 ] || fail "status took ${ms} ms while ModemManager hangs"
done
ctl modem cell2 reconnect >/dev/null || fail "a verb while ModemManager hangs"
mm hang off >/dev/null
wait_for "$RECOVER" "cell2 up after the hang" is link_field cell2 state up

# ---- 6. SIM-slot switch (verb): the modem returns at a new path on slot 2 -------
old_path=$(modem_field cell1 modem.path)
ctl modem cell1 sim-slot 2 >/dev/null || fail "uplinkctl modem cell1 sim-slot 2"
wait_for 10 "cell1 on SIM slot 2" is modem_field cell1 modem.sim_slot 2
wait_for 20 "cell1 connected on slot 2" is modem_field cell1 phase connected
[ "$(modem_field cell1 modem.path)" != "$old_path" ] || fail "the modem kept its D-Bus path after a SIM switch"
wait_for "$RECOVER" "cell1 up on slot 2" is link_field cell1 state up
event_seen sim_switch cell1 || fail "no sim_switch event"

# ---- 7. a modem vanishes and returns at a new path (same IMEI): the same link ----
mm vanish m2 --return-after 2 >/dev/null
wait_for 5 "cell2 down (no_modem)" is link_field cell2 reason no_modem
wait_for 20 "cell2 connected again" is modem_field cell2 phase connected
wait_for "$RECOVER" "cell2 up again" is link_field cell2 state up

# ---- 8. ModemManager restarts: cellular down, wan1 untouched, then back ---------
stop_pid "$SERVE_PID"
SERVE_PID=""
wait_for 5 "cell1 down (modem_manager_unavailable)" is link_field cell1 reason modem_manager_unavailable
wait_for 5 "cell2 down (modem_manager_unavailable)" is link_field cell2 reason modem_manager_unavailable
[ "$(link_field wan1 state)" = up ] || fail "wan1 is not up while ModemManager is away"
wait_for 5 "policy default on wan1" active default wan1
wait_for 5 "LAN traffic on isp-eth" carried_by isp-eth
ip -n "$P-router" -4 addr show wwan0 | grep -q "198.18.3.2" && fail "wwan0 kept its address without ModemManager"
start_fake || exit 1
wait_for 20 "cell1 connected after the restart" is modem_field cell1 phase connected
wait_for 20 "cell2 connected after the restart" is modem_field cell2 phase connected
wait_for "$RECOVER" "cell1 up after the restart" is link_field cell1 state up
wait_for 5 "policy default back on cell1" active default cell1

# ---- 9. the APN password is nowhere ---------------------------------------------
for what in "config show" "status --json" "modems --json" "events --json" "link show cell1 --json" "metrics"; do
  # shellcheck disable=SC2086
  out=$(ctl $what 2>&1)
  grep -q -- "$SECRET" <<<"$out" && fail "the APN password appears in 'uplinkctl $what'"
done
grep -q -- "$SECRET" "$T/uplinkd.log" && fail "the APN password appears in uplinkd's log"

# ---- 10. stop: the bearer addresses go with uplinkd ------------------------------
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
rc=$?
DAEMON_PID=""
[ "$rc" -eq 0 ] || fail "uplinkd exited $rc on SIGTERM"
ip -n "$P-router" -4 addr show wwan0 | grep -q "198.18.3.2" && fail "wwan0 kept the bearer address after stop"

if [ "$FAILED" = 0 ]; then log "cellular_lab_test: PASS"; else
  log "---- uplinkd.log (last 80 lines) ----"; tail -80 "$T/uplinkd.log"
  log "---- fake-mm.log (last 30 lines) ----"; tail -30 "$T/fake-mm.log"
  log "cellular_lab_test: FAIL"; exit 1
fi
