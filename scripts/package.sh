#!/usr/bin/env bash
# Builds the Debian package: build/uplinkd_VERSION_ARCH.deb (packaging/README.md).
#   scripts/package.sh                 release build (-O2) of the installed programs in
#                                      build-pkg, then the package
#   scripts/package.sh --from DIR      package an existing, built tree instead, of whatever
#                                      architecture it was configured for (CI packages the
#                                      tree it has just tested)
#   scripts/package.sh --arch arm64    cross-build for arm64 in build-arm64 (the tree
#                                      `scripts/test.sh --arch arm64 --unit` tests) with
#                                      Debian's cross toolchain and multiarch libraries
# Installs what it needs (Debian 12, root or sudo). Prints the package's path last.
set -euo pipefail
cd "$(dirname "$0")/.."

ARCH=$(dpkg --print-architecture)
FROM=""
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) ARCH=${2:?--arch needs amd64 or arm64}; shift 2 ;;
    --from) FROM=${2:?--from needs a build directory}; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "package.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
NATIVE=$(dpkg --print-architecture)
if [ "$ARCH" != "$NATIVE" ] && [ "$ARCH" != arm64 ]; then
  echo "package.sh: --arch is $NATIVE (native) or arm64" >&2
  exit 2
fi

scripts/setup-deps.sh >/dev/null  # dpkg-dev (dpkg-shlibdeps) and file(1) for cpack among them

TARGETS=(uplinkd uplinkctl uplink-plugin-host uplink-anomaly uplink_anomaly_plugin)
if [ -n "$FROM" ]; then
  BUILD=$FROM
  [ -f "$BUILD/build.ninja" ] || { echo "package.sh: $BUILD is not a configured build tree" >&2; exit 1; }
  ninja -C "$BUILD" "${TARGETS[@]}" >/dev/null  # re-runs cmake if a CMakeLists.txt changed
  [ -f "$BUILD/CPackConfig.cmake" ] || { echo "package.sh: $BUILD has no CPack configuration" >&2; exit 1; }
elif [ "$ARCH" = "$NATIVE" ]; then
  BUILD=build-pkg
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DUPLINK_OPT_LEVEL=2 >/dev/null
  ninja -C "$BUILD" "${TARGETS[@]}"
else
  scripts/setup-deps.sh --arch "$ARCH"
  BUILD=build-$ARCH  # the tree `scripts/test.sh --arch arm64 --unit` builds and tests
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DUPLINK_OPT_LEVEL=2 \
    -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/toolchain-$ARCH.cmake" >/dev/null
  ninja -C "$BUILD" "${TARGETS[@]}"
fi

OUT="$BUILD/package"
rm -rf "$OUT"
# cpack runs dpkg-shlibdeps over the stripped binaries: the Depends line is
# what they link, for the package's architecture.
(cd "$BUILD" && cpack -G DEB -B "$PWD/package" >/dev/null) || {
  echo "package.sh: cpack failed; its log:" >&2
  cat "$OUT"/_CPack_Packages/*/DEB/*.log 2>/dev/null | tail -40 >&2 || true
  exit 1
}
mkdir -p build
DEB=$(ls "$OUT"/uplinkd_*.deb)
cp "$DEB" build/
echo "build/$(basename "$DEB")"
