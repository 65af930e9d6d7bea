#!/usr/bin/env bash
# The AIoT story, end to end in the network-namespace lab:
#   a sensor stream goes into the anomaly plugin, an anomaly fires while every
#   WAN is cut, the alarm waits durably in uplinkd's queue, and the alarm
#   reaches the MQTT broker in core when a line returns; all along, the
#   private network (10.200.0.0/16, policy `private`, private = true: only the
#   private APN on cell1 reaches it) is never reached in clear on a public
#   line: leak-watch (netns-tests/tools/leak-watch) counts every frame with a
#   private address on eth1, eth2 and wwan1 for the whole story, while the LAN
#   keeps trying to reach 10.200.0.1. (The VPN half of the private path needs
#   `uplink-lab up --vpn`: netns-tests/tests/private_path_test.sh.)
#
#   scripts/demo-aiot.sh                                   build, then its own lab and uplinkd
#   DEMO_SKIP_BUILD=1 BUILD_DIR=build scripts/demo-aiot.sh reuse a build
#   called by scripts/demo.sh at its end, on demo.sh's lab and uplinkd:
#     AIOT_SOCKET=SOCK AIOT_CONFIG=FILE BUILD_DIR=B UPLINK_LAB_PREFIX=P scripts/demo-aiot.sh
#     (FILE is the running uplinkd's config: it is rewritten from
#     config/lab-aiot.toml with the same paths, then `uplinkctl reload`).
#
# Uses config/lab-aiot.toml (lab.toml + [uplink] + [plugins.anomaly]),
# netns-tests/tools/sensor-sim (100 samples/s of a daily sine + noise to
# udp://127.0.0.1:5005 in router), mosquitto on 203.0.113.20:1883 in core and
# a subscriber to '#' in core. Needs root. About 20 s on its own.
#
# When the build lacks a piece (the uplink or plugins module not in
# src/daemon/modules.cc, uplink-plugin-host, libuplink_anomaly.so, mosquitto)
# it says which and ends with status 0 without running the story. Otherwise:
# exit status 0 when every step showed what its title says, 1 otherwise.
# Everything it started is stopped by PID, also on failure or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD_DIR:-$ROOT/build}
ATTACH=0
[ -n "${AIOT_SOCKET:-}" ] && ATTACH=1

if [ "$(id -u)" -ne 0 ]; then echo "demo-aiot.sh: run as root (network namespaces)" >&2; exit 1; fi
# say, alive, await_exit, stop_pid, summary
. scripts/lib/lab.sh

if [ "$ATTACH" = 0 ] && [ "${DEMO_SKIP_BUILD:-0}" != 1 ]; then
  say "AIoT: dependencies"
  scripts/setup-deps.sh
  say "AIoT: build"
  cmake -S . -B "$BUILD" -G Ninja >/dev/null
  ninja -C "$BUILD" uplinkd uplinkctl uplink-lab linkemu udp-echo udp-sink uplink-plugin-host uplink_anomaly_plugin ||
    echo "demo-aiot.sh: the build failed; the story runs only if every piece is there"
fi
BUILD=$(cd "$BUILD" && pwd)
LAB="$BUILD/bin/uplink-lab" UPLINKD="$BUILD/bin/uplinkd" UPLINKCTL="$BUILD/bin/uplinkctl"
PLUGIN_SO="$BUILD/plugins/libuplink_anomaly.so"
SIM="$ROOT/netns-tests/tools/sensor-sim"
BROKER_IP=203.0.113.20 BROKER_PORT=1883 INPUT_PORT=5005 STREAM=machine_temp RATE=100
DELIVERY_LIMIT=${AIOT_DELIVERY_LIMIT:-30}   # s from the restore to the alarm at the broker (printed bound)

