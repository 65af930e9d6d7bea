#!/usr/bin/env bash
# fake_mm_test: netns-tests/tools/fake-mm (a fake ModemManager 1.20) against
# Debian's real ModemManager clients, on a private bus (no namespaces, no root).
#   fake_mm_test.sh [SOURCE_DIR]          (ctest: labels netns, integration)
# Phase 1, mmcli (libmm-glib's own client): -L, -m 0, -e, --simple-connect,
#   -b 0, --signal-setup/--signal-get, -i 0, --set-primary-sim-slot=2 (the
#   modem comes back at a new index), hooks, ctl errors, clean SIGTERM.
# Phase 2, gi.repository.ModemManager (libmm-glib) as a client uses it, plus a
#   GIO check that every property has the XML's type: enable, Simple.Connect,
#   IP configs, drop-bearer, refuse-apn error codes, signal, deregister, hang,
#   lock-sim/SendPin, SIM switch, vanish, reset, slow/pending/cancelled
#   connects, CreateBearer, a SIM without service, an empty slot, and a
#   ModemManager restart the client follows.
# Every wait is a bounded poll. Everything lives in one temp dir (removed on
# success, kept and shown on failure); only the PIDs started here are stopped.
set -euo pipefail
SRC=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
FAKE_MM=$SRC/netns-tests/tools/fake-mm
PY=/usr/bin/python3
SCALE=0.1     # every fake-mm delay x0.1: sim-switch 0.2 s, registration timeout 6 s

