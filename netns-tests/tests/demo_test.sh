#!/usr/bin/env bash
# demo_test: scripts/demo.sh as a user runs it with its output sent to a file
# (not a terminal), on an existing build (DEMO_SKIP_BUILD=1 BUILD_DIR=...).
#   demo_test.sh SOURCE_DIR BUILD_DIR        (ctest: label netns, root)
# Checks: exit status 0 within DEMO_TEST_LIMIT seconds (default 240); the run
# ends by itself within 20 s of its last step; every "== fault:" step shows at
# least one "[event]" line, and the first one shows up while the demo runs (not
# only at the end, as a buffered pipe would); uplinkd exits 0 on SIGTERM; no
# terminal escapes in a file; the lab's namespaces and run directory are gone.
set -uo pipefail
SRC=${1:?usage: demo_test.sh SOURCE_DIR BUILD_DIR}
BUILD=${2:?usage: demo_test.sh SOURCE_DIR BUILD_DIR}
LIMIT=${DEMO_TEST_LIMIT:-240}
TAIL_LIMIT=20

fail() { echo "demo_test: FAIL: $*"; FAILED=1; }
FAILED=0
if [ "$(id -u)" -ne 0 ]; then echo "demo_test: FAIL: needs root (network namespaces)"; exit 1; fi
for b in uplinkd uplinkctl uplink-lab flow-send flow-recv; do
  [ -x "$BUILD/bin/$b" ] || { echo "demo_test: FAIL: $BUILD/bin/$b not built"; exit 1; }
done

OUT=$(mktemp /tmp/uplink-demo-test.XXXXXX)
# Watch the file while the demo runs: when the first event line and the last
# step's tear-down appear (bounded: LIMIT seconds, then the demo is stopped).
first_event="" stop_seen=""
watch_output() {
  [ -z "$first_event" ] && grep -q '\[event\]' "$OUT" && first_event=$1
  [ -z "$stop_seen" ] && grep -q '^== stop uplinkd' "$OUT" && stop_seen=$1
  return 0
}
. "$(dirname "$0")/demo_run.sh"
run_demo "$LIMIT" "$OUT" watch_output env DEMO_SKIP_BUILD=1 BUILD_DIR="$BUILD" "$SRC/scripts/demo.sh"
rc=$DEMO_RC END=$DEMO_SECS

echo "---- demo output ($OUT) ----"
cat "$OUT"
echo "---- checks ----"
[ "$rc" -eq 0 ] || fail "exit status $rc (want 0)"
echo "demo ran ${END}s (limit ${LIMIT}s); first [event] line at +${first_event:-never}s; 'stop uplinkd' at +${stop_seen:-never}s"
[ "$END" -le "$LIMIT" ] || fail "ran ${END}s, more than ${LIMIT}s"
if [ -z "$stop_seen" ]; then
  fail "no '== stop uplinkd' line: uplinkd was not stopped by the demo"
elif [ $((END - stop_seen)) -gt "$TAIL_LIMIT" ]; then
  fail "the demo took $((END - stop_seen))s after its last step to end (limit ${TAIL_LIMIT}s)"
fi
if [ -z "$first_event" ]; then
  fail "no [event] line while the demo ran"
elif [ -n "$stop_seen" ] && [ "$first_event" -ge "$stop_seen" ]; then
  fail "the first [event] line appeared only at tear-down (buffered?)"
fi
grep -q 'uplinkd exited with status 0' "$OUT" || fail "uplinkd did not exit 0 on SIGTERM"
grep -q $'\033' "$OUT" && fail "terminal escapes in a file"

# Every fault step shows at least one event before the next step starts.
steps=$(awk '
  /^== / { if (fault) print (events > 0 ? "ok " : "NONE ") title; fault = ($0 ~ /^== fault:/); title = $0; events = 0; next }
  /\[event\]/ { events++ }
  END { if (fault) print (events > 0 ? "ok " : "NONE ") title }' "$OUT")
nsteps=$(grep -c . <<<"$steps")
echo "$steps" | sed 's/^/  /'
[ "$nsteps" -ge 6 ] || fail "$nsteps fault steps (want 6)"
grep -q '^NONE' <<<"$steps" && fail "a fault step without an [event] line"

# Nothing left behind.
prefix=$(sed -n 's/^== lab up (prefix \([a-z0-9]*\)).*/\1/p' "$OUT" | head -1)
if [ -z "$prefix" ]; then
  fail "no lab prefix in the output"
else
  left=$(ip netns list | awk '{print $1}' | grep "^$prefix-")
  [ -z "$left" ] || fail "namespaces left behind: $left"
  [ ! -e "/run/uplink-lab/$prefix" ] || fail "/run/uplink-lab/$prefix left behind"
fi

if [ "$FAILED" = 0 ]; then
  echo "demo_test: PASS"
  rm -f "$OUT"
  exit 0
fi
echo "demo_test: output kept in $OUT"
exit 1
