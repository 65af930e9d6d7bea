# Shared by scripts/demo.sh and scripts/demo-aiot.sh (sourced, not run):
# headings, stopping the processes a script started (by PID), and the
# daemon's one-line link/policy summary.
# Messages name the sourcing script (${0##*/}).

if [ -t 1 ]; then BOLD=$'\033[1m' PLAIN=$'\033[0m'; else BOLD="" PLAIN=""; fi
say() { printf '\n%s== %s%s\n' "$BOLD" "$*" "$PLAIN"; }

# A process we started is alive (a zombie is not: it only waits to be reaped).
alive() { local s; s=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) && [ -n "$s" ] && [ "$s" != Z ]; }
# Waits up to $2 seconds for PID $1 to end by itself.
await_exit() {
  local i
  for ((i = 0; i < $2 * 10; i++)); do alive "$1" || return 0; sleep 0.1; done
  return 1
}
# Stops one process we started, by its PID: SIGTERM, up to $2 s (default 3),
# then SIGKILL; reaps it and prints nothing. Returns its exit status.
stop_pid() {
  local pid=$1 secs=${2:-3} rc=0
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  if ! await_exit "$pid" "$secs"; then
    echo "${0##*/}: PID $pid ignored SIGTERM for ${secs}s: SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || rc=$?
  return $rc
}

# "wan1=up wan2=up cell1=up cell2=up default=wan1,wan2 private=cell1": links
# and active members, from `uplinkctl status --json` ($UPLINKCTL, $SOCK).
summary() {
  "$UPLINKCTL" --socket "$SOCK" status --json 2>/dev/null | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(" ".join([l["name"] + "=" + l["state"] for l in s["links"]] +
               [p["name"] + "=" + ",".join(p["active"]) for p in s["policies"]]))' 2>/dev/null || true
}