# ---- what the story needs; without it: why, and status 0 ---------------------------------
skip() {
  say "AIoT story skipped: $1"
  [ $# -gt 1 ] && printf '  %s\n' "${@:2}"
  echo "  (the rest of the demo does not depend on it)"
  exit 0
}
for b in "$UPLINKD" "$UPLINKCTL" "$LAB"; do [ -x "$b" ] || skip "$b is not built"; done
[ -x "$BUILD/bin/uplink-plugin-host" ] || skip "$BUILD/bin/uplink-plugin-host is not built (src/plugin)"
[ -f "$PLUGIN_SO" ] || skip "$PLUGIN_SO is not built (plugins/anomaly, target uplink_anomaly_plugin)"
for b in mosquitto mosquitto_sub; do
  command -v "$b" >/dev/null || skip "$b is not installed (apt-get install mosquitto mosquitto-clients)"
done
[ -x "$SIM" ] || skip "$SIM is missing"

MY=$(mktemp -d /tmp/uplink-aiot.XXXXXX)
MOSQ_PID="" SUB_PID="" SIM_PID="" DAEMON_PID="" EVENTS_PID="" PRINTER_PID="" LAB_UP=0 SCADA_PID=""
WATCH_PIDS=()
PUBLIC_LINES=(eth1 eth2 wwan1)
MISSED=()

# The lab's paths in config/lab-aiot.toml, moved into this run's directories.
if [ "$ATTACH" = 1 ]; then
  : "${AIOT_CONFIG:?AIOT_CONFIG: the config file of the running uplinkd}" "${UPLINK_LAB_PREFIX:?UPLINK_LAB_PREFIX: the lab}"
  PREFIX=$UPLINK_LAB_PREFIX SOCK=$AIOT_SOCKET
  first_value() { sed -n "s/^$1 *= *\"\\([^\"]*\\)\".*/\\1/p" "$AIOT_CONFIG" | head -1; }
  STATE=$(first_value state_dir) HOOKS=$(first_value hooks_dir)
  [ -n "$STATE" ] && [ -n "$HOOKS" ] || { rm -rf "$MY"; skip "$AIOT_CONFIG has no state_dir/hooks_dir"; }
else
  PREFIX="aiot$(head -c 64 /dev/urandom | tr -dc 'a-z0-9' | head -c 4)"
  export UPLINK_LAB_PREFIX=$PREFIX
  SOCK="$MY/uplinkd.sock" STATE="$MY/state" HOOKS="$MY/hooks.d"
  mkdir -p "$STATE" "$HOOKS"
fi
CFG="$MY/uplinkd-aiot.toml"
# As scripts/demo.sh: the LAN rule without sticky (same line numbers as the file).
sed -e "s#\"/run/uplink-lab/uplinkd/control.sock\"#\"$SOCK\"#" \
    -e "s#\"/run/uplink-lab/uplinkd/state\"#\"$STATE\"#" \
    -e "s#\"/run/uplink-lab/uplinkd/hooks.d\"#\"$HOOKS\"#" \
    -e "s#\"/run/uplink-lab/uplinkd/state/queue\"#\"$STATE/queue\"#" \
    -e "s#\"/run/uplink-lab/uplinkd/uplink.sock\"#\"$MY/uplink.sock\"#" \
    -e "s#\"/usr/lib/uplinkd/plugins/libuplink_anomaly.so\"#\"$PLUGIN_SO\"#" \
    -e 's/^sticky *=.*/# (sticky dropped by demo-aiot.sh, as by demo.sh)/' config/lab-aiot.toml > "$CFG"
if grep -n '^[^#]*\(/run/uplink-lab/uplinkd\|/usr/lib/uplinkd\)' "$CFG" >&2; then
  rm -rf "$MY"; echo "demo-aiot.sh: config/lab-aiot.toml has a path this script does not move (above)" >&2; exit 1
fi
if ! "$UPLINKD" --check-config "$CFG" >"$MY/check.log" 2>&1; then
  sed -i -e "s#$CFG#config/lab-aiot.toml#" -e 's/^/    /' "$MY/check.log"
  mapfile -t why <"$MY/check.log"; rm -rf "$MY"
  skip "uplinkd --check-config refuses config/lab-aiot.toml (are the uplink and plugins modules in src/daemon/modules.cc?)" "${why[@]}"
fi

# ---- processes: each stopped by its PID -------------------------------------------------
cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  stop_pid "$SIM_PID"
  stop_pid "$SCADA_PID"
  for pid in "${WATCH_PIDS[@]}"; do stop_pid "$pid"; done
  stop_pid "$EVENTS_PID"
  if [ -n "$PRINTER_PID" ]; then
    await_exit "$PRINTER_PID" 2 || stop_pid "$PRINTER_PID"
    wait "$PRINTER_PID" 2>/dev/null
  fi
  if [ -n "$DAEMON_PID" ]; then
    say "AIoT: stop uplinkd (SIGTERM to PID $DAEMON_PID)"
    stop_pid "$DAEMON_PID" 5
    local drc=$?
    echo "  uplinkd exited with status $drc"
    if [ "$drc" -ne 0 ]; then
      sed 's/^/  [uplinkd] /' "$MY/uplinkd.log" | tail -20
      [ "$rc" -eq 0 ] && rc=1
    fi
  fi
  # The broker last: uplinkd (standalone) has ended its session by then.
  stop_pid "$SUB_PID"
  stop_pid "$MOSQ_PID"
  if [ "$LAB_UP" = 1 ]; then
    say "AIoT: tear down"
    "$LAB" down
  fi
  if [ "$rc" -ne 0 ] || [ "${#MISSED[@]}" -gt 0 ]; then
    for f in uplinkd.log mosquitto.log sim.log; do
      [ -s "$MY/$f" ] && { echo "  --- last lines of $f"; tail -8 "$MY/$f" | sed 's/^/    /'; }
    done
  fi
  if [ "${AIOT_KEEP_DIR:-0}" = 1 ]; then echo "  (AIOT_KEEP_DIR=1: logs kept in $MY)"; else rm -rf "$MY"; fi
  if [ "${#MISSED[@]}" -gt 0 ]; then
    echo "demo-aiot.sh: these steps did not show what they announce:" >&2
    printf '  %s\n' "${MISSED[@]}" >&2
    [ "$rc" -eq 0 ] && rc=1
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ctl() { "$UPLINKCTL" --socket "$SOCK" "$@"; }
# One value out of a verb's --json reply: json_get VERB EXPR (python, `d` is the reply).
json_get() {
  local verb=$1 expr=$2
  ctl $verb --json 2>/dev/null | python3 -c '
import json, sys
try:
    d = json.load(sys.stdin)
    print(eval(sys.argv[1]))
except Exception:
    print("")' "$expr" 2>/dev/null || true
}
CURRENT_STEP="start"
step() { CURRENT_STEP=$*; say "$*"; }
missed() { echo "  ($*)"; MISSED+=("$CURRENT_STEP: $*"); }
# Waits (at most $1 s) until every WORD is in the link/policy summary.
expect() {
  local secs=$1 i now w ok; shift
  for ((i = 0; i < secs * 5; i++)); do
    now=" $(summary) " ok=1
    for w in "$@"; do [[ "$now" == *" $w "* ]] || ok=0; done
    [ "$ok" = 1 ] && return 0
    sleep 0.2
  done
  missed "after ${secs}s still: $now; expected $*"
  return 1
}
# Waits (at most $1 s) until the shell condition $2 holds.
wait_for() {
  local secs=$1 cond=$2 i
  for ((i = 0; i < secs * 5; i++)); do eval "$cond" && return 0; sleep 0.2; done
  return 1
}
indent() { sed 's/^/    /'; }
broker_state() { json_get queue 'd["broker"]["state"]'; }
alarm_depth() { json_get queue '[c["depth"] for c in d["classes"] if c["name"] == "alarm"][0]'; }
plugin_field() { json_get plugins "[p for p in d[\"plugins\"] if p[\"name\"] == \"anomaly\"][0][\"$1\"]"; }
# The subscriber's lines: "EPOCH TOPIC PAYLOAD"; alarms are anomaly/<stream>.
alarms_at_broker() { grep -c " anomaly/$STREAM " "$MY/broker.log" 2>/dev/null || true; }
show_broker_line() {  # EPOCH TOPIC PAYLOAD -> "[broker EPOCH] TOPIC PAYLOAD" (long payloads cut)
  awk -v max="${1:-400}" '{ t = $1; $1 = ""; sub(/^ /, ""); if (length($0) > max) $0 = substr($0, 1, max) " ..."; print "  [broker " t "] " $0 }'
}

# ---- the lab and uplinkd (standalone) / the running ones (called by demo.sh) -------------
if [ "$ATTACH" = 0 ]; then
  say "AIoT: lab up (prefix $PREFIX)"
  LAB_UP=1
  "$LAB" up
fi

say "AIoT: leak-watch on the public lines (${PUBLIC_LINES[*]}), and the LAN polling the private network (10.200.0.1, 5/s)"
for l in "${PUBLIC_LINES[@]}"; do
  # `ip netns exec` execs leak-watch: its own PID.
  ip netns exec "$PREFIX-wire-$l" "$ROOT/netns-tests/tools/leak-watch" --out "$MY/leak-$l.json" --net 10.200.0.0/16 r \
    >"$MY/leak-$l.log" 2>&1 &
  WATCH_PIDS+=($!)
done
ip netns exec "$PREFIX-lan" ping -n -q -i 0.2 10.200.0.1 >"$MY/scada.log" 2>&1 &
SCADA_PID=$!
# Frames with a private address seen in clear on the public lines so far.
leaks_in_clear() {
  python3 - "$MY" "${PUBLIC_LINES[@]}" <<'PY'
import json, sys
total = 0
for line in sys.argv[2:]:
    try:
        total += json.load(open(f"{sys.argv[1]}/leak-{line}.json"))["leaks"]
    except (OSError, ValueError):
        pass
print(total)
PY
}

say "AIoT: MQTT broker in core (mosquitto on $BROKER_IP:$BROKER_PORT) and a subscriber to every topic"
"$LAB" exec core -- ip addr replace "$BROKER_IP/32" dev lo
cat >"$MY/mosquitto.conf" <<EOF
listener $BROKER_PORT $BROKER_IP
allow_anonymous true
persistence false
log_dest stdout
log_type error
log_type warning
log_type notice
log_type information
connection_messages true
EOF
# `ip netns exec` execs: these PIDs are mosquitto's and mosquitto_sub's own.
ip netns exec "$PREFIX-core" mosquitto -c "$MY/mosquitto.conf" >"$MY/mosquitto.log" 2>&1 &
MOSQ_PID=$!
wait_for 10 '[ -n "$(ip netns exec "$PREFIX-core" ss -Hltn "sport = :$BROKER_PORT" 2>/dev/null)" ]' ||
  { missed "mosquitto does not listen on $BROKER_IP:$BROKER_PORT"; exit 1; }
# One line per message: receive time (epoch s), topic, payload.
ip netns exec "$PREFIX-core" stdbuf -oL mosquitto_sub -h "$BROKER_IP" -p "$BROKER_PORT" -q 1 -i aiot-demo-sub \
  -t '#' -F '@s.@N %t %p' >"$MY/broker.log" 2>"$MY/sub.err" &
SUB_PID=$!
echo "  mosquitto PID $MOSQ_PID, subscriber PID $SUB_PID (mosquitto_sub -t '#' in core)"

if [ "$ATTACH" = 0 ]; then
  # 'uplink-lab exec' execs: $! is uplinkd's own PID.
  say "AIoT: uplinkd in router with config/lab-aiot.toml (lab.toml + [uplink] + [plugins.anomaly])"
  "$LAB" exec router -- "$UPLINKD" --config "$CFG" >"$MY/uplinkd.log" 2>&1 &
  DAEMON_PID=$!
  for _ in $(seq 100); do ctl status >/dev/null 2>&1 && break; sleep 0.1; done
  # Events as JSON, printed one line each (unbuffered) like `uplinkctl events`
  # does for links and policies, and also the uplink's and plugins' events
  # (which `uplinkctl events` prints as "- - -> -").
  cat >"$MY/events.py" <<'PY'
import json, sys
def cell(v):
    if v is None or v == "" or v == []:
        return "-"
    return ",".join(map(str, v)) if isinstance(v, list) else str(v)
for line in sys.stdin:
    try:
        e = json.loads(line)
    except ValueError:
        print("  [event] " + line.rstrip(), flush=True)
        continue
    if not isinstance(e, dict):
        continue
    g = e.get
    if "policy" in e:
        s = "policy %s  %s -> %s  (%s)" % (cell(g("policy")), cell(g("active_before")), cell(g("active")), cell(g("reason")))
    elif "plugin" in e:
        s = "plugin %s  %s" % (cell(g("plugin")), cell(g("event")))
        s += "".join("  %s %s" % (k, g(k)) for k in ("cause", "detail", "pid") if g(k))
    elif "uplink" in e:
        s = "uplink  %s" % cell(g("uplink")) + (" via " + g("link") if g("link") else "")
        s += "  (%s)" % g("detail") if g("detail") else ""
    elif "to" in e:
        s = "%s  %s -> %s  (%s)" % (cell(g("link")), cell(g("from")), cell(g("to")), cell(g("reason")))
    else:
        s = json.dumps(e, separators=(",", ":"))
    print("  [event] %s  %s" % (cell(g("ts")), s), flush=True)
PY
  exec {EVENTS_FD}> >(exec python3 -u "$MY/events.py")
  PRINTER_PID=$!
  ctl events --follow --json >&"$EVENTS_FD" 2>&1 &
  EVENTS_PID=$!
  exec {EVENTS_FD}>&-
fi

if [ "$ATTACH" = 1 ]; then
  step "AIoT: uplinkd reloads with config/lab-aiot.toml (the same lines and policies + [uplink] + [plugins.anomaly])"
  cp "$CFG" "$AIOT_CONFIG"
  ctl reload | indent || missed "uplinkctl reload failed"
else
  step "AIoT: the lines come up"
  expect 20 wan1=up wan2=up cell1=up cell2=up default=wan1,wan2 || true
fi

step "AIoT: uplink connected to the broker via the default policy's line, anomaly plugin running"
wait_for 20 '[ "$(broker_state)" = connected ]' || missed "broker state: $(broker_state) (want connected)"
wait_for 15 '[ "$(plugin_field state)" = running ]' || missed "plugin state: $(plugin_field state) (want running)"
ctl queue | indent || true
ctl plugins | indent || true

step "AIoT: sensor stream into the plugin (sensor-sim in router: $RATE samples/s to udp://127.0.0.1:$INPUT_PORT)"
# Run in router (uplinkd's namespace); `ip netns exec` execs sensor-sim (env execs python3): its PID.
# AIOT_SENSOR_CSV=FILE replays a NAB file instead of the built-in series (e.g.
# ../shared/data/nab/data/artificialNoAnomaly/art_daily_small_noise.csv: 288
# rows a day, so the detector's 150-row warm-up sees half a day and its first
# day alarms while learning, before the cut; the built-in series does not).
ip netns exec "$PREFIX-router" "$SIM" --target "127.0.0.1:$INPUT_PORT" --rate "$RATE" --stream "$STREAM" \
  ${AIOT_SENSOR_CSV:+--csv "$AIOT_SENSOR_CSV"} >"$MY/sim.log" 2>&1 &
SIM_PID=$!
wait_for 5 'grep -qs "^sensor-sim: stream" "$MY/sim.log"' && head -1 "$MY/sim.log" | indent
# 3 s: past the detector's 150-sample warm-up.
if wait_for 15 '[ "$(plugin_field samples_in)" -ge $((3 * RATE)) ] 2>/dev/null'; then
  ctl plugins | indent
else
  missed "the plugin received $(plugin_field samples_in) samples (want >= $((3 * RATE)))"
fi
ALARMS_BEFORE=$(alarms_at_broker)
if [ "$ALARMS_BEFORE" -gt 0 ] && [ -n "${AIOT_SENSOR_CSV:-}" ]; then
  echo "  $ALARMS_BEFORE alarm(s) while the detector learned $AIOT_SENSOR_CSV reached the broker (not the story's)"
elif [ "$ALARMS_BEFORE" -gt 0 ]; then
  missed "$ALARMS_BEFORE alarm(s) reached the broker before the anomaly (a false alarm on the built-in series)"
fi

step "AIoT: cut every WAN (blackhole on eth1, eth2, wwan0, wwan1: carriers up, nothing passes)"
for l in eth1 eth2 wwan0 wwan1; do "$LAB" fault "$l" blackhole; done
expect 20 wan1=down wan2=down cell1=down cell2=down default= || true
wait_for 10 '[ "$(broker_state)" != connected ]' || missed "the broker connection still shows connected"
echo "  $(summary)"
ctl queue | indent || true

step "AIoT: an anomaly while offline (a spike in the stream: SIGUSR1 to sensor-sim)"
MSG_BEFORE=$(plugin_field messages_out) DROP_BEFORE=$(plugin_field messages_dropped)
kill -USR1 "$SIM_PID"
wait_for 5 'grep -qs "spike sent" "$MY/sim.log"' && grep "spike sent" "$MY/sim.log" | tail -1 | indent ||
  missed "sensor-sim did not report the spike"
ALARM_QUEUED=0
if wait_for 10 '[ "$(alarm_depth)" -ge 1 ] 2>/dev/null'; then
  ALARM_QUEUED=1
  echo "  the alarm waits in the durable queue (class alarm, broker $(broker_state)):"
else
  missed "no alarm in the queue (plugin messages out $MSG_BEFORE -> $(plugin_field messages_out), dropped $DROP_BEFORE -> $(plugin_field messages_dropped))"
  if [ "$(plugin_field messages_dropped)" != "$DROP_BEFORE" ]; then
    echo "  the plugin's messages were dropped on their way to the queue: uplinkd has no MessageSink"
    echo "  (src/plugin/message_sink.h: the uplink module must provide one in ctx.services)"
  fi
fi
ctl plugins | indent || true
ctl queue | indent || true
sleep 2   # the alarm stays put while every line is cut
N=$(alarms_at_broker)
if [ "$N" -eq "$ALARMS_BEFORE" ]; then
  echo "  2 s later: the broker has received no alarm ($(wc -l <"$MY/broker.log") messages in all); alarm queue depth $(alarm_depth)"
else
  missed "an alarm reached the broker while every line was cut"
fi

step "AIoT: restore one line (eth1 clear): wan1 comes back, the broker connection follows, the alarm is delivered"
# The link's current probe timeout (the largest per-target auto timeout): the
# recovery bound depends on it (up_after rounds of at most max(fast_interval, 3 timeouts)).
TIMEOUT_MS=$(ctl link show wan1 --json 2>/dev/null | python3 -c '
import json, sys
worst = []
def walk(o):
    if isinstance(o, dict):
        if isinstance(o.get("timeout_ms"), (int, float)): worst.append(o["timeout_ms"])
        for v in o.values(): walk(v)
    elif isinstance(o, list):
        for v in o: walk(v)
walk(json.load(sys.stdin))
print(round(max(worst)) if worst else "")' 2>/dev/null || true)
echo "  wan1 probe timeout before the restore: ${TIMEOUT_MS:-unknown} ms"
RESTORE_AT=$(date +%s.%N)
"$LAB" fault eth1 clear
echo "  restore: eth1 cleared at $RESTORE_AT"
# Without a queued alarm there is nothing to wait for: 5 s, to show it.
[ "$ALARM_QUEUED" = 1 ] || DELIVERY_LIMIT=5
if wait_for "$DELIVERY_LIMIT" '[ "$(alarms_at_broker)" -gt "$ALARMS_BEFORE" ]'; then
  line=$(grep " anomaly/$STREAM " "$MY/broker.log" | sed -n "$((ALARMS_BEFORE + 1))p")
  python3 - "$RESTORE_AT" "${line%% *}" <<'PY'
import sys
restore, got = float(sys.argv[1]), float(sys.argv[2])
print(f"  the alarm reached the broker {got - restore:.1f} s after eth1 was cleared (received at {got:.3f}):")
PY
  show_broker_line 2000 <<<"$line"
else
  missed "no alarm at the broker within ${DELIVERY_LIMIT}s of the restore"
fi
echo "  $(summary)"
wait_for 5 '[ "$(alarm_depth)" = 0 ]' || true
ctl queue | indent || true

step "AIoT: the private path was never in clear (policy private, private = true)"
# SIGINT: ping prints its totals and ends (status 1 when some went unanswered: not an error here).
kill -INT "$SCADA_PID" 2>/dev/null || true
wait "$SCADA_PID" 2>/dev/null || true
SCADA_PID=""
sleep 0.3  # leak-watch saves every 200 ms
N=$(leaks_in_clear)
echo "  the LAN's pings to 10.200.0.1 during the story: $(grep -o '[0-9]* packets transmitted, [0-9]* received' "$MY/scada.log" || echo '?')"
echo "  private frames in clear on ${PUBLIC_LINES[*]} during the whole story: $N"
[ "$N" = 0 ] || missed "$N frames with a 10.200.0.0/16 address left in clear on a public line"

say "AIoT: everything the broker received (subscriber in core)"
show_broker_line 200 <"$MY/broker.log"
[ -s "$MY/broker.log" ] || echo "  (nothing)"
