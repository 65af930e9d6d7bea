#!/usr/bin/env bash
# aiot_demo_test: the AIoT story (scripts/demo-aiot.sh) on this build, its
# output in a file (DEMO_SKIP_BUILD=1 BUILD_DIR=...).
#   aiot_demo_test.sh SOURCE_DIR BUILD_DIR        (ctest: label netns, root)
# Checks: exit status 0 within AIOT_TEST_LIMIT seconds (default 240) and not
# skipped (a missing module fails this test, with the demo's reason); the
# spike was sent while every line was cut and before the restore; no alarm
# reached the broker before the restore; the alarm reached it after the
# restore (its receive time is later than the restore's) and within a bound
# derived from config/lab-aiot.toml (wan1's probe interval, fast_interval,
# up_after, the probe timeout the demo read just before the restore, the
# uplink's reconnect_max) with margin; it carries the spike's value; uplinkd
# exits 0 on SIGTERM; no terminal escapes in a file; the lab is gone.
# Also: config/lab-aiot.toml still contains config/lab.toml unchanged.
set -uo pipefail
SRC=${1:?usage: aiot_demo_test.sh SOURCE_DIR BUILD_DIR}
BUILD=${2:?usage: aiot_demo_test.sh SOURCE_DIR BUILD_DIR}
LIMIT=${AIOT_TEST_LIMIT:-240}

fail() { echo "aiot_demo_test: FAIL: $*"; FAILED=1; }
FAILED=0
if [ "$(id -u)" -ne 0 ]; then echo "aiot_demo_test: FAIL: needs root (network namespaces)"; exit 1; fi

# lab-aiot.toml = lab.toml (from [daemon] on) + the AIoT sections.
common=$(sed -n '/^\[daemon\]/,/^# ---- AIoT/p' "$SRC/config/lab-aiot.toml" | sed '$d')
if [ "$common" != "$(sed -n '/^\[daemon\]/,$p' "$SRC/config/lab.toml")" ]; then
  fail "config/lab-aiot.toml no longer contains config/lab.toml unchanged (diff below)"
  diff <(sed -n '/^\[daemon\]/,$p' "$SRC/config/lab.toml") <(echo "$common") | head -20
fi

# The bound's inputs, from the config the demo runs.
read -r INTERVAL FAST UP_AFTER RECONNECT_MAX < <(python3 - "$SRC/config/lab-aiot.toml" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
def dur(s):
    m = re.fullmatch(r"([0-9.]+)(ms|s|m)", s)
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60}[m.group(2)]
wan1 = text.split("[links.wan1.probe]", 1)[1].split("\n[", 1)[0]
uplink = text.split("\n[uplink]", 1)[1].split("\n[", 1)[0]
get = lambda sec, k: re.search(rf'^{k}\s*=\s*"?([^"\s#]+)"?', sec, re.M).group(1)
print(dur(get(wan1, "interval")), dur(get(wan1, "fast_interval")), int(get(wan1, "up_after")),
      dur(get(uplink, "reconnect_max")))
PY
)
echo "config: wan1 interval ${INTERVAL}s fast_interval ${FAST}s up_after $UP_AFTER; uplink reconnect_max ${RECONNECT_MAX}s"
# The delivery bound, seconds after the restore: probe_rounds_bound
# (netns-tests/README.md) + one failed connect + the fault command. Python,
# shared by the demo's wait below and the check at the end.
BOUND_PY='
def delivery_bound(interval, fast, up_after, reconnect_max, timeout):
    return (interval * 1.1 + up_after * max(fast, 3 * timeout)) * 1.5 + 1 + reconnect_max + 3
