#!/usr/bin/env bash
# `make fuzz`: builds the libFuzzer targets (release, AddressSanitizer) and runs each for FUZZ_SECONDS.
#
#   Fuzz/fuzz.sh                      every target, FUZZ_SECONDS (default 120) each
#   Fuzz/fuzz.sh timespan redis-url   only these targets
#
# Each run starts from a fresh copy of Fuzz/Corpus/<target> under .build-fuzz/runs/<target>/ (the repository
# stays clean); inputs libFuzzer finds interesting accumulate there for this run only. Exits non-zero if any
# target crashed, tripped AddressSanitizer, timed out on an input or ran out of memory: the input that did it
# is left in .build-fuzz/runs/<target>/artifacts/ and printed. Replay one with
#   .build-fuzz/x86_64-unknown-linux-gnu/release/fuzz-<target> <file>
set -euo pipefail

cd "$(dirname "$0")"
FUZZ_SECONDS=${FUZZ_SECONDS:-120}
FUZZ_RSS_MB=${FUZZ_RSS_MB:-2048}        # per target; a parser that needs more on a small input is a bug
FUZZ_INPUT_TIMEOUT=${FUZZ_INPUT_TIMEOUT:-10}   # seconds for one input, under ASan, on a loaded machine
SWIFT=${SWIFT:-swift}
SCRATCH=../.build-fuzz
# Swift's own crash backtracer would race libFuzzer's handler (and trips ASan); libFuzzer prints the trace.
export SWIFT_BACKTRACE=enable=no
RUNS=$SCRATCH/runs

all=(config-loader kubeconfig timespan redis-url watch-event kube-status yaml worker-event unacked-entry)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")
for t in "${targets[@]}"; do
  [ -d "Corpus/$t" ] || { echo "fuzz.sh: unknown target \"$t\"; the targets are: ${all[*]}" >&2; exit 2; }
done

# Longest input per target, and the dictionary that helps it form valid syntax.
max_len() { case $1 in config-loader | kubeconfig) echo 8192 ;; yaml) echo 4096 ;; watch-event | kube-status | worker-event | unacked-entry) echo 4096 ;; *) echo 256 ;; esac; }
dict() { case $1 in config-loader | kubeconfig | yaml) echo Dictionaries/yaml.dict ;; watch-event | kube-status | worker-event | unacked-entry) echo Dictionaries/json.dict ;; *) echo "" ;; esac; }

# -sanitize=fuzzer instruments the Swift code (batchctl's modules, its YAML composer included) for coverage
# and links libFuzzer; address adds AddressSanitizer. libyaml itself is the system's, not instrumented.
# -Xswiftc reaches the build machine's tools too (the @MemberwiseInit compiler plugin): ld.gold fails on that
# instrumented executable ("internal error in format_file_lineno"), so everything links with lld.
echo "== building ${targets[*]} (release, -sanitize=fuzzer,address) into .build-fuzz"
for p in "${targets[@]}"; do
  log=$(mktemp)
  if ! $SWIFT build -c release --scratch-path "$SCRATCH" \
      -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld --product "fuzz-$p" > "$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"
    echo "fuzz.sh: building fuzz-$p failed" >&2
    exit 2
  fi
  grep -E '^(Build of|Compiling|Linking)' "$log" | tail -1 || true
  rm -f "$log"
done
BIN=$($SWIFT build -c release --scratch-path "$SCRATCH" --show-bin-path)

summary=()
failed=()
for t in "${targets[@]}"; do
  dir=$RUNS/$t
  rm -rf "$dir"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp Corpus/"$t"/* "$dir/corpus/"
  seeds=$(ls "$dir/corpus" | wc -l)
  args=(-max_total_time="$FUZZ_SECONDS" -rss_limit_mb="$FUZZ_RSS_MB" -timeout="$FUZZ_INPUT_TIMEOUT"
        -max_len="$(max_len "$t")" -print_final_stats=1 -artifact_prefix="$dir/artifacts/")
  d=$(dict "$t")
  [ -n "$d" ] && args+=(-dict="$d")
  echo "== fuzz-$t: ${FUZZ_SECONDS}s from $seeds seeds (log: .build-fuzz/runs/$t/fuzz.log)"
  status=0
  "$BIN/fuzz-$t" "${args[@]}" "$dir/corpus" > "$dir/fuzz.log" 2>&1 || status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/fuzz.log" | tail -1)
  corpus=$(ls "$dir/corpus" | wc -l)
  artifacts=$(ls "$dir/artifacts" | wc -l)
  line=$(printf '%-14s %12s execs  corpus %5s (from %s seeds)  crashes %s' "$t" "${execs:-?}" "$corpus" "$seeds" "$artifacts")
  if [ "$status" -ne 0 ] || [ "$artifacts" -ne 0 ]; then
    line="$line  FAILED (exit $status)"
    failed+=("$t")
    grep -m3 -E 'ERROR: (libFuzzer|AddressSanitizer)|Swift runtime failure|Fatal error|fuzz check failed' "$dir/fuzz.log" || true
    for a in "$dir"/artifacts/*; do [ -e "$a" ] && echo "   input: ${a#../}"; done
  fi
  echo "   $line"
  summary+=("$line")
done

echo "== summary (${FUZZ_SECONDS}s per target)"
printf '   %s\n' "${summary[@]}"
if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz: ${failed[*]} failed; each failing input is in .build-fuzz/runs/<target>/artifacts/ (make it a regression test)" >&2
  exit 1
fi
