#!/usr/bin/env bash
# private_path_test: the private network (10.200.0.0/16) is reached through the
# private APN first, the VPN second, and never in clear on a public line.
#   private_path_test.sh SOURCE_DIR BUILD_DIR        (ctest: label netns, root)
# Lab: `uplink-lab up --vpn --plain-routing` (a WireGuard hub in core whose
# side reaches the private network; the router also has plain default routes
# in main, as a router with DHCP on its WANs has: what would carry private
# traffic in clear if uplinkd's guard did not stop it). uplinkd drives cell1
# (wwan0, the private APN) and vpn1 (wireguard-go, underlay = policy default:
# wan1, wan2, cell2). leak-watch counts, on the router side of every line,
# every frame with a 10.200.0.0/16 address in clear.
# In order: start-up (private on cell1); private APN cut (-> VPN); underlay
# cut (the tunnel follows the policy by itself: mwan3's openwrt/packages#12800);
# every path down (private dropped, router's own private traffic refused);
# kill -9 in the middle of a failover (guard still in place, then adopted);
# failback after restore; clean stop with daemon.fail_closed (only the guard
# stays); plain stop (the guard goes; the control: leak-watch does see a leak
# then). Zero frames in clear on eth1, eth2, wwan1 throughout; the private
# APN line (wwan0) carries them legitimately. Time bounds derive from the
# configured probe timing, with margin for a busy machine.
set -uo pipefail
FAILED=0
. "$(dirname "$0")/test_lib.sh"
lab_test private_path_test "$@"

P="pp$$"
T=$(mktemp -d /tmp/uplink-private-test.XXXXXX)
LAB="$BUILD/bin/uplink-lab"
WATCH="$SRC/netns-tests/tools/leak-watch"
DAEMON_PID=""
WATCH_PIDS=()
PUBLIC_LINES=(eth1 eth2 wwan1)
export UPLINK_LAB_OWNER=$$

