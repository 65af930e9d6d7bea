#!/usr/bin/env bash
# Runs the libFuzzer targets (fuzz/README.md): builds them with clang in
# build-fuzz (-DUPLINK_FUZZ=ON: ASan + UBSan + coverage), then runs them one
# after another, each for a fixed time or number of executions, on a scratch
# copy of its corpus (the repository's seeds never grow), and prints per
# target: executions, exec/s, crashes.
#
#   scripts/fuzz.sh [--time SECONDS] [--runs N] [TARGET...]
#
#   --time S   run each target S seconds (default 30 unless --runs is given)
#   --runs N   run each target N executions (libFuzzer -runs=N); with --time
#              too, whichever comes first
#   TARGET     config_fuzz, protocol_fuzz, ... (default: every target)
#
# Environment: FUZZ_BUILD (default build-fuzz), JOBS (ninja, default 2),
# FUZZ_ARGS (more libFuzzer options, e.g. "-max_len=65536").
# A finding is left in build-fuzz/fuzz-out/TARGET/artifacts/ (crash-*, leak-*,
# timeout-*, oom-*); rerun it with `BINARY FILE`, or in a gcc build with
# `NAME_replay FILE`. Exit status 1 when any target found one.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${FUZZ_BUILD:-build-fuzz}
time_s=
runs=
targets=()
while (($#)); do
  case $1 in
    --time) time_s=${2:?--time wants seconds}; shift 2 ;;
    --runs) runs=${2:?--runs wants a number}; shift 2 ;;
    -h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done

if ! command -v clang++ >/dev/null; then
  echo "fuzz.sh: needs clang with its libFuzzer runtime: apt-get install clang" >&2
  exit 2
fi
if [[ ! -f $BUILD/CMakeCache.txt ]]; then
  CC=clang CXX=clang++ cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DUPLINK_FUZZ=ON >/dev/null
fi
if ((${#targets[@]} == 0)); then
  for f in "$BUILD"/fuzz/*.sh; do targets+=("$(basename "$f" .sh)"); done
fi
for t in "${targets[@]}"; do
  if [[ ! -f $BUILD/fuzz/$t.sh ]]; then
    known=$(find "$BUILD/fuzz" -name '*.sh' -printf '%f ' | sed 's/\.sh//g')
    echo "fuzz.sh: no fuzz target '$t' (known: $known)" >&2
    exit 2
  fi
done
nice -n 10 ninja -C "$BUILD" -j "${JOBS:-2}" "${targets[@]}"

stat() { sed -n "s/^stat::$1: *//p" "$2" | tail -1; }
found=0
rows=()
for t in "${targets[@]}"; do
  binary='' corpus=() dict=
  # shellcheck disable=SC1090  # written by cmake/UplinkFuzz.cmake
  source "$BUILD/fuzz/$t.sh"
  out=$BUILD/fuzz-out/$t
  rm -rf "$out"
  mkdir -p "$out/corpus" "$out/artifacts"
  n=0
  while IFS= read -r -d '' f; do  # flattened; numbered so equal names do not collide
    cp "$f" "$out/corpus/$(printf %04d $n)-$(basename "$f")"
    n=$((n + 1))
  done < <(find "${corpus[@]}" -type f -print0 | sort -z)
  opts=(-artifact_prefix="$out/artifacts/" -print_final_stats=1 -timeout=10)
  [[ -n $dict ]] && opts+=(-dict="$dict")
  [[ -n $runs ]] && opts+=(-runs="$runs")
  [[ -n $time_s || -z $runs ]] && opts+=(-max_total_time="${time_s:-30}")
  # shellcheck disable=SC2206  # FUZZ_ARGS is split on purpose
  opts+=(${FUZZ_ARGS:-})
  echo "== $t: $n seeds; $binary ${opts[*]} $out/corpus" >&2
  start=$(date +%s)
  rc=0
  nice -n 10 "$binary" "${opts[@]}" "$out/corpus" >"$out/log" 2>&1 || rc=$?
  secs=$(($(date +%s) - start))
  # slow-unit-* files are only reports (a unit over 10 s, e.g. on a stalled machine)
  crashes=$(find "$out/artifacts" -type f ! -name 'slow-unit-*' | wc -l)
  if ((rc != 0 || crashes > 0)); then
    found=1
    echo "== $t: FOUND SOMETHING (exit $rc), see $out/log:" >&2
    grep -m 5 -E "ERROR|runtime error|SUMMARY|Test unit written" "$out/log" >&2 || tail -20 "$out/log" >&2
  fi
  rows+=("$(printf '%-15s %14s %10s %8s %8s' "$t" "$(stat number_of_executed_units "$out/log")" \
    "$(stat average_exec_per_sec "$out/log")" "$crashes" "${secs}s")")
done
printf '%-15s %14s %10s %8s %8s\n' target executions exec/s crashes time
printf '%s\n' "${rows[@]}"
exit $found
