#!/usr/bin/env bash
# Foundation integration test (issue 2): uplinkd in a throw-away network
# namespace with veth links, driven by uplinkctl.
#   usage: run.sh UPLINKD UPLINKCTL        (root; exit 77 = skipped)
# Everything it creates carries a per-run prefix and is removed on exit, also
# on failure; it stops only the processes it started, by PID.
set -euo pipefail

UPLINKD=$(realpath "$1")
UPLINKCTL=$(realpath "$2")
PY=/usr/bin/python3

if [[ $EUID -ne 0 ]]; then
  echo "SKIP: needs root (network namespaces)"
  exit 77
fi

PREFIX="ulf-$$-$RANDOM"
NS="$PREFIX-router"
ISP="$PREFIX-isp"
TMP=$(mktemp -d "/tmp/$PREFIX.XXXXXX")
CFG="$TMP/uplinkd.toml"
SOCK="$TMP/run/control.sock"
PIDS=()
DAEMON_PID=""
READ_GID=64601 ADMIN_GID=64602 METRICS_PORT=9109  # the port is inside the test's own namespace

log() { echo "[foundation] $*"; }

cleanup() {
  local rc=$?
  for pid in "${PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
  ip netns del "$NS" 2>/dev/null || true
  ip netns del "$ISP" 2>/dev/null || true
  if [[ $rc -ne 0 && -f "$TMP/uplinkd.log" ]]; then
    echo "---- uplinkd log ----"; tail -n 60 "$TMP/uplinkd.log"
  fi
  rm -rf "$TMP"
  exit $rc
}
trap cleanup EXIT INT TERM

fail() { echo "FAIL: $*" >&2; exit 1; }

ctl() { "$UPLINKCTL" --socket "$SOCK" "$@"; }

# Runs uplinkctl, captures stdout/stderr/exit code in OUT/ERR/RC.
run_ctl() {
  set +e
  OUT=$(ctl "$@" 2>"$TMP/stderr")
  RC=$?
  set -e
  ERR=$(cat "$TMP/stderr")
}

expect_rc() {  # expect_rc N description
  [[ $RC -eq $1 ]] || fail "$2: exit $RC, expected $1; stdout: $OUT; stderr: $ERR"
}

# json_get 'python expression on j' <<< JSON
json_get() { $PY -c "import json,sys; j=json.load(sys.stdin); print($1)"; }

# Polls a condition (a shell command) up to $2 seconds.
wait_for() {
  local cond=$1 secs=${2:-10}
  for _ in $(seq $((secs * 10))); do
    if eval "$cond"; then return 0; fi
    sleep 0.1
  done
  fail "timed out after ${secs}s waiting for: $cond"
}

link_state() { ctl status --json | json_get "[l['state'] for l in j['links'] if l['name']=='$1'][0]"; }

# ---- topology: router <-> isp over two veth pairs; targets on the isp's lo ----
ip netns add "$NS"
ip netns add "$ISP"
for i in 1 2; do
  ip -n "$NS" link add "eth$i" type veth peer name "eth$i" netns "$ISP"
  ip -n "$NS" addr add "198.18.$i.2/24" dev "eth$i"
  ip -n "$ISP" addr add "198.18.$i.1/24" dev "eth$i"
  ip -n "$NS" link set "eth$i" up
  ip -n "$ISP" link set "eth$i" up
  ip -n "$ISP" addr add "203.0.113.$i/32" dev lo
done
ip -n "$NS" link set lo up
ip -n "$ISP" link set lo up
ip netns exec "$NS" ping -c1 -W2 198.18.1.1 >/dev/null || fail "veth eth1 does not pass traffic"

mkdir -p "$TMP/state" "$TMP/hooks"
cat >"$CFG" <<TOML
# foundation test config -- this comment must survive CLI edits
[daemon]
socket    = "$SOCK"
# numeric groups: nothing is added to the machine's group database
socket_group   = "$READ_GID"
admin_group    = "$ADMIN_GID"
metrics_listen = "127.0.0.1:$METRICS_PORT"
state_dir = "$TMP/state"
hooks_dir = "$TMP/hooks"
log_level = "info"

