# Sourced by demo_test.sh and aiot_demo_test.sh (not a test itself).
# run_demo LIMIT OUT TICK COMMAND...: runs COMMAND in the background with its
# output in OUT; while it runs, calls the function TICK (or `:`) every 0.2 s
# with the seconds since the start; past LIMIT seconds it reports `fail`
# (the caller's), sends SIGTERM to the demo's PID, then SIGKILL after 10 s.
# Sets DEMO_RC (its exit status) and DEMO_SECS (how long it ran).
run_demo() {
  local limit=$1 out=$2 tick=$3 start=$SECONDS pid now
  shift 3
  "$@" >"$out" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null && [ "$(sed 's/.*) //' /proc/$pid/stat 2>/dev/null | cut -c1)" != Z ]; do
    now=$((SECONDS - start))
    "$tick" "$now"
    if [ "$now" -ge "$limit" ]; then
      fail "the demo did not end within ${limit}s: SIGTERM to PID $pid"
      kill -TERM "$pid"
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null
      break
    fi
    sleep 0.2
  done
  wait "$pid"
  DEMO_RC=$?
  DEMO_SECS=$((SECONDS - start))
}