cleanup() {
  set +e
  stop_pid "$DAEMON_PID"
  for pid in "${WATCH_PIDS[@]}"; do stop_pid "$pid"; done
  "$LAB" down --prefix "$P" >/dev/null 2>&1
  if [ "$FAILED" = 0 ]; then rm -rf "$T"; else log "kept $T (uplinkd*.log, leak-*.json)"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

rx() { ip -n "$P-private" -j -s link show "$1" | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['stats64']['rx']['packets'])"; }
# reaches VIA: 40 LAN pings to 10.200.0.1 are answered (>= 36) and arrive at the
# private network by VIA (apn: the private APN; vpn: the hub).
reaches() {
  local before after got
  before=$(rx "$1")
  got=$(ip netns exec "$P-lan" ping -n -q -c 40 -i 0.01 -W 1 10.200.0.1 2>/dev/null | sed -n 's/.* \([0-9]*\) received.*/\1/p')
  after=$(rx "$1")
  [ "${got:-0}" -ge 36 ] && [ $((after - before)) -ge 36 ] || { echo "$1: $got replies, +$((after - before))"; return 1; }
}
unanswered() {  # no LAN ping to the private network is answered
  local got
  got=$(ip netns exec "$P-lan" ping -n -q -c 20 -i 0.01 -W 1 10.200.0.1 2>/dev/null | sed -n 's/.* \([0-9]*\) received.*/\1/p')
  [ "${got:-0}" -eq 0 ]
}
router_refused() {  # the router's own datagram to the private network is refused at the socket:
  # EPERM (the guard dropped it) or no route (the policy's last resort)
  ip netns exec "$P-router" python3 -c "
import errno, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    s.sendto(b'x', ('10.200.0.1', 7)); sys.exit(1)
except OSError as e:
    sys.exit(0 if e.errno in (errno.EPERM, errno.ENETUNREACH, errno.EHOSTUNREACH) else 1)"
}
leaks() {  # LINE: frames with a private address in clear seen on that line so far
  python3 -c "import json; print(json.load(open('$T/leak-$1.json'))['leaks'])"
}
no_leaks() {
  local line n
  for line in "${PUBLIC_LINES[@]}"; do
    n=$(leaks "$line")
    [ "$n" = 0 ] || { fail "$1: $n frames in clear on $line: $(python3 -c "import json; print(json.load(open('$T/leak-$line.json'))['first_leaks'])")"; return 1; }
  done
  log "ok: $1: no private frame in clear on ${PUBLIC_LINES[*]}"
}
# Listings are captured before matching: under pipefail, `nft list ... | grep -q`
# fails when grep exits early and nft takes SIGPIPE on a long table.
router_table() { ip netns exec "$P-router" nft list table inet uplinkd 2>/dev/null; }
guard_loaded() { local t; t=$(router_table) && grep -q "chain private_guard_forward" <<<"$t"; }
event_seen() { local ev; ev=$(ctl events --json) && grep -q "$1" <<<"$ev"; }

# ---- the lab, the leak watchers -------------------------------------------------
log "lab $P up --vpn --plain-routing"
"$LAB" up --prefix "$P" --vpn --plain-routing >"$T/lab.log" 2>&1 || { cat "$T/lab.log"; fail "lab up"; exit 1; }
for line in eth1 eth2 wwan0 wwan1; do
  ip netns exec "$P-wire-$line" "$WATCH" --out "$T/leak-$line.json" --net 10.200.0.0/16 r >"$T/leak-$line.log" 2>&1 &
  WATCH_PIDS+=($!)
done
for line in eth1 eth2 wwan0 wwan1; do wait_for 5 "leak-watch on $line" test -s "$T/leak-$line.json" || exit 1; done
HUB_PUB=$(cat "/run/uplink-lab/$P/vpn/hub.pub")
VPN_IF="${P}vpn"

# ---- uplinkd ----------------------------------------------------------------------
probe() {  # LINK TARGET...
  local link=$1
  shift
  local t
  t=$(printf '"%s", ' "$@")
  cat <<EOF
[links.$link.probe]
method = "icmp"
targets = [${t%, }]
interval = "500ms"
fast_interval = "100ms"
timeout = "300ms"
down_after = 2
up_after = 3
EOF
}
write_config() {  # FAIL_CLOSED
  {
    cat <<EOF
[daemon]
socket = "$T/uplinkd.sock"
state_dir = "$T/state"
hooks_dir = "$T/hooks.d"
log_level = "debug"
fail_closed = $1
EOF
    local n=1 link
    for link in wan1:eth1 wan2:eth2; do
      printf '\n[links.%s]\nkind = "ethernet"\ninterface = "%s"\ngateway = "198.18.%d.1"\n' "${link%:*}" "${link#*:}" "$n"
      probe "${link%:*}" 203.0.113.1 203.0.113.2
      n=$((n + 1))
    done
    cat <<EOF

[links.cell1]                        # the private APN: the private network is behind it
kind = "cellular"
interface = "wwan0"
modem = "none"
gateway = "198.18.3.1"
private_routes = ["10.200.0.0/16"]
EOF
    probe cell1 10.200.0.1
    cat <<EOF

[links.cell2]
kind = "cellular"
interface = "wwan1"
modem = "none"
gateway = "198.18.4.1"
EOF
    probe cell2 203.0.113.1 203.0.113.2
    cat <<EOF

[tunnels.vpn1]
interface = "$VPN_IF"
backend = "wireguard-go"
private_key = "file:/run/uplink-lab/$P/vpn/router.key"
address = ["10.99.0.2/32"]
underlay = "default"
[[tunnels.vpn1.peers]]
public_key = "$HUB_PUB"
endpoint = "203.0.113.50:51820"
allowed_ips = ["10.99.0.0/24", "10.200.0.0/16"]
persistent_keepalive = "5s"

[links.vpn1]
kind = "wireguard"
interface = "$VPN_IF"
tunnel = "vpn1"
EOF
    probe vpn1 10.200.0.1
    cat <<EOF

[policies.default]
mode = "failover"
members = [{ link = "wan1", tier = 1 }, { link = "wan2", tier = 2 }, { link = "cell2", tier = 3 }]

[policies.private]
private = true
mode = "failover"
members = [{ link = "cell1", tier = 1 }, { link = "vpn1", tier = 2 }]
last_resort = "unreachable"

[[rules]]
name = "private"
destination = "10.200.0.0/16"
policy = "private"

[[rules]]
name = "private-router"
local = true
destination = "10.200.0.0/16"
policy = "private"

[[rules]]
name = "all"
policy = "default"
EOF
  } >"$T/uplinkd.toml"
}
start_daemon() {  # LOG
  ip netns exec "$P-router" "$BUILD/bin/uplinkd" --config "$T/uplinkd.toml" >>"$T/$1" 2>&1 &
  DAEMON_PID=$!
  wait_for 10 "uplinkd answers" ctl status
}
write_config false
"$BUILD/bin/uplinkd" --check-config "$T/uplinkd.toml" || { fail "config check"; exit 1; }
start_daemon uplinkd.log || exit 1

# Detection: interval + down_after x timeout (0.5 + 2 x 0.3 s) -> 6 s with margin;
# recovery: up_after rounds + a handshake -> 15 s.
DETECT=6 RECOVER=15

# ---- 1. start-up: private on the private APN, the VPN up as its standby ------------
wait_for "$RECOVER" "cell1 up" is link_field cell1 state up
wait_for "$RECOVER" "vpn1 up (probed through the tunnel)" is link_field vpn1 state up
wait_for 5 "policy private on cell1" active private cell1
wait_for 5 "LAN reaches the private network by the private APN" reaches apn
guard_loaded || fail "the private-traffic guard is not loaded"
no_leaks "start-up"

# ---- 2. private APN cut -> the VPN ------------------------------------------------
"$LAB" fault --prefix "$P" wwan0 blackhole >/dev/null
wait_for "$DETECT" "cell1 down" is link_field cell1 state down
wait_for 3 "policy private on vpn1" active private vpn1
wait_for 5 "LAN reaches the private network through the VPN" reaches vpn
no_leaks "private APN cut"

# ---- 3. the underlay's line cut: the tunnel follows policy default by itself -------
"$LAB" fault --prefix "$P" eth1 blackhole >/dev/null
wait_for "$DETECT" "wan1 down" is link_field wan1 state down
wait_for 3 "policy default on wan2" active default wan2
wait_for 5 "tunnel event underlay_moved" event_seen '"event":"underlay_moved"'
wait_for "$DETECT" "LAN reaches the private network through the VPN over wan2 (no manual step)" reaches vpn
no_leaks "underlay cut"

# ---- 4. every path to the private network down: dropped, never in clear -------------
"$LAB" fault --prefix "$P" eth2 blackhole >/dev/null
"$LAB" fault --prefix "$P" wwan1 blackhole >/dev/null
wait_for "$DETECT" "vpn1 down" is link_field vpn1 state down
wait_for 3 "policy private on its last resort" active private ""
unanswered || fail "private traffic answered with every private path down"
router_refused || fail "the router's own private datagram was not refused"
no_leaks "every private path down"

# ---- 5. kill -9 in the middle of a failover: the guard stays ------------------------
"$LAB" fault --prefix "$P" eth2 clear >/dev/null  # the VPN's underlay returns: private is failing over to vpn1
sleep 0.7
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=""
guard_loaded || fail "the guard is gone after kill -9"
# Whatever the kernel holds now (the VPN or the last resort), nothing leaves in clear.
ip netns exec "$P-lan" ping -n -q -c 20 -i 0.01 -W 1 10.200.0.1 >/dev/null 2>&1
no_leaks "after kill -9"
# Even with uplinkd's rules gone too (someone's `ip rule flush`), the main
# table's plain default (via eth1) cannot carry private traffic in clear.
for fam in -4 -6; do
  for pref in $(ip -n "$P-router" "$fam" rule show | awk -F: '/proto 85/ {print $1}'); do
    ip -n "$P-router" "$fam" rule del pref "$pref"
  done
done
unanswered || fail "private traffic answered with uplinkd dead and its rules gone"
router_refused || fail "the router's own private datagram was not refused with uplinkd dead and its rules gone"
no_leaks "after kill -9 and a rule flush"

# ---- 6. restart (adopts), restore, failback with hysteresis --------------------------
start_daemon uplinkd-2.log || exit 1
guard_loaded || fail "the guard is missing after the restart"
for line in eth1 wwan1 wwan0; do "$LAB" fault --prefix "$P" "$line" clear >/dev/null; done
wait_for "$RECOVER" "cell1 up again" is link_field cell1 state up
wait_for 3 "policy private back on cell1" active private cell1
wait_for 5 "LAN reaches the private network by the private APN again" reaches apn
no_leaks "failback"

# ---- 7. clean stop with fail_closed: the guard alone stays ---------------------------
write_config true
ctl reload >/dev/null || fail "reload with fail_closed = true"
stop_pid "$DAEMON_PID"
DAEMON_PID=""
guard_loaded || fail "fail_closed: the guard did not stay after a clean stop"
TABLE=$(router_table) || fail "fail_closed: the guard's table is gone"
grep -q "chain policy_" <<<"$TABLE" && fail "fail_closed: more than the guard stayed"
RULES=$(ip -n "$P-router" rule show)
grep -q "proto 85" <<<"$RULES" && fail "fail_closed: uplinkd's rules stayed"
# The main table's plain default route (via eth1) would carry it: the guard drops it.
"$LAB" fault --prefix "$P" wwan0 blackhole >/dev/null
unanswered || fail "fail_closed: private traffic answered with uplinkd stopped and the APN down"
router_refused || fail "fail_closed: the router's own private datagram was not refused"
no_leaks "stopped with fail_closed"

# ---- 8. the control: a plain stop removes the guard, and a leak is then seen ---------
write_config false
start_daemon uplinkd-3.log || exit 1
wait_for 5 "uplinkd loaded its table" guard_loaded
stop_pid "$DAEMON_PID"
DAEMON_PID=""
ip netns exec "$P-router" nft list table inet uplinkd >/dev/null 2>&1 && fail "plain stop: uplinkd's table stayed"
ip netns exec "$P-lan" ping -n -q -c 5 -i 0.05 -W 1 10.200.0.1 >/dev/null 2>&1
sleep 0.5  # leak-watch saves every 200 ms
n=$(leaks eth1)
[ "$n" -ge 5 ] || fail "control: leak-watch saw $n frames in clear on eth1 without the guard (the watcher is blind?)"
log "control: without uplinkd's guard, $n private frames left in clear on eth1 (leak-watch sees them)"
[ "$(leaks wwan0)" -gt 0 ] || fail "leak-watch saw no private frame on the private APN line"

grep -qF "$(cat "/run/uplink-lab/$P/vpn/router.key")" "$T"/uplinkd*.log && fail "the tunnel's private key appears in uplinkd's log"

if [ "$FAILED" = 0 ]; then log "private_path_test: PASS"; else log "private_path_test: FAIL"; fi
exit "$FAILED"