# primary line
[links.wan1]
kind      = "ethernet"
interface = "eth1"
gateway   = "198.18.1.1"   # isp side

[links.wan1.probe]
targets = ["203.0.113.1"]

[links.wan2]
kind      = "broadband"
interface = "eth2"
gateway   = "198.18.2.1"

[links.wan2.probe]
targets = ["203.0.113.2"]

[policies.default]
mode    = "failover"
members = [{ link = "wan1", tier = 1 }, { link = "wan2", tier = 2 }]

[[rules]]
name   = "all"
policy = "default"
TOML

# ---- offline validation ----
"$UPLINKD" --check-config "$CFG" | grep -qx "$CFG: ok" || fail "uplinkd --check-config on a good file"
run_ctl config check "$CFG"
expect_rc 0 "config check good file"
[[ "$OUT" == "$CFG: ok" ]] || fail "config check output: $OUT"
BROKEN="$TMP/broken.toml"
sed 's/^interface = "eth2"/interface = 12/' "$CFG" >"$BROKEN"
run_ctl config check "$BROKEN"
expect_rc 1 "config check broken file"
[[ "$ERR" =~ ^$BROKEN:[0-9]+:[0-9]+:\ links\.wan2\.interface ]] || fail "config check message: $ERR"
set +e; "$UPLINKD" --check-config "$BROKEN" 2>"$TMP/stderr"; RC=$?; set -e
[[ $RC -eq 1 ]] && grep -Eq "^$BROKEN:[0-9]+:[0-9]+: " "$TMP/stderr" || fail "uplinkd --check-config broken: rc $RC"

# ---- daemon not running ----
run_ctl status
expect_rc 1 "status without daemon"
[[ "$ERR" == "uplinkctl: cannot connect to $SOCK: No such file or directory (is uplinkd running?)" ]] ||
  fail "not-running message: $ERR"

# ---- start, under a stand-in for systemd's notify socket ----
NOTIFY="$TMP/notify.sock"
$PY - "$NOTIFY" >"$TMP/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(60)  # bounded: exits on its own if the test dies
while True:
    try:
        d = s.recv(4096)
    except socket.timeout:
        break
    print(d.decode().replace("\n", "|"), flush=True)
PY
PIDS+=("$!")
wait_for "[[ -S '$NOTIFY' ]]" 5
ip netns exec "$NS" env NOTIFY_SOCKET="$NOTIFY" WATCHDOG_USEC=200000 "$UPLINKD" --config "$CFG" >"$TMP/uplinkd.log" 2>&1 &
DAEMON_PID=$!
PIDS+=("$DAEMON_PID")
wait_for "ctl status >/dev/null 2>&1" 10
log "uplinkd running (pid $DAEMON_PID)"
wait_for "grep -q '^READY=1|STATUS=2 links' '$TMP/notify.log'" 5
wait_for "[[ \$(grep -c '^WATCHDOG=1' '$TMP/notify.log') -ge 3 ]]" 5
[[ $(stat -c %a "$SOCK") == 660 ]] || fail "socket mode $(stat -c %a "$SOCK")"

# A second daemon on the same socket refuses to start and leaves the first alone.
set +e; timeout 10 ip netns exec "$NS" "$UPLINKD" --config "$CFG" >"$TMP/second.log" 2>&1; RC=$?; set -e
[[ $RC -eq 1 ]] || fail "second uplinkd: exit $RC"
grep -q "refusing to start a second daemon" "$TMP/second.log" || fail "second uplinkd message: $(cat "$TMP/second.log")"
ctl status >/dev/null || fail "first daemon lost its socket"

# ---- status ----
run_ctl status
expect_rc 0 "status"
grep -Eq '^wan1 +ethernet +eth1 +(unknown|up) ' <<<"$OUT" || fail "status table: $OUT"  # up already on a busy machine: the waits above take longer
grep -Eq '^default +failover ' <<<"$OUT" || fail "status table policies: $OUT"
STATUS=$(ctl status --json)
json_get "[l['name'] for l in j['links']]" <<<"$STATUS" | grep -qx "\['wan1', 'wan2'\]" || fail "status links: $STATUS"
for f in name kind interface state since reason latency_ms jitter_ms loss_pct table; do
  json_get "'$f' in j['links'][0]" <<<"$STATUS" | grep -qx True || fail "status --json lacks links[].$f"
