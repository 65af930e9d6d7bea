#!/usr/bin/env bash
# Installs every Debian 12 package that the build, the tests and the lab need.
# Idempotent: re-running installs nothing new. Needs root (or sudo).
set -euo pipefail

PKGS=(
  # toolchain
  build-essential cmake ninja-build pkg-config git
  # libraries (see README "Dependencies" for why each one)
  libboost-dev libboost-system-dev
  libnl-3-dev libnl-route-3-dev libnl-genl-3-dev
  libnftables-dev libnetfilter-conntrack-dev libmnl-dev
  libmm-glib-dev libglib2.0-dev
  libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev
  libtomlplusplus-dev libcli11-dev nlohmann-json3-dev
  libmosquitto-dev libsqlite3-dev libsodium-dev
  # runtime tools used by the lab and the scenario tests (never by the daemon)
  iproute2 nftables conntrack iputils-ping procps psmisc ethtool
  wireguard-go wireguard-tools mosquitto mosquitto-clients
  dbus python3-dbus python3-dbusmock modemmanager
  # netns-tests/tools/fake-mm and its test (libmm-glib through GI; mmcli is in modemmanager)
  python3-gi gir1.2-modemmanager-1.0
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "setup-deps: all ${#PKGS[@]} packages already installed"
  exit 0
fi

echo "setup-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