'
export BOUND_PY
# Before the demo's own wait gives up: the bound with the largest auto timeout (3 s).
WAIT_LIMIT=$(python3 -c "$BOUND_PY"'
import math, sys
print(math.ceil(round(delivery_bound(*map(float, sys.argv[1:])), 1) + 5))' "$INTERVAL" "$FAST" "$UP_AFTER" "$RECONNECT_MAX" 3)

OUT=$(mktemp /tmp/uplink-aiot-test.XXXXXX)
. "$(dirname "$0")/demo_run.sh"
run_demo "$LIMIT" "$OUT" : env DEMO_SKIP_BUILD=1 BUILD_DIR="$BUILD" AIOT_DELIVERY_LIMIT="$WAIT_LIMIT" "$SRC/scripts/demo-aiot.sh"
rc=$DEMO_RC

echo "---- demo output ($OUT) ----"
cat "$OUT"
echo "---- checks ----"
echo "demo ran ${DEMO_SECS}s (limit ${LIMIT}s), status $rc"
[ "$rc" -eq 0 ] || fail "exit status $rc (want 0)"
if grep -q '^== AIoT story skipped' "$OUT"; then
  fail "the story was skipped: $(sed -n 's/^== AIoT story skipped: //p' "$OUT")"
fi
grep -q $'\033' "$OUT" && fail "terminal escapes in a file"
grep -q 'uplinkd exited with status 0' "$OUT" || fail "uplinkd did not exit 0 on SIGTERM"
grep -Eq 'private frames in clear on .* during the whole story: 0$' "$OUT" ||
  fail "no 'private frames in clear ... : 0' line (the private path's step did not run or saw a leak)"

# Order and timing, from the demo's lines:
#   "== AIoT: cut every WAN ..."  "spike sent: row N ts T value V"  "== AIoT: restore one line ..."
#   "restore: eth1 cleared at EPOCH"  "[broker EPOCH] anomaly/STREAM {...}"
python3 - "$OUT" "$INTERVAL" "$FAST" "$UP_AFTER" "$RECONNECT_MAX" <<'PY' || FAILED=1
import json, os, re, sys
exec(os.environ["BOUND_PY"])
lines = open(sys.argv[1]).read().splitlines()
interval, fast, up_after, reconnect_max = map(float, sys.argv[2:6])
bad = []
def idx(pred, what):
    for i, l in enumerate(lines):
        if pred(l):
            return i
    bad.append(f"no line with {what}")
    return None
cut = idx(lambda l: l.startswith("== AIoT: cut every WAN"), "the cut heading")
spike = idx(lambda l: "spike sent:" in l, "'spike sent'")
head = idx(lambda l: l.startswith("== AIoT: restore one line"), "the restore heading")
rest = idx(lambda l: "restore: eth1 cleared at" in l, "the restore time")
alarms = [i for i, l in enumerate(lines) if re.match(r"\s*\[broker [0-9.]+\] anomaly/", l)]
if None not in (cut, spike, head):
    if not cut < spike < head:
        bad.append(f"the spike (line {spike+1}) is not between the cut (line {cut+1}) and the restore (line {head+1})")
if head is not None:
    early = [i for i in alarms if i < head]
    if early:
        bad.append(f"an alarm line before the restore: {lines[early[0]].strip()[:120]}")
    late = [i for i in alarms if i > head]
    if not late:
        bad.append("no alarm line at the broker after the restore")
    elif rest is not None:
        restored = float(lines[rest].split()[-1])
        first = lines[late[0]]
        got = float(re.match(r"\s*\[broker ([0-9.]+)\]", first).group(1))
        m = re.search(r"wan1 probe timeout before the restore: ([0-9.]+) ms", "\n".join(lines))
        timeout = float(m.group(1)) / 1000 if m else 3.0  # unknown: the auto timeout's maximum
        bound = delivery_bound(interval, fast, up_after, reconnect_max, timeout)
        delay = got - restored
        print(f"alarm received {delay:.2f} s after the restore (bound {bound:.1f} s: probe timeout {timeout*1000:.0f} ms)")
        if delay <= 0:
            bad.append(f"the alarm was received {-delay:.2f} s BEFORE the restore")
        elif delay > bound:
            bad.append(f"the alarm took {delay:.1f} s after the restore (bound {bound:.1f} s)")
        payload = first.split(None, 3)[3] if len(first.split(None, 3)) > 3 else ""
        sv = re.search(r"spike sent: row \d+ ts ([0-9.]+) value ([0-9.eE+-]+)", lines[spike]) if spike is not None else None
        try:
            p = json.loads(payload)
            if sv and abs(float(p.get("value", "nan")) - float(sv.group(2))) > 1e-6:
                bad.append(f"the alarm's value {p.get('value')} is not the spike's {sv.group(2)}")
        except ValueError:
            bad.append(f"the alarm payload is not JSON: {payload[:120]}")
for b in bad:
    print("aiot_demo_test: FAIL:", b)
sys.exit(1 if bad else 0)
PY

# Nothing left behind.
prefix=$(sed -n 's/^== AIoT: lab up (prefix \([a-z0-9]*\)).*/\1/p' "$OUT" | head -1)
if [ -z "$prefix" ]; then
  fail "no lab prefix in the output"
else
  ip netns list | grep -q "^$prefix-" && fail "namespaces of $prefix left: $(ip netns list | grep "^$prefix-" | tr '\n' ' ')"
  [ -e "/run/uplink-lab/$prefix" ] && fail "/run/uplink-lab/$prefix left"
fi

if [ "$FAILED" = 0 ]; then echo "aiot_demo_test: PASS"; rm -f "$OUT"; else echo "output kept: $OUT"; fi
exit "$FAILED"