done
# latency_ms: null before the first reply, a number once probes answered (a busy machine gets there first).
json_get "(j['links'][0]['latency_ms'] is None or isinstance(j['links'][0]['latency_ms'], (int, float))) and isinstance(j['links'][0]['table'], int)" <<<"$STATUS" |
  grep -qx True || fail "status --json number fields: $STATUS"
json_get "(j['policies'][0]['name'], j['policies'][0]['mode'], j['policies'][0]['active'] in ([], ['wan1']))" <<<"$STATUS" |
  grep -qx "('default', 'failover', True)" || fail "status --json policies: $STATUS"

# ---- events follower in the background ----
ctl events --follow --json >"$TMP/events.jsonl" 2>"$TMP/events.err" &
EVENTS_PID=$!
PIDS+=("$EVENTS_PID")
wait_for "ctl metrics | grep -q '^uplink_control_connections 2'" 5  # follower + this metrics call

# ---- link add / set / remove, written back with comments kept ----
run_ctl link add wan3 --kind ethernet --interface eth3 --gateway 198.18.3.1 --target 203.0.113.3 --metered
expect_rc 0 "link add"
grep -q '^\[links.wan3\]' "$CFG" || fail "link add not written to the file"
grep -q 'this comment must survive CLI edits' "$CFG" || fail "link add lost the file's comments"
grep -q '# isp side' "$CFG" || fail "link add lost an inline comment"
# eth3 does not exist: the link monitor may already have said so (down, interface_gone).
[[ $(link_state wan3) =~ ^(unknown|down)$ ]] || fail "wan3 state after add: $(link_state wan3)"

run_ctl link set wan3 probe.interval=500ms
expect_rc 0 "link set"
grep -Eq '^interval *= *"500ms"' "$CFG" || fail "link set not written: $(cat "$CFG")"
ctl link show wan3 --json | json_get "j['config']['probe']['interval']" | grep -qx 500ms || fail "link show after set"

cp "$CFG" "$TMP/before-bad-set.toml"
run_ctl link set wan3 probe.interval=soon
expect_rc 1 "link set with a bad value"
cmp -s "$CFG" "$TMP/before-bad-set.toml" || fail "a rejected link set changed the file"

run_ctl link show wan9
expect_rc 1 "link show unknown"
[[ "$ERR" == "uplinkctl: no such link 'wan9'" ]] || fail "unknown link message: $ERR"

run_ctl link remove wan3
expect_rc 0 "link remove"
grep -q 'links.wan3' "$CFG" && fail "link remove left wan3 in the file"
grep -q 'this comment must survive CLI edits' "$CFG" || fail "link remove lost the file's comments"
ctl links --json | json_get "[l['name'] for l in j]" | grep -qx "\['wan1', 'wan2'\]" || fail "links after remove"

# ---- disable / enable: at once, in the file, as events ----
run_ctl link disable wan1
expect_rc 0 "link disable"
[[ $(link_state wan1) == disabled ]] || fail "wan1 not disabled"
grep -Eq '^enabled *= *false' "$CFG" || fail "disable not written to the file"
run_ctl link enable wan1
expect_rc 0 "link enable"
# Enabled again: unknown until the link monitor's rounds decide (fast in this veth lab).
[[ $(link_state wan1) =~ ^(unknown|up)$ ]] || fail "wan1 not back to unknown: $(link_state wan1)"
wait_for "[[ \$(grep -c '\"admin\"' '$TMP/events.jsonl') -ge 2 ]]" 5
$PY - "$TMP/events.jsonl" <<'PY' || fail "events stream: $(cat "$TMP/events.jsonl")"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
# The link monitor adds its own events (up, interface_gone, ...); the admin ones come in order.
admin = [e for e in ev if e["reason"] == "admin"]
want = [("wan1", "disabled", "admin"), ("wan1", "unknown", "admin")]
got = [(e["link"], e["to"], e["reason"]) for e in admin[:2]]
assert got == want, got
assert admin[0]["from"] in ("unknown", "up") and admin[1]["from"] == "disabled", admin
assert all(set(e) == {"ts", "link", "from", "to", "reason"} for e in ev if "link" in e), ev
# Policy events (docs/control-protocol.md) carry their own keys, never "link", and their cause.
assert all(set(e) == {"ts", "policy", "active_before", "active", "reason", "cause_link", "cause"}
           for e in ev if "link" not in e), ev
