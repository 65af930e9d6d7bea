#!/usr/bin/env bash
# Runs every test on a fresh Debian 12 machine: installs dependencies, builds
# twice (release with scenario tests; ASan+UBSan for the unit tests, compiled
# at nice 19 while the scenario suite runs), runs all, then builds the Debian
# package of the tested tree and installs, checks and purges it.
#   scripts/test.sh            everything (needs root for the netns scenario tests)
#   scripts/test.sh --unit     unit tests only (normal + sanitizer build)
#   scripts/test.sh --no-asan  skip the sanitizer build
#   scripts/test.sh --stress   the scenario (netns) suite only, while two CPU-bound
#                              processes run at nice 0 (a busy router); no sanitizer build
#   scripts/test.sh --arch arm64 --unit   cross-builds for arm64 (build-arm64) and runs
#                              the unit tests under qemu-user
# A skipped test fails the run (a scenario test that could not run is not a
# pass) unless it is named, with its reason, in scripts/allowed-skips.txt.
# The last lines count the skipped tests. Env: BUILD_DIR (build), ASAN_BUILD_DIR
# (build-asan), JOBS (nproc), OPT_LEVEL (1; 2 for a release-like build).
set -euo pipefail
cd "$(dirname "$0")/.."

UNIT_ONLY=0
ASAN=1
STRESS=0
ARCH=""
while [ $# -gt 0 ]; do
  case "$1" in
    --unit) UNIT_ONLY=1 ;;
    --no-asan) ASAN=0 ;;
    --stress) STRESS=1 ASAN=0 ;;
    --arch) ARCH=${2:-}; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
if [ -n "$ARCH" ]; then
  # Cross: build the unit tests for ARCH and run them under qemu-user.
  if [ "$ARCH" != arm64 ] || [ "$UNIT_ONLY" = 0 ]; then
    echo "test.sh: --arch arm64 goes with --unit (the netns suite runs natively)" >&2
    exit 2
  fi
  T0=$SECONDS
  BUILD="${BUILD_DIR:-build-arm64}"
  scripts/setup-deps.sh --arch arm64
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DUPLINK_OPT_LEVEL=2 \
    -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/toolchain-arm64.cmake" >/dev/null
  mapfile -t unit_targets < <(ctest --test-dir "$BUILD" -L unit -N | sed -n 's/^ *Test *#[0-9]*: //p')
  ninja -C "$BUILD" -j "${JOBS:-$(nproc)}" "${unit_targets[@]}" uplinkd uplinkctl uplink-plugin-host uplink-anomaly
  echo "-- arm64 build done at +$((SECONDS - T0))s"
  for b in bin/uplinkd bin/uplinkctl bin/uplink-plugin-host bin/uplink-anomaly; do
    printf '%-24s %s\n' "$b" "$(file -b "$BUILD/$b" | cut -d, -f1-2), $(stat -c %s "$BUILD/$b") bytes"
  done
  echo "== unit tests (arm64, under qemu-aarch64-static)"
  ctest --test-dir "$BUILD" -L unit --output-on-failure -j "${JOBS:-$(nproc)}"
  exit $?
fi
if [ "$STRESS" = 1 ] && [ "$UNIT_ONLY" = 1 ]; then
  echo "test.sh: --stress runs the netns suite; it does not go with --unit" >&2
  exit 2
fi
if [ "$UNIT_ONLY" = 0 ] && [ "$(id -u)" -ne 0 ]; then
  echo "test.sh: the netns scenario tests need root; run with sudo or pass --unit" >&2
  exit 2
fi

JOBS="${JOBS:-$(nproc)}"
BUILD="${BUILD_DIR:-build}"
ASAN_BUILD="${ASAN_BUILD_DIR:-build-asan}"
ALLOWED_SKIPS=scripts/allowed-skips.txt

T0=$SECONDS
phase() { echo "-- $1 done at +$((SECONDS - T0))s"; }

