# Shared by the shell scenario tests (sourced): logging, failure flag, bounded
# polling, stopping a process we started by its PID.
#   FAILED=0; . "$(dirname "$0")/test_lib.sh"
log() { echo "[$(date +%T.%3N)] $*"; }
fail() { log "FAIL: $*"; FAILED=1; }
# stop_pid PID: TERM, then KILL after 5 s.
stop_pid() {
  local pid=$1 i
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}
# wait_for SECONDS WHAT CMD...: polls CMD every 0.1 s; on timeout a failure naming WHAT and the bound.
wait_for() {
  local limit=$1 what=$2 start=$SECONDS
  shift 2
  while ! "$@" >/dev/null 2>&1; do
    if [ $((SECONDS - start)) -ge "$limit" ]; then fail "$what: not within ${limit}s"; return 1; fi
    sleep 0.1
  done
  log "ok: $what ($((SECONDS - start))s)"
}