assert any(e.get("cause_link") == "wan1" and e.get("cause") == "disabled" for e in ev), ev
PY
run_ctl events
expect_rc 0 "events (history)"
grep -Eq 'wan1  (unknown|up) -> disabled  \(admin\)' <<<"$OUT" || fail "events history: $OUT"
run_ctl events --json
expect_rc 0 "events --json (history)"
grep '"admin"' <<<"$OUT" | head -n1 | json_get "(j['link'], j['to'], j['reason'])" | grep -qx "('wan1', 'disabled', 'admin')" ||
  fail "events --json history: $OUT"

# ---- policy and rule verbs ----
run_ctl policy add backup --mode failover --member wan2:1 --member wan1:2
expect_rc 0 "policy add"
run_ctl rule add cams --policy backup --source 192.168.60.0/24 --sticky 5m
expect_rc 0 "rule add"
ctl rule show --json | json_get "[r['name'] for r in j]" | grep -qx "\['cams', 'all'\]" || fail "rule order"
run_ctl rule remove cams
expect_rc 0 "rule remove"
run_ctl policy remove backup
expect_rc 0 "policy remove"

# ---- reload with a broken file: error with position, nothing changes ----
# States are live (probes): let wan1 settle after its re-enable so only the reload could change them.
wait_for "[[ \$(link_state wan1) == up ]]" 10
BEFORE=$(ctl links --json | json_get "[(l['name'], l['state'], l['interface']) for l in j]")
cp "$CFG" "$TMP/good.toml"
sed -i 's/^interface = "eth2"/interface = 12/' "$CFG"
cp "$CFG" "$TMP/broken-copy.toml"
run_ctl reload
expect_rc 1 "reload with a broken file"
[[ "$ERR" =~ ^uplinkctl:\ $CFG:[0-9]+:[0-9]+:\ links\.wan2\.interface ]] || fail "reload error: $ERR"
AFTER=$(ctl links --json | json_get "[(l['name'], l['state'], l['interface']) for l in j]")
[[ "$BEFORE" == "$AFTER" ]] || fail "running state changed by a failed reload: $BEFORE vs $AFTER"
cmp -s "$CFG" "$TMP/broken-copy.toml" || fail "a failed reload touched the file"
# A CLI edit while the file is broken is refused and leaves it as it is.
run_ctl link disable wan2
expect_rc 1 "edit on a broken file"
cmp -s "$CFG" "$TMP/broken-copy.toml" || fail "a failed edit touched the file"

# ---- SIGHUP reload of a hand edit ----
cp "$TMP/good.toml" "$CFG"
sed -i 's/^interface = "eth2"/interface = "eth2"\nenabled = false/' "$CFG"
kill -HUP "$DAEMON_PID"
wait_for "[[ \$(link_state wan2) == disabled ]]" 5
run_ctl reload
expect_rc 0 "reload of a good file"

# ---- metrics, verbs of later modules, usage errors ----
run_ctl metrics
expect_rc 0 "metrics"
grep -q '^uplink_link_state{link="wan2",state="disabled"} 1$' <<<"$OUT" || fail "metrics: $OUT"
run_ctl config show
expect_rc 0 "config show"
grep -q '^\[links.wan1\]' <<<"$OUT" || fail "config show: $OUT"
run_ctl modems
expect_rc 0 "modems (the cellular module's verb; this config has no modems)"
grep -q 'no cellular links' <<<"$OUT" || fail "modems: $OUT"
run_ctl modem nosuch reset
expect_rc 1 "modem verb on a link that is not cellular"
[[ "$ERR" == *"no cellular link 'nosuch'"* ]] || fail "modem message: $ERR"
run_ctl link
expect_rc 2 "usage error"
run_ctl link set wan1 nonsense
expect_rc 2 "bad KEY=VALUE"