RESULTS=$(mktemp -d /tmp/uplink-test.XXXXXX)
HOG_PIDS=()
ASAN_PID=""  # the background sanitizer build: its own session, stopped as a group
cleanup() {
  local pid
  set +e
  for pid in "${HOG_PIDS[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  [ -n "$ASAN_PID" ] && { kill -- "-$ASAN_PID" 2>/dev/null; wait "$ASAN_PID" 2>/dev/null; }
  rm -rf "$RESULTS"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# One ctest run: every GoogleTest executable writes its results as JSON
# (GTEST_OUTPUT), so a GTEST_SKIP inside an executable that ctest reports as
# passed is still seen; ctest's own "Skipped"/"Not Run" come from its output.
# (ctest's SKIP_REGULAR_EXPRESSION is not used: a skip would hide a failure
# of the same executable.)
RUN=0
run_ctest() {
  RUN=$((RUN + 1))
  local dir="$RESULTS/run$RUN" rc=0
  mkdir -p "$dir/gtest"
  GTEST_OUTPUT="json:$dir/gtest/" ctest "$@" 2>&1 | tee "$dir/ctest.log" || rc=$?
  return $rc
}

# Lists every skipped test of every run so far, checks it against
# scripts/allowed-skips.txt (lines: NAME REASON...; NAME is a ctest test or a
# GoogleTest Suite.Test; # comments), prints the count; fails on any other skip.
check_skips() {
  python3 - "$RESULTS" "$ALLOWED_SKIPS" <<'PY'
import glob, json, os, re, sys
results, allowed_path = sys.argv[1], sys.argv[2]
allowed, bad_lines = {}, []
try:
    for n, line in enumerate(open(allowed_path), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split(None, 1)
        if len(parts) < 2:
            bad_lines.append(f"{allowed_path}:{n}: '{parts[0]}' has no reason")
        else:
            allowed[parts[0]] = parts[1]
except OSError:
    pass
skipped = []  # (ctest name, name as listed, what)
for run in sorted(glob.glob(os.path.join(results, "run*"))):
    try:
        log = open(os.path.join(run, "ctest.log"), errors="replace").read()
    except OSError:
        log = ""
    for m in re.finditer(r"Test\s+#\d+: (\S+) \.*\s*\*+(Skipped|Not Run)", log):
        skipped.append((m.group(1), m.group(1), f"ctest: {m.group(2)}"))
    for path in sorted(glob.glob(os.path.join(run, "gtest", "*.json"))):
        exe = os.path.basename(path)[:-len(".json")]
        try:
            doc = json.load(open(path))
        except (OSError, ValueError):
            continue  # a crashed executable: ctest has failed it already
        for suite in doc.get("testsuites", []):
            for case in suite.get("testsuite", []):
                if case.get("result") == "SKIPPED":  # its message is in the ctest output above
                    skipped.append((exe, f"{suite.get('name')}.{case.get('name')}", "gtest: skipped"))
ok = []
not_ok = []
for exe, name, what in skipped:
    if name in allowed or exe in allowed:
        ok.append(f"  {exe} {name}: {what}; allowed: {allowed.get(name) or allowed.get(exe)}")
    else:
        not_ok.append(f"  {exe} {name}: {what}")
print(f"== skipped tests: {len(skipped)} ({len(ok)} allowed by {allowed_path}, {len(not_ok)} not)")
for l in ok + not_ok:
    print(l)
for l in bad_lines:
    print("  " + l)
if not_ok:
    print(f"test.sh: a skipped test is a test that did not run; fix it, or name it with its reason in {allowed_path}")
sys.exit(1 if (not_ok or bad_lines) else 0)
PY
}

echo "== dependencies"
scripts/setup-deps.sh
phase "dependencies"

echo "== build ($BUILD)"
# -O1: a quarter less compile time than a release's -O2, the same behaviour
# (benchmarks are run from an -O2 build: the README says how).
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DUPLINK_OPT_LEVEL="${OPT_LEVEL:-1}" >/dev/null
ninja -C "$BUILD" -j "$JOBS"
phase "build"

status=0
# The sanitizer build (only what the unit tests need: each unit test is named
# after its executable). In a full run it compiles at nice 19 *while* the
# scenario suite runs (which mostly waits on timers and probes): the suite's
# bounds hold on a busy machine (--stress runs it beside two CPU hogs at
# nice 0), and the whole run is ~6 minutes shorter.
asan_build() {
  cmake -S . -B "$ASAN_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DUPLINK_SANITIZE=ON >/dev/null &&
    mapfile -t unit_targets < <(ctest --test-dir "$ASAN_BUILD" -L unit -N | sed -n 's/^ *Test *#[0-9]*: //p') &&
    ninja -C "$ASAN_BUILD" -j "$JOBS" "${unit_targets[@]}"
}
asan_tests() {
  echo "== unit tests under ASan+UBSan"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_ctest --test-dir "$ASAN_BUILD" -L unit --output-on-failure -j "$JOBS" || status=1
}
ASAN_LOG="$RESULTS/asan-build.log"
if [ "$ASAN" = 1 ] && [ "$UNIT_ONLY" = 0 ] && [ "$STRESS" = 0 ]; then
  echo "== build ($ASAN_BUILD, AddressSanitizer + UndefinedBehaviorSanitizer) at nice 19, beside the tests; log: the end of this run"
  setsid nice -n 19 bash -c "$(declare -f asan_build); ASAN_BUILD='$ASAN_BUILD' JOBS='$JOBS' asan_build" >"$ASAN_LOG" 2>&1 &
  ASAN_PID=$!
elif [ "$ASAN" = 1 ]; then
  echo "== build ($ASAN_BUILD, AddressSanitizer + UndefinedBehaviorSanitizer)"
  asan_build
  phase "sanitizer build"
  asan_tests
fi

if [ "$UNIT_ONLY" = 1 ]; then
  echo "== unit tests"
  run_ctest --test-dir "$BUILD" -L unit --output-on-failure -j "$JOBS" || status=1
elif [ "$STRESS" = 1 ]; then
  # A busy router: two CPU-bound processes at nice 0 (as many as the cores of
  # the machines we test on) for the whole scenario suite. Started and stopped
  # by their PIDs.
  for _ in 1 2; do
    nice -n 0 yes >/dev/null &
    HOG_PIDS+=($!)
    renice -n 0 -p "$!" >/dev/null   # nice 0 even when this script runs niced
  done
  echo "== netns scenario tests under load: 2 CPU hogs (PIDs ${HOG_PIDS[*]}, nice 0), tests at nice $(nice)"
  run_ctest --test-dir "$BUILD" -L netns --output-on-failure -j 1 || status=1
  for pid in "${HOG_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  HOG_PIDS=()
else
  echo "== all tests (unit + netns scenario tests)"
  # One ctest run so its closing line counts every test. Scenario tests build
  # whole labs and measure timing, so tests run one at a time.
  run_ctest --test-dir "$BUILD" --output-on-failure -j 1 || status=1
fi
phase "tests"
if [ "$UNIT_ONLY" = 0 ] && [ "$STRESS" = 0 ]; then
  # The package of the tree just tested: installed on this machine, checked,
  # removed and purged (it never starts the service).
  echo "== package: scripts/package.sh --from $BUILD, then scripts/package-test.sh"
  if DEB=$(scripts/package.sh --from "$BUILD" | tail -1) && scripts/package-test.sh "$DEB"; then
    phase "package"
  else
    echo "== package test FAILED"
    status=1
  fi
fi
if [ -n "$ASAN_PID" ]; then
  if wait "$ASAN_PID"; then
    tail -1 "$ASAN_LOG"
    phase "sanitizer build"
    asan_tests
  else
    echo "== sanitizer build FAILED:"
    tail -40 "$ASAN_LOG"
    status=1
  fi
  ASAN_PID=""
fi
check_skips || status=1
exit $status
