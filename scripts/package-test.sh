#!/usr/bin/env bash
# Installs a built uplinkd package on this machine, checks it, removes it and
# purges it (CI, as root; scripts/test.sh runs it after the suite):
#   scripts/package-test.sh build/uplinkd_VERSION_ARCH.deb
# Checks: the service unit passes `systemd-analyze verify`; the shipped
# /etc/uplinkd/uplinkd.toml passes `uplinkd --check-config`; `uplinkctl --help`
# works; users, groups and directories exist; after `dpkg -r` nothing of the
# package is left but its conffile; after `dpkg -P` nothing at all. The
# package never starts the service (postinst), so nothing touches the
# machine's routing. Refuses to run where uplinkd is already installed.
set -euo pipefail
DEB=$(realpath "${1:?usage: package-test.sh PACKAGE.deb}")
CONF=/etc/uplinkd/uplinkd.toml
UNIT=/usr/lib/systemd/system/uplinkd.service

fail() { echo "package-test: FAIL: $*" >&2; exit 1; }
ok() { echo "package-test: ok: $*"; }
[ "$(id -u)" -eq 0 ] || fail "needs root (dpkg)"
if dpkg-query -W -f='${Status}' uplinkd 2>/dev/null | grep -q "ok installed\|config-files"; then
  fail "a package named uplinkd is already on this machine; remove it first (dpkg -P uplinkd)"
fi

INSTALLED=0
cleanup() {  # also on failure: the machine is left as it was
  if [ "$INSTALLED" = 1 ]; then dpkg -P uplinkd >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

# apt resolves the Depends line (the libraries dpkg-shlibdeps found) from the archive.
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$DEB" >/dev/null ||
  fail "apt-get install $DEB"
INSTALLED=1
VERSION=$(dpkg-query -W -f='${Version}' uplinkd)
ok "installed uplinkd $VERSION ($(dpkg-query -W -f='${Installed-Size}' uplinkd) KiB)"

OUT=$(uplinkd --check-config "$CONF") || fail "uplinkd --check-config $CONF: $OUT"
[ "$OUT" = "$CONF: ok" ] || fail "check-config said: $OUT"
ok "uplinkd --check-config $CONF"
uplinkctl --help >/dev/null || fail "uplinkctl --help"
uplinkd --help >/dev/null || fail "uplinkd --help"
[ "$(uplinkd --version)" = "uplinkd ${VERSION%%-*}" ] || fail "uplinkd --version: $(uplinkd --version)"
OUT=$(printf 'timestamp,value\n2026-01-01 00:00:00,1\n' | uplink-anomaly score -) || fail "uplink-anomaly score"
[ "$(head -1 <<<"$OUT")" = "timestamp,value,anomaly_score,label" ] || fail "uplink-anomaly output: $OUT"
[ -x /usr/lib/uplinkd/uplink-plugin-host ] || fail "no plugin host"
[ -f /usr/lib/uplinkd/plugins/libuplink_anomaly.so ] || fail "no anomaly plugin"
ok "uplinkctl --help, uplinkd --version, uplink-anomaly, plugin host and plugin"

[ "$(stat -c %a "$CONF")" = 600 ] || fail "$CONF is mode $(stat -c %a "$CONF"), not 0600 (it may hold secrets)"
for g in uplinkd uplinkd-admin; do getent group "$g" >/dev/null || fail "group $g missing"; done
getent passwd uplink-plugin >/dev/null || fail "user uplink-plugin missing"
[ -d /var/lib/uplinkd ] || fail "/var/lib/uplinkd missing"
ok "conffile 0600, groups uplinkd and uplinkd-admin, user uplink-plugin, /var/lib/uplinkd"

# verify loads the unit as systemd would (paths, sections, directives) and
# prints every problem; units we do not ship (ModemManager) may be absent here.
VERIFY=$(systemd-analyze verify "$UNIT" 2>&1 | grep -v -E "ModemManager.service|^$" || true)
[ -z "$VERIFY" ] || fail "systemd-analyze verify $UNIT: $VERIFY"
ok "systemd-analyze verify $UNIT"

mapfile -t FILES < <(dpkg -L uplinkd)
dpkg -r uplinkd >/dev/null || fail "dpkg -r"
left=()
for f in "${FILES[@]}"; do
  [ "$f" = "$CONF" ] && continue
  if [ -f "$f" ] || [ -L "$f" ]; then left+=("$f"); fi
done
[ ${#left[@]} -eq 0 ] || fail "dpkg -r left: ${left[*]}"
[ -f "$CONF" ] || fail "dpkg -r removed the conffile"
for d in /usr/lib/uplinkd /usr/share/doc/uplinkd /usr/share/uplinkd; do [ ! -e "$d" ] || fail "dpkg -r left $d"; done
ok "dpkg -r: nothing left but $CONF"

dpkg -P uplinkd >/dev/null || fail "dpkg -P"
INSTALLED=0
for p in "$CONF" /etc/uplinkd /var/lib/uplinkd; do [ ! -e "$p" ] || fail "dpkg -P left $p"; done
ok "dpkg -P: nothing left"
