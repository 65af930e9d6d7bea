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
# lab_test NAME SOURCE_DIR BUILD_DIR: sets SRC and BUILD, then need_lab NAME.
lab_test() {
  [ $# -eq 3 ] || { echo "usage: $1.sh SOURCE_DIR BUILD_DIR"; exit 2; }
  SRC=$2 BUILD=$3
  need_lab "$1"
}
# need_lab NAME: root, and uplinkd, uplinkctl, uplink-lab built in $BUILD; else NAME: FAIL and exit 1.
need_lab() {
  local b
  if [ "$(id -u)" -ne 0 ]; then echo "$1: FAIL: needs root (network namespaces)"; exit 1; fi
  for b in uplinkd uplinkctl uplink-lab; do
    [ -x "$BUILD/bin/$b" ] || { echo "$1: FAIL: $BUILD/bin/$b not built"; exit 1; }
  done
}
# uplinkd of the test, on $T/uplinkd.sock.
ctl() { "$BUILD/bin/uplinkctl" --socket "$T/uplinkd.sock" "$@"; }
link_field() {  # LINK FIELD of `uplinkctl status --json`
  ctl status --json | python3 -c "import json,sys; print([l for l in json.load(sys.stdin)['links'] if l['name']=='$1'][0]['$2'])"
}
is() { [ "$("$1" "$2" "$3")" = "$4" ]; }  # is link_field cell1 state up
active() {  # POLICY LINKS: the policy's active links are LINKS (comma-separated)
  [ "$(ctl status --json | python3 -c "import json,sys; print(','.join([p for p in json.load(sys.stdin)['policies'] if p['name']=='$1'][0]['active']))")" = "$2" ]
}
