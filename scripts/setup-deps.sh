#!/usr/bin/env bash
# Installs every Debian 12 package that the build, the tests and the lab need.
# Idempotent: re-running installs nothing new. Needs root (or sudo).
#   scripts/setup-deps.sh              the native set
#   scripts/setup-deps.sh --arch arm64 plus the arm64 cross toolchain, qemu-user, arm64 libraries
set -euo pipefail

PKGS=(
  # toolchain
  build-essential cmake ninja-build pkg-config git
  # scripts/package.sh: dpkg-shlibdeps (the package's Depends), file(1) for cpack
  dpkg-dev file
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

# --arch arm64: the cross toolchain, qemu-user and the arm64 (multiarch) builds
# of every library above, beside the native ones (scripts/package.sh --arch
# arm64, scripts/test.sh --arch arm64 --unit). --no-remove: apt may upgrade a
# native library to keep both architectures at one version, never remove one.
if [ "${1:-}" = "--arch" ]; then
  [ "${2:-}" = arm64 ] || { echo "setup-deps: --arch takes arm64" >&2; exit 2; }
  "$0"  # the native set first (headers-only and tool packages serve both)
  CROSS=(crossbuild-essential-arm64 qemu-user-static)
  for p in libboost-dev libnl-3-dev libnl-route-3-dev libnl-genl-3-dev libnftables-dev libnetfilter-conntrack-dev \
           libmnl-dev libmm-glib-dev libglib2.0-dev libspdlog-dev libfmt-dev libgtest-dev libgmock-dev \
           libtomlplusplus-dev libmosquitto-dev libsqlite3-dev libsodium-dev; do
    CROSS+=("$p:arm64")
  done
  missing=()
  for p in "${CROSS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ "${#missing[@]}" -eq 0 ] && { echo "setup-deps: arm64 cross set already installed"; exit 0; }
  echo "setup-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  dpkg --print-foreign-architectures | grep -qx arm64 || $SUDO dpkg --add-architecture arm64
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-remove --no-install-recommends "${missing[@]}"
  exit 0
fi

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