T=""
BUS_PID=""
fail() {
  echo "fake_mm_test: FAIL: $*" >&2
  exit 1
}
# gone PID: the process has exited (a zombie counts: it may be our unreaped child).
gone() { [ ! -e "/proc/$1" ] || grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
stop_pid() {   # stop_pid PID NAME: SIGTERM, then SIGKILL after 5 s
  local pid=$1 i
  [ -n "$pid" ] && ! gone "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 100); do gone "$pid" && return 0; sleep 0.05; done
  echo "fake_mm_test: $2 (pid $pid) ignored SIGTERM; SIGKILL" >&2
  kill -KILL "$pid" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  trap - EXIT
  [ -n "$T" ] || exit "$rc"
  [ -f "$T/serve.pid" ] && stop_pid "$(cat "$T/serve.pid")" "fake-mm serve"
  stop_pid "$BUS_PID" "fake-mm bus"
  if [ "$rc" -eq 0 ]; then
    rm -rf "$T"
  else
    for f in "$T"/*.log "$T"/out.txt "$T"/err.txt; do
      [ -s "$f" ] || continue
      echo "---- $f" >&2
      tail -n 60 "$f" >&2
    done
    echo "fake_mm_test: FAILED; files kept in $T" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT

for tool in dbus-daemon mmcli timeout; do
  command -v "$tool" >/dev/null || fail "$tool not installed (scripts/setup-deps.sh)"
done
[ -x "$FAKE_MM" ] || fail "$FAKE_MM is not executable"
$PY -c 'import dbus, gi; gi.require_version("ModemManager", "1.0"); from gi.repository import ModemManager' 2>/dev/null ||
  fail "python3-dbus, python3-gi or gir1.2-modemmanager-1.0 missing (scripts/setup-deps.sh)"

T=$(mktemp -d "${FAKE_MM_TEST_TMP:-/tmp}/fake-mm-test.XXXXXX")
[ "${#T}" -le 80 ] || fail "temp dir $T too long for unix socket paths"

# wait_for SECONDS WHAT CMD...: poll CMD every 50 ms until it succeeds; fail after SECONDS.
wait_for() {
  local limit=$1 what=$2
  shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || fail "timed out after ${limit}s waiting for: $what"
    sleep 0.05
  done
}
# mm ARGS...: mmcli on the private bus; stdout in $T/out.txt; fails on a non-zero
# status or anything on stderr (GLib warnings: a mistyped or missing property).
mm() {
  if ! timeout 20 mmcli "$@" >"$T/out.txt" 2>"$T/err.txt"; then
    cat "$T/out.txt" "$T/err.txt" >&2
    fail "mmcli $* failed"
  fi
  if [ -s "$T/err.txt" ]; then
    cat "$T/err.txt" >&2
    fail "mmcli $* wrote to stderr"
  fi
  echo "  mmcli $*"
}
# expect PATTERN...: each extended regexp matches a line of the last mmcli output.
expect() {
  local p
  for p in "$@"; do
    grep -Eq -- "$p" "$T/out.txt" || { cat "$T/out.txt" >&2; fail "mmcli output lacks /$p/"; }
  done
}
ctl() { "$FAKE_MM" ctl --control "$CTL" "$@"; }
# field MODEM KEY: a field of the modem in `ctl state` (JSON), printed as JSON.
field() {
  ctl state | $PY -c 'import json, sys
d = json.load(sys.stdin)
m = [x for x in d["modems"] if x["name"] == sys.argv[1]][0]
v = m
for k in sys.argv[2].split("."):
    v = v[k]
print(json.dumps(v))' "$1" "$2"
}
field_is() { [ "$(field "$1" "$2")" = "$3" ]; }

# The modem file: m1 with two SIMs (slot 1: a private APN list and IPv4+IPv6),
# m2 with a SIM that never gets service and an empty slot 2.
cat >"$T/modems.json" <<'EOF'
{"modems":[
 {"name":"m1","imei":"356938035643809","primary_port":"cdc-wdm0","interface":"wwan0","manufacturer":"Lab","model":"LTE-1",
  "operator":"Lab Cell 1","operator_code":"00101",
  "slots":[{"iccid":"8901000000000000001","imsi":"001010000000001","pin":"1234","service":true,
            "ipv4":{"address":"198.18.3.2","prefix":24,"gateway":"198.18.3.1","dns":["203.0.113.53"],"mtu":1500},
            "ipv6":{"address":"2001:db8:3::2","prefix":64,"gateway":"2001:db8:3::1","dns":[],"mtu":1500},
            "apns":["iot.private","internet"]},
           {"iccid":"8901000000000000002","imsi":"001020000000002","pin":"0000","service":true,
            "operator":"Lab Cell 2","operator_code":"00102",
            "ipv4":{"address":"198.18.4.2","prefix":24,"gateway":"198.18.4.1","dns":["203.0.113.53"],"mtu":1400},
            "apns":["internet"]}],
  "primary_slot":1,"signal":75},
 {"name":"m2","imei":"356938035643817","primary_port":"cdc-wdm1","interface":"wwan1","manufacturer":"Lab","model":"LTE-2",
  "operator":"Lab Cell 2","operator_code":"00102",
  "slots":[{"iccid":"8901000000000000003","imsi":"001020000000003","service":false,
            "ipv4":{"address":"198.18.4.2","prefix":24,"gateway":"198.18.4.1"}}, null],
  "primary_slot":1,"signal":50}]}
EOF

# The bus.
"$FAKE_MM" bus --dir "$T/bus" >"$T/bus.log" 2>&1 &
BUS_PID=$!
wait_for 15 "the bus address file" test -s "$T/bus/address"
DBUS_SYSTEM_BUS_ADDRESS=$(cat "$T/bus/address")
export DBUS_SYSTEM_BUS_ADDRESS
[ "$DBUS_SYSTEM_BUS_ADDRESS" = "unix:path=$T/bus/bus.sock" ] || fail "bus address $DBUS_SYSTEM_BUS_ADDRESS"
echo "bus: $DBUS_SYSTEM_BUS_ADDRESS (pid $BUS_PID)"

# serve.sh CONTROL STATE LOG: (re)start the service; its PID goes to $T/serve.pid.
# The GI phase calls it (through restart.sh) for the "ModemManager restart" fault.
cat >"$T/serve.sh" <<EOF
#!/bin/sh
"$FAKE_MM" serve --bus "$DBUS_SYSTEM_BUS_ADDRESS" --modems "$T/modems.json" --control "\$1" --state "\$2" \\
  --time-scale $SCALE \\
  --on-connect 'echo "connect \$MODEM_NAME \$MODEM_INTERFACE \$MODEM_APN \$MODEM_REASON" >> "$T/hooks.log"' \\
  --on-disconnect 'echo "disconnect \$MODEM_NAME \$MODEM_INTERFACE \$MODEM_APN \$MODEM_REASON" >> "$T/hooks.log"' \\
  >>"\$3" 2>&1 &
echo \$! > "$T/serve.pid"
i=0
until "$FAKE_MM" ctl --control "\$1" state >/dev/null 2>&1; do
  i=\$((i + 1)); [ \$i -le 300 ] || { echo "fake-mm serve did not come up" >&2; exit 1; }
  [ -e /proc/\$(cat "$T/serve.pid") ] || { echo "fake-mm serve exited" >&2; exit 1; }
  sleep 0.05
done
EOF
# stop.sh: SIGTERM the service, wait (bounded) for it to exit.
cat >"$T/stop.sh" <<EOF
#!/bin/sh
pid=\$(cat "$T/serve.pid"); kill -TERM \$pid
i=0
while [ -e /proc/\$pid ] && ! grep -q '^State:[[:space:]]*Z' /proc/\$pid/status 2>/dev/null; do i=\$((i + 1)); [ \$i -le 200 ] || { echo "fake-mm serve (pid \$pid) did not stop" >&2; exit 1; }; sleep 0.05; done
EOF

# ------------------------------------------------------------------ phase 1: mmcli
echo "== phase 1: mmcli"
CTL=$T/ctl1.sock
sh "$T/serve.sh" "$CTL" "$T/state1.json" "$T/serve1.log" || fail "fake-mm serve did not start"

mm -L
expect '/org/freedesktop/ModemManager1/Modem/0 \[Lab\] LTE-1' '/org/freedesktop/ModemManager1/Modem/1 \[Lab\] LTE-2'
mm -m 0
expect 'path: /org/freedesktop/ModemManager1/Modem/0' 'manufacturer: Lab' 'model: LTE-1' \
  'equipment id: 356938035643809' 'primary port: cdc-wdm0' 'ports: cdc-wdm0 \(qmi\), wwan0 \(net\)' \
  'state: disabled' 'power state: low' 'supported: ipv4, ipv6, ipv4v6' 'imei: 356938035643809' \
  'primary sim path: /org/freedesktop/ModemManager1/SIM/0' \
  'slot 1: /org/freedesktop/ModemManager1/SIM/0 \(active\)' 'slot 2: /org/freedesktop/ModemManager1/SIM/1$'
mm -m 0 -e
expect 'successfully enabled the modem'
wait_for 10 "m1 registered" field_is m1 state '"registered"'
mm -m 0
expect 'state: registered' 'power state: on' 'access tech: lte' 'signal quality: 75% \(recent\)' \
  'operator id: 00101' 'operator name: Lab Cell 1' 'registration: home' 'packet service state: attached'
mm -m 0 --simple-connect="apn=iot.private"
expect 'successfully connected the modem'
mm -b 0
expect 'path: /org/freedesktop/ModemManager1/Bearer/0' 'connected: yes' 'interface: wwan0' 'apn: iot.private' \
  'method: static' 'address: 198.18.3.2' 'prefix: 24' 'gateway: 198.18.3.1' 'dns: 203.0.113.53' 'mtu: 1500' \
  'address: 2001:db8:3::2' 'prefix: 64' 'attempts: 1'
mm -m 0
expect 'state: .*connected' 'paths: /org/freedesktop/ModemManager1/Bearer/0'
mm -m 0 --signal-setup=5
mm -m 0 --signal-get
expect 'refresh rate: 5 seconds' 'rssi: -66.50 dBm' 'rsrq: -7.10 dB' 'rsrp: -68.00 dBm' 's/n: 21.20 dB'
mm -i 0
expect 'path: /org/freedesktop/ModemManager1/SIM/0' 'active: yes' 'imsi: 001010000000001' \
  'iccid: 8901000000000000001' 'operator id: 00101' 'operator name: Lab Cell 1'
mm -i 1
expect 'active: no' 'iccid: 8901000000000000002' 'operator name: Lab Cell 2'
field_is m1 connected true || fail "ctl state: m1 not connected"
field_is m1 apn '"iot.private"' || fail "ctl state: apn $(field m1 apn)"
field_is m1 calls.enable 1 && field_is m1 calls.connect 1 || fail "ctl state: calls $(field m1 calls)"
wait_for 5 "the connect hook" grep -qx 'connect m1 wwan0 iot.private connect' "$T/hooks.log"

mm -m 0 --set-primary-sim-slot=2
expect 'successfully requested primary SIM switch'
wait_for 10 "m1 back after the SIM switch" field_is m1 path '"/org/freedesktop/ModemManager1/Modem/2"'
wait_for 5 "the sim-switch disconnect hook" grep -qx 'disconnect m1 wwan0 iot.private sim-switch' "$T/hooks.log"
mm -L
expect '/org/freedesktop/ModemManager1/Modem/2 \[Lab\] LTE-1'
grep -q 'Modem/0 ' "$T/out.txt" && fail "Modem/0 still listed after the SIM switch"
mm -m 2
expect 'state: disabled' 'equipment id: 356938035643809' 'slot 2: /org/freedesktop/ModemManager1/SIM/[0-9]+ \(active\)'
field_is m1 calls.set_primary_sim_slot 1 || fail "ctl state: set_primary_sim_slot count"

# ctl: errors are {"ok":false} with status 1; a good verb answers {"ok":true}.
if out=$(ctl drop-bearer nosuch); then fail "ctl on an unknown modem succeeded: $out"; fi
grep -q '"ok": false' <<<"$out" || fail "ctl error reply: $out"
if out=$(ctl frobnicate m1); then fail "an unknown verb succeeded: $out"; fi
out=$(ctl set-delay m1 connect 0.3) || fail "ctl set-delay: $out"
field_is m1 delays.connect 0.3 || fail "set-delay not applied"

bash "$T/stop.sh" || fail "stop"
[ ! -e "$CTL" ] || fail "the control socket is left after SIGTERM"
grep -q 'Traceback' "$T/serve1.log" && fail "a Python traceback in the service log"

# ------------------------------------------------------------------ phase 2: libmm-glib (GI)
echo "== phase 2: gi.repository.ModemManager"
CTL=$T/ctl2.sock
cat >"$T/restart.sh" <<EOF
#!/bin/sh
sh "$T/stop.sh" && sh "$T/serve.sh" "$CTL" "$T/state2.json" "$T/serve2.log"
EOF
sh "$T/serve.sh" "$CTL" "$T/state2.json" "$T/serve2.log" || fail "fake-mm serve did not start"
cat >"$T/gi_check.py" <<'PYEOF'
import os, re, subprocess, sys, time
import gi
gi.require_version('ModemManager', '1.0')
from gi.repository import Gio, GLib, GObject, ModemManager as MM

FAKE_MM, CTL, RESTART = os.environ['FAKE_MM'], os.environ['FAKE_MM_CTL'], os.environ['FAKE_MM_RESTART']
IMEI, IMEI2 = '356938035643809', '356938035643817'
MODEM_IFACES = ['org.freedesktop.ModemManager1.Modem', 'org.freedesktop.ModemManager1.Modem.Modem3gpp',
                'org.freedesktop.ModemManager1.Modem.Simple', 'org.freedesktop.ModemManager1.Modem.Signal']
ctx = GLib.MainContext.default()
GLib.timeout_add(20, lambda: True)   # wake the loop regularly so every wait stays bounded
step_no = [0]


def step(msg):
    step_no[0] += 1
    print('gi %2d: %s' % (step_no[0], msg), flush=True)


def fail(msg):
    print('gi FAIL (step %d): %s' % (step_no[0], msg), flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def wait(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            fail('timed out after %.1f s waiting for %s' % (timeout, what))
        ctx.iteration(True)


def ctl(*a):
    r = subprocess.run([FAKE_MM, 'ctl', '--control', CTL] + list(a), capture_output=True, text=True, timeout=30)
    check(r.returncode == 0, 'ctl %s: %s %s' % (' '.join(a), r.stdout, r.stderr))
    return r.stdout


def call_async(start, finish, timeout, what):
    """Start an async libmm-glib call, run the main loop until it completes (bounded)."""
    box = []
    start(lambda src, res, *_: box.append(res))
    wait(lambda: box, timeout, what)
    return finish(box[0])


def expect_error(start, finish, timeout, what, domain_quark, code):
    try:
        call_async(start, finish, timeout, what)
    except GLib.Error as e:
        check(e.domain == GLib.quark_to_string(domain_quark) and e.code == int(code),
              '%s: expected %s/%d, got %s/%d %s' % (what, GLib.quark_to_string(domain_quark), int(code),
                                                    e.domain, e.code, e.message))
        return e
    fail('%s: succeeded, expected an error' % what)


conn = Gio.bus_get_sync(Gio.BusType.SYSTEM, None)
XML = {}
for f in os.listdir('/usr/share/dbus-1/interfaces'):
    if f.startswith('org.freedesktop.ModemManager1') and f.endswith('.xml'):
        with open('/usr/share/dbus-1/interfaces/' + f) as fh:
            for i in Gio.DBusNodeInfo.new_for_xml(fh.read()).interfaces:
                XML[i.name] = i


def dbus_call(path, iface, method, args, rtype):
    return conn.call_sync('org.freedesktop.ModemManager1', path, iface, method, args,
                          GLib.VariantType.new(rtype), Gio.DBusCallFlags.NONE, 5000, None)


def check_types(path, ifaces):
    """GIO, independent of fake-mm's code: every XML property present with the XML's type; Introspect valid."""
    for iface in ifaces:
        props = dbus_call(path, 'org.freedesktop.DBus.Properties', 'GetAll', GLib.Variant('(s)', (iface,)),
                          '(a{sv})').get_child_value(0)
        got = {props.get_child_value(i).get_child_value(0).get_string():
               props.get_child_value(i).get_child_value(1).get_variant().get_type_string()
               for i in range(props.n_children())}
        want = {p.name: p.signature for p in XML[iface].properties}
        check(got == want, '%s %s: missing %s, extra %s, mistyped %s' % (
            path, iface, sorted(set(want) - set(got)), sorted(set(got) - set(want)),
            sorted(k for k in want if k in got and got[k] != want[k])))
    node = Gio.DBusNodeInfo.new_for_xml(
        dbus_call(path, 'org.freedesktop.DBus.Introspectable', 'Introspect', None, '(s)').unpack()[0])
    names = {i.name for i in node.interfaces}
    check(set(ifaces) | {'org.freedesktop.DBus.Properties'} <= names, '%s: Introspect lists %s' % (path, names))

    def sigs(i):
        return sorted((m.name, ''.join(a.signature for a in m.in_args), ''.join(a.signature for a in m.out_args))
                      for m in i.methods)
    for iface in ifaces:
        check(sigs(node.lookup_interface(iface)) == sigs(XML[iface]), '%s: introspected %s differs' % (path, iface))


def sim_prop(p, name):
    return dbus_call(p, 'org.freedesktop.DBus.Properties', 'Get',
                     GLib.Variant('(ss)', ('org.freedesktop.ModemManager1.Sim', name)), '(v)').unpack()[0]


step('Manager.new_sync, object-added/object-removed')
mgr = MM.Manager.new_sync(conn, Gio.DBusObjectManagerClientFlags.DO_NOT_AUTO_START, None)
check(mgr.get_version() == '1.20.4', 'version %r' % mgr.get_version())
added, removed = [], []
mgr.connect('object-added', lambda m, o: added.append(o.get_object_path()))
mgr.connect('object-removed', lambda m, o: removed.append(o.get_object_path()))


def find(imei):
    return next((o for o in mgr.get_objects() if o.get_modem() and o.get_modem().get_equipment_identifier() == imei), None)


obj = wait(lambda: find(IMEI), 10, 'the modem with IMEI ' + IMEI)
path0 = obj.get_object_path()
(managed,) = dbus_call('/org/freedesktop/ModemManager1', 'org.freedesktop.DBus.ObjectManager', 'GetManagedObjects',
                       None, '(a{oa{sa{sv}}})').unpack()
check(len(managed) == 2 and all(re.fullmatch(r'/org/freedesktop/ModemManager1/Modem/\d+', p) for p in managed),
      'GetManagedObjects lists only modems: %s' % list(managed))
check(sorted(managed[path0]) == sorted(MODEM_IFACES), 'interfaces %s' % sorted(managed[path0]))

step('%s: every property typed as the XML says, introspection valid' % path0)
check_types(path0, MODEM_IFACES)
check_types('/org/freedesktop/ModemManager1', ['org.freedesktop.ModemManager1'])
modem = obj.get_modem()
check(modem.get_state() == MM.ModemState.DISABLED and modem.get_power_state() == MM.ModemPowerState.LOW, 'disabled, low power')
check(modem.get_primary_port() == 'cdc-wdm0', 'primary port')
check(('wwan0', MM.ModemPortType.NET) in [(p.name, p.type) for p in modem.get_ports()[1]], 'ports')
check(modem.get_manufacturer() == 'Lab' and modem.get_model() == 'LTE-1', 'manufacturer/model')
check(modem.get_unlock_required() == MM.ModemLock.NONE, 'unlock required')
check(obj.get_modem_3gpp().get_imei() == IMEI, 'imei')
check(modem.get_primary_sim_slot() == 1, 'primary slot')
# (mm_modem_list_sim_slots() returns a GPtrArray PyGObject cannot walk: the slots are read over D-Bus.)
slot_paths = list(modem.get_sim_slot_paths())
check([sim_prop(p, 'SimIdentifier') for p in slot_paths] == ['8901000000000000001', '8901000000000000002'], 'slots')
check([sim_prop(p, 'Active') for p in slot_paths] == [True, False], 'active slot')
check(modem.dup_sim_path() == slot_paths[0], 'Sim is the slot 1 SIM')
check(modem.get_sim_sync(None).get_identifier() == '8901000000000000001', 'get_sim')
for p in slot_paths:
    check_types(p, ['org.freedesktop.ModemManager1.Sim'])

step('Modem.enable: enabling -> enabled -> searching -> registered (StateChanged signals)')
states = []
modem.connect('state-changed', lambda m, old, new, reason: states.append(new))
call_async(lambda cb: modem.enable(None, cb), modem.enable_finish, 10, 'enable')
wait(lambda: modem.get_state() == MM.ModemState.REGISTERED, 10, 'registered')
check(states == [MM.ModemState.ENABLING, MM.ModemState.ENABLED, MM.ModemState.SEARCHING, MM.ModemState.REGISTERED],
      'states %s' % states)
m3gpp = obj.get_modem_3gpp()
check(m3gpp.get_registration_state() == MM.Modem3gppRegistrationState.HOME, 'registration home')
check(m3gpp.get_operator_code() == '00101' and m3gpp.get_operator_name() == 'Lab Cell 1', 'operator')
check(modem.get_access_technologies() == MM.ModemAccessTechnology.LTE, 'access tech')
check(tuple(modem.get_signal_quality()) == (75, True), 'signal %s' % (modem.get_signal_quality(),))
check(modem.get_power_state() == MM.ModemPowerState.ON, 'power on')

step('ModemSimple.connect(apn, ipv4v6, user, password): bearer with static IPv4 and IPv6 configuration')
simple = obj.get_modem_simple()
props = MM.SimpleConnectProperties.new()
props.set_apn('iot.private')
props.set_ip_type(MM.BearerIpFamily.IPV4V6)
props.set_user('u')
props.set_password('secret')
bearer = call_async(lambda cb: simple.connect(props, None, cb), simple.connect_finish, 10, 'simple connect')
check(bearer.get_connected() and bearer.get_interface() == 'wwan0', 'connected on wwan0')
check(modem.get_state() == MM.ModemState.CONNECTED, 'modem connected')
ip4 = bearer.get_ipv4_config()
check(ip4.get_method() == MM.BearerIpMethod.STATIC and
      (ip4.get_address(), ip4.get_prefix(), ip4.get_gateway(), list(ip4.get_dns()), ip4.get_mtu()) ==
      ('198.18.3.2', 24, '198.18.3.1', ['203.0.113.53'], 1500), 'ipv4 config')
ip6 = bearer.get_ipv6_config()
check((ip6.get_method(), ip6.get_address(), ip6.get_prefix(), ip6.get_gateway()) ==
      (MM.BearerIpMethod.STATIC, '2001:db8:3::2', 64, '2001:db8:3::1'), 'ipv6 config')
bp = bearer.get_properties()
check(bp.get_apn() == 'iot.private' and bp.get_ip_type() == MM.BearerIpFamily.IPV4V6 and bp.get_user() == 'u', 'properties')
check(bp.get_password() is None, 'the password is echoed')
check(bearer.get_connection_error() is None and bearer.get_stats().get_attempts() == 1, 'no error, one attempt')
check_types(bearer.get_path(), ['org.freedesktop.ModemManager1.Bearer'])
check(list(modem.get_bearer_paths()) == [bearer.get_path()], 'Bearers')
again = call_async(lambda cb: simple.connect(props, None, cb), simple.connect_finish, 10, 'connect again')
check(again.get_path() == bearer.get_path(), 'Connect with the same settings reuses the bearer')

step('drop-bearer: notify::connected false, IP configuration cleared, modem registered')
notes = []
GObject.Object.connect(bearer, 'notify::connected', lambda b, p: notes.append(b.get_connected()))
ctl('drop-bearer', 'm1')
wait(lambda: notes and notes[-1] is False, 5, 'notify::connected')
check(bearer.get_interface() in (None, '') and bearer.get_ipv4_config().get_method() == MM.BearerIpMethod.UNKNOWN,
      'interface and ipv4 cleared')
wait(lambda: modem.get_state() == MM.ModemState.REGISTERED, 5, 'registered after the drop')

step('refuse-apn apn|auth and an APN the SIM does not know: ModemManager 1.20 errors')
ctl('refuse-apn', 'm1', 'apn')
expect_error(lambda cb: simple.connect(props, None, cb), simple.connect_finish, 10, 'refuse apn',
             MM.mobile_equipment_error_quark(), MM.MobileEquipmentError.MISSINGORUNKNOWNAPN)
ce = bearer.get_connection_error()
check(ce is not None and ce.code == int(MM.MobileEquipmentError.MISSINGORUNKNOWNAPN), 'ConnectionError %s' % ce)
ctl('refuse-apn', 'm1', 'auth')
expect_error(lambda cb: simple.connect(props, None, cb), simple.connect_finish, 10, 'refuse auth',
             MM.mobile_equipment_error_quark(), MM.MobileEquipmentError.USERAUTHENTICATIONFAILED)
ctl('refuse-apn', 'm1', 'off')
bogus = MM.SimpleConnectProperties.new()
bogus.set_apn('bogus.apn')
expect_error(lambda cb: simple.connect(bogus, None, cb), simple.connect_finish, 10, 'unknown apn',
             MM.mobile_equipment_error_quark(), MM.MobileEquipmentError.MISSINGORUNKNOWNAPN)
bearer = call_async(lambda cb: simple.connect(props, None, cb), simple.connect_finish, 10, 'connect after off')
check(bearer.get_connected() and bearer.get_connection_error() is None, 'connected, error cleared')

step('Signal.Setup(5), ctl signal 40 --rssi -80 ...: SignalQuality and Lte follow')
sig = obj.get_modem_signal()
call_async(lambda cb: sig.setup(5, None, cb), sig.setup_finish, 5, 'signal setup')
wait(lambda: sig.get_rate() == 5 and sig.get_lte() is not None, 5, 'rate 5')
ctl('signal', 'm1', '40', '--rssi', '-80', '--rsrp', '-105', '--rsrq', '-12', '--sinr', '3.5')
wait(lambda: tuple(modem.get_signal_quality()) == (40, True), 5, 'signal quality 40')
wait(lambda: sig.get_lte() and sig.get_lte().get_rssi() == -80.0, 5, 'lte rssi -80')
lte = sig.get_lte()
check((lte.get_rsrp(), lte.get_rsrq(), lte.get_snr()) == (-105.0, -12.0, 3.5), 'lte values')

step('deregister: bearer down, registration idle, modem enabled; register: registered')
ctl('deregister', 'm1')
wait(lambda: not bearer.get_connected(), 5, 'bearer down')
wait(lambda: m3gpp.get_registration_state() == MM.Modem3gppRegistrationState.IDLE and
     modem.get_state() == MM.ModemState.ENABLED, 5, 'idle, enabled')
ctl('register', 'm1')
wait(lambda: modem.get_state() == MM.ModemState.REGISTERED, 5, 'registered again')

step('hang on: a call gets no answer and the client main loop keeps running; hang off answers it')
ctl('hang', 'on')
box = []
modem.get_sim(None, lambda src, res, *_: box.append(res))
t0 = time.monotonic()
ticks = [0]
GLib.timeout_add(10, lambda: ticks.__setitem__(0, ticks[0] + 1) or time.monotonic() - t0 < 0.5)
wait(lambda: time.monotonic() - t0 > 0.5, 2, 'half a second')
check(not box and ticks[0] >= 3, 'answered while hung (%s), or the loop stalled (%d ticks)' % (bool(box), ticks[0]))
ctl('hang', 'off')
wait(lambda: box, 5, 'the queued call')
sim = modem.get_sim_finish(box[0])
check(sim.get_identifier() == '8901000000000000001', 'sim after hang')

step('lock-sim: locked; SendPin wrong -> IncorrectPassword (retries 2); right -> disabled')
ctl('lock-sim', 'm1')
wait(lambda: modem.get_state() == MM.ModemState.LOCKED and modem.get_unlock_required() == MM.ModemLock.SIM_PIN, 5, 'locked')
expect_error(lambda cb: sim.send_pin('0000', None, cb), sim.send_pin_finish, 5, 'wrong pin',
             MM.mobile_equipment_error_quark(), MM.MobileEquipmentError.INCORRECTPASSWORD)
wait(lambda: modem.get_unlock_retries().get(MM.ModemLock.SIM_PIN) == 2, 5, 'pin retries 2')
call_async(lambda cb: sim.send_pin('1234', None, cb), sim.send_pin_finish, 5, 'right pin')
wait(lambda: modem.get_state() == MM.ModemState.DISABLED and modem.get_unlock_required() == MM.ModemLock.NONE, 5, 'unlocked')

step('SetPrimarySimSlot(2): removed, re-added at a new path (same IMEI, slot 2, disabled)')
del added[:], removed[:]
call_async(lambda cb: modem.set_primary_sim_slot(2, None, cb), modem.set_primary_sim_slot_finish, 10, 'sim switch')
wait(lambda: path0 in removed, 5, 'old path removed')
obj = wait(lambda: find(IMEI), 15, 'the modem back')
path1 = obj.get_object_path()
check(path1 != path0 and path1 in added, 'new path %s (old %s)' % (path1, path0))
modem = obj.get_modem()
check(modem.get_primary_sim_slot() == 2 and modem.get_state() == MM.ModemState.DISABLED, 'slot 2, disabled')
check(modem.get_sim_sync(None).get_identifier() == '8901000000000000002', 'slot 2 sim')
simple = obj.get_modem_simple()
p2 = MM.SimpleConnectProperties.new()
p2.set_apn('internet')
b2 = call_async(lambda cb: simple.connect(p2, None, cb), simple.connect_finish, 10, 'connect on slot 2 (enables)')
check(b2.get_ipv4_config().get_address() == '198.18.4.2' and b2.get_ipv4_config().get_mtu() == 1400, 'slot 2 ip')
check(b2.get_ipv6_config().get_method() == MM.BearerIpMethod.UNKNOWN, 'slot 2 has no IPv6')
check(modem.get_state() == MM.ModemState.CONNECTED, 'connected on slot 2')

step('vanish --return-after 1: removed, back at a new path, disabled')
del added[:], removed[:]
ctl('vanish', 'm1', '--return-after', '1')
wait(lambda: path1 in removed, 5, 'vanished')
check(find(IMEI) is None, 'still in the manager')
obj = wait(lambda: find(IMEI), 10, 'the return')
path2 = obj.get_object_path()
check(path2 not in (path0, path1) and obj.get_modem().get_state() == MM.ModemState.DISABLED, 'new path, disabled')

step('Modem.reset: removed, back at a new path')
del added[:], removed[:]
call_async(lambda cb: obj.get_modem().reset(None, cb), obj.get_modem().reset_finish, 5, 'reset')
wait(lambda: path2 in removed, 5, 'removed after reset')
obj = wait(lambda: find(IMEI), 10, 'back after reset')
path3 = obj.get_object_path()
check(path3 not in (path0, path1, path2), 'new path after reset')

step('a slow Connect (delay 50 s logical, 5 s here) pends while the service answers other calls')
ctl('set-delay', 'm1', 'connect', '50')
simple = obj.get_modem_simple()
box = []
simple.connect(p2, None, lambda src, res, *_: box.append(res))
wait(lambda: obj.get_modem().get_state() == MM.ModemState.CONNECTING, 10, 'connecting')
dbus_call(path3, 'org.freedesktop.DBus.Properties', 'GetAll', GLib.Variant('(s)', (MODEM_IFACES[0],)), '(a{sv})')
check('"connecting"' in ctl('state'), 'ctl state while connecting')
check(not box, 'the Connect ended before the other calls were answered')
bearer = simple.connect_finish(wait(lambda: box and box[0], 20, 'the slow connect'))
check(bearer.get_connected(), 'slow connect done')
ctl('set-delay', 'm1', 'connect', '0.2')

step('Connect waits for registration: deregister, Connect pends, register -> connected')
ctl('deregister', 'm1')
wait(lambda: not bearer.get_connected(), 5, 'bearer down')
box = []
simple.connect(p2, None, lambda src, res, *_: box.append(res))
t0 = time.monotonic()
wait(lambda: time.monotonic() - t0 > 0.3, 1, 'a moment')
check(not box, 'Connect returned while not registered')
ctl('register', 'm1')
b = simple.connect_finish(wait(lambda: box and box[0], 10, 'connect after register'))
check(b.get_connected() and b.get_path() == bearer.get_path(), 'connected after register, same bearer')

step('Simple.Disconnect("/") cancels a pending Connect: Core.Cancelled')
ctl('deregister', 'm1')
wait(lambda: not bearer.get_connected(), 5, 'bearer down')
box = []
simple.connect(p2, None, lambda src, res, *_: box.append(res))
call_async(lambda cb: simple.disconnect(None, None, cb), simple.disconnect_finish, 5, 'disconnect all')
try:
    simple.connect_finish(wait(lambda: box and box[0], 5, 'the cancelled connect'))
    fail('connect succeeded after Disconnect("/")')
except GLib.Error as e:
    check(e.domain == GLib.quark_to_string(MM.core_error_quark()) and e.code == int(MM.CoreError.CANCELLED),
          'cancelled connect: %s %d %s' % (e.domain, e.code, e.message))
ctl('register', 'm1')
wait(lambda: obj.get_modem().get_state() == MM.ModemState.REGISTERED, 5, 'registered again')

step('CreateBearer (ipv4), Bearer.Connect, Bearer.Disconnect, DeleteBearer')
modem = obj.get_modem()
bprops = MM.BearerProperties.new()
bprops.set_apn('internet')
bprops.set_ip_type(MM.BearerIpFamily.IPV4)
nb = call_async(lambda cb: modem.create_bearer(bprops, None, cb), modem.create_bearer_finish, 5, 'create bearer')
check(not nb.get_connected() and nb.get_path() in modem.get_bearer_paths(), 'created and listed')
check(nb.get_ipv4_config().get_method() == MM.BearerIpMethod.UNKNOWN, 'no IP configuration yet')
for other in [p for p in modem.get_bearer_paths() if p != nb.get_path()]:
    call_async(lambda cb: modem.delete_bearer(other, None, cb), modem.delete_bearer_finish, 5, 'delete ' + other)
call_async(lambda cb: nb.connect(None, cb), nb.connect_finish, 5, 'bearer connect')
check(nb.get_connected() and nb.get_ipv4_config().get_address() == '198.18.4.2', 'bearer connected')
call_async(lambda cb: nb.disconnect(None, cb), nb.disconnect_finish, 5, 'bearer disconnect')
check(not nb.get_connected(), 'bearer disconnected')
call_async(lambda cb: modem.delete_bearer(nb.get_path(), None, cb), modem.delete_bearer_finish, 5, 'delete bearer')
wait(lambda: not modem.get_bearer_paths(), 5, 'no bearers')

step('m2: no service -> searching; Connect -> NetworkTimeout; SIM switch to the empty slot -> failed/sim-missing')
o2 = wait(lambda: find(IMEI2), 5, 'm2')
m2 = o2.get_modem()
check(list(m2.get_sim_slot_paths())[1] == '/', 'the empty slot is "/"')
call_async(lambda cb: m2.enable(None, cb), m2.enable_finish, 5, 'enable m2')
wait(lambda: m2.get_state() == MM.ModemState.SEARCHING, 5, 'searching')
s2 = MM.SimpleConnectProperties.new()
s2.set_apn('internet')
expect_error(lambda cb: o2.get_modem_simple().connect(s2, None, cb), o2.get_modem_simple().connect_finish, 20,
             'connect without service', MM.mobile_equipment_error_quark(), MM.MobileEquipmentError.NETWORKTIMEOUT)
check(m2.get_state() == MM.ModemState.SEARCHING, 'still searching')
m2path = o2.get_object_path()
call_async(lambda cb: m2.set_primary_sim_slot(2, None, cb), m2.set_primary_sim_slot_finish, 5, 'switch to the empty slot')
wait(lambda: m2path in removed, 5, 'm2 removed')
o2 = wait(lambda: find(IMEI2), 10, 'm2 back')
m2 = o2.get_modem()
check(m2.get_state() == MM.ModemState.FAILED and m2.get_state_failed_reason() == MM.ModemStateFailedReason.SIM_MISSING
      and m2.dup_sim_path() in (None, '/'), 'failed, sim-missing, no SIM')
expect_error(lambda cb: m2.enable(None, cb), m2.enable_finish, 5, 'enable without a SIM',
             MM.core_error_quark(), MM.CoreError.WRONGSTATE)

step('ModemManager restart (kill + start): the client follows; new path, disconnected, disabled, slot kept')
simple = obj.get_modem_simple()
bearer = call_async(lambda cb: simple.connect(p2, None, cb), simple.connect_finish, 10, 'connect before restart')
check(bearer.get_connected(), 'connected before the restart')
del added[:], removed[:]
subprocess.run(['/bin/sh', RESTART], check=True, timeout=60)
wait(lambda: path3 in removed, 10, 'removed at the restart')
obj = wait(lambda: find(IMEI), 15, 'back after the restart')
path4 = obj.get_object_path()
check(path4 not in (path0, path1, path2, path3), 'new path after the restart (%s)' % path4)
check(obj.get_modem().get_state() == MM.ModemState.DISABLED and not obj.get_modem().get_bearer_paths(), 'disabled, no bearer')
check(obj.get_modem().get_primary_sim_slot() == 2, 'the active slot survives a ModemManager restart')
print('gi: all checks passed; m1 paths %s' % ' '.join([path0, path1, path2, path3, path4]), flush=True)
PYEOF
FAKE_MM=$FAKE_MM FAKE_MM_CTL=$CTL FAKE_MM_RESTART=$T/restart.sh \
  timeout 150 $PY "$T/gi_check.py" 2>"$T/gi_err.log" || { cat "$T/gi_err.log" >&2; fail "GI check"; }
if grep -E 'WARNING|CRITICAL' "$T/gi_err.log"; then fail "GLib warnings in the libmm-glib client"; fi

bash "$T/stop.sh" || fail "stop"
grep -q 'Traceback' "$T/serve2.log" && fail "a Python traceback in the service log"

# The hooks ran for m1 with the reasons, one disconnect per connect (the service
# waits for its hooks when it stops).
for line in 'connect m1 wwan0 iot.private connect' 'disconnect m1 wwan0 iot.private drop' \
  'disconnect m1 wwan0 iot.private deregister' 'disconnect m1 wwan0 internet vanish' \
  'disconnect m1 wwan0 internet shutdown'; do
  grep -qx "$line" "$T/hooks.log" || { cat "$T/hooks.log" >&2; fail "no hook line '$line'"; }
done
c=$(grep -c '^connect m1' "$T/hooks.log")
d=$(grep -c '^disconnect m1' "$T/hooks.log")
[ "$c" -eq "$d" ] || { cat "$T/hooks.log" >&2; fail "$c connect hooks but $d disconnect hooks"; }

# The bus stops on SIGTERM and removes its socket and address file.
kill -TERM "$BUS_PID"
wait_for 10 "fake-mm bus to exit" gone "$BUS_PID"
wait "$BUS_PID" || fail "fake-mm bus exited with status $?"
BUS_PID=""
[ ! -e "$T/bus/bus.sock" ] && [ ! -e "$T/bus/address" ] || fail "bus socket or address file left"
echo "fake_mm_test: PASS"
