#!/usr/bin/env bash
# Runs every test on a fresh Debian 12 machine: installs dependencies, builds
# twice (release with scenario tests; ASan+UBSan for the unit tests), runs all.
#   scripts/test.sh            everything (needs root for the netns scenario tests)
#   scripts/test.sh --unit     unit tests only (normal + sanitizer build)
#   scripts/test.sh --no-asan  skip the sanitizer build
set -euo pipefail
cd "$(dirname "$0")/.."

UNIT_ONLY=0
ASAN=1
for a in "$@"; do
  case "$a" in
    --unit) UNIT_ONLY=1 ;;
    --no-asan) ASAN=0 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown option $a" >&2; exit 2 ;;
  esac
done

JOBS="${JOBS:-$(nproc)}"
BUILD="${BUILD_DIR:-build}"
ASAN_BUILD="${ASAN_BUILD_DIR:-build-asan}"

T0=$SECONDS
phase() { echo "-- $1 done at +$((SECONDS - T0))s"; }

echo "== dependencies"
scripts/setup-deps.sh
phase "dependencies"

echo "== build ($BUILD)"
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C "$BUILD" -j "$JOBS"
phase "build"

status=0
if [ "$ASAN" = 1 ]; then
  echo "== build ($ASAN_BUILD, AddressSanitizer + UndefinedBehaviorSanitizer)"
  cmake -S . -B "$ASAN_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DUPLINK_SANITIZE=ON >/dev/null
  # Only what the unit tests need: each unit test is named after its executable.
  mapfile -t unit_targets < <(ctest --test-dir "$ASAN_BUILD" -L unit -N | sed -n 's/^ *Test *#[0-9]*: //p')
  ninja -C "$ASAN_BUILD" -j "$JOBS" "${unit_targets[@]}"
  phase "sanitizer build"
  echo "== unit tests under ASan+UBSan"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$ASAN_BUILD" -L unit --output-on-failure -j "$JOBS" || status=1
fi

if [ "$UNIT_ONLY" = 1 ]; then
  echo "== unit tests"
  ctest --test-dir "$BUILD" -L unit --output-on-failure -j "$JOBS" || status=1
else
  if [ "$(id -u)" -ne 0 ]; then
    echo "test.sh: the netns scenario tests need root; run with sudo or pass --unit" >&2
    exit 2
  fi
  echo "== all tests (unit + netns scenario tests)"
  # One ctest run so its closing line counts every test. Scenario tests build
  # whole labs and measure timing, so tests run one at a time.
  ctest --test-dir "$BUILD" --output-on-failure -j 1 || status=1
fi
phase "tests"
exit $status