# ---- the scrape endpoint serves what `uplinkctl metrics` prints ----
SCRAPE=$(ip netns exec "$NS" $PY -c "
import urllib.request
r = urllib.request.urlopen('http://127.0.0.1:$METRICS_PORT/metrics', timeout=5)
assert r.status == 200 and r.headers['Content-Type'].startswith('text/plain; version=0.0.4'), r.headers
print(r.read().decode(), end='')") || fail "GET /metrics"
grep -q '^uplink_link_state{link="wan2",state="disabled"} 1$' <<<"$SCRAPE" || fail "scrape: $SCRAPE"
set +e
ip netns exec "$NS" $PY -c "
import urllib.request, urllib.error
try:
    urllib.request.urlopen(urllib.request.Request('http://127.0.0.1:$METRICS_PORT/metrics', data=b'x'), timeout=5)
except urllib.error.HTTPError as e:
    raise SystemExit(0 if e.code == 405 else e.code)
raise SystemExit(1)"
RC=$?
set -e
[[ $RC -eq 0 ]] || fail "POST /metrics: not a 405 ($RC)"

# ---- peer credentials: readers read, only root and daemon.admin_group change ----
chmod 0755 "$TMP" "$TMP/run"
[[ $(stat -c %g "$SOCK") == "$READ_GID" ]] || fail "socket group $(stat -c %g "$SOCK"), expected $READ_GID"
as_user() {  # as_user GID [SUPPLEMENTARY] -- uplinkctl ARGS...: runs as nobody with those groups
  local gid=$1 groups=$2; shift 3
  set +e
  if [[ -n "$groups" ]]; then
    OUT=$(setpriv --reuid=65534 --regid="$gid" --groups="$groups" "$UPLINKCTL" --socket "$SOCK" "$@" 2>&1)
  else
    OUT=$(setpriv --reuid=65534 --regid="$gid" --clear-groups "$UPLINKCTL" --socket "$SOCK" "$@" 2>&1)
  fi
  RC=$?
  set -e
}
as_user "$READ_GID" "" -- status
[[ $RC -eq 0 ]] || fail "a socket_group member cannot read: rc $RC: $OUT"
as_user "$READ_GID" "" -- link disable wan1
[[ $RC -eq 1 && "$OUT" == *"permission denied: 'link.disable' changes uplinkd's state, which needs root or a member of daemon.admin_group (gid $ADMIN_GID); uid 65534 may only read"* ]] ||
  fail "a reader changed state: rc $RC: $OUT"
[[ $(link_state wan1) != disabled ]] || fail "the refused change was applied"
as_user "$READ_GID" "" -- reload
[[ $RC -eq 1 && "$OUT" == *"permission denied: 'reload'"* ]] || fail "a reader reloaded: rc $RC: $OUT"
# an administrator (primary group admin_group, socket_group for the file mode)
as_user "$ADMIN_GID" "$READ_GID" -- reload
[[ $RC -eq 0 ]] || fail "an admin_group member cannot reload: rc $RC: $OUT"
# and anyone else does not get in, even through a world-writable socket
chmod 0666 "$SOCK"
as_user 65534 "" -- status
[[ $RC -eq 1 && "$OUT" == *"permission denied: uid 65534"* ]] || fail "peer check: rc $RC: $OUT"
chmod 0660 "$SOCK"

# ---- SIGTERM: exit 0, socket removed, follower sees the end ----
kill -TERM "$DAEMON_PID"
for _ in $(seq 100); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$DAEMON_PID" 2>/dev/null && fail "uplinkd did not stop within 10s of SIGTERM"
set +e; wait "$DAEMON_PID"; RC=$?; set -e
[[ $RC -eq 0 ]] || fail "uplinkd exit status after SIGTERM: $RC"
[[ -e "$SOCK" ]] && fail "socket file left behind"
grep -q '^STOPPING=1' "$TMP/notify.log" || fail "no STOPPING=1 sent to the notify socket"
grep -q '^RELOADING=1' "$TMP/notify.log" || fail "no RELOADING=1 on SIGHUP"
wait_for "! kill -0 $EVENTS_PID 2>/dev/null" 5
run_ctl status
expect_rc 1 "status after stop"
[[ "$ERR" == *"(is uplinkd running?)" ]] || fail "after-stop message: $ERR"

log "PASS"
