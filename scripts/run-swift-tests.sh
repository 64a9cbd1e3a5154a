#!/usr/bin/env bash
# Runs `swift test` with the given arguments, keeping a full log in .build/test.log. When a test fails,
# the failing tests and the issues they recorded are printed again at the end, so that the last lines of
# the output (all a CI summary may keep) say which test failed and why.
set -uo pipefail
log=.build/test.log
mkdir -p .build
"${SWIFT:-swift}" test "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
if [ "$rc" -ne 0 ]; then
  echo
  echo "=== make test failed (exit $rc); the failures, from $log ==="
  # Swift Testing marks failures with ✘; an issue's detail follows on indented lines.
  grep -n -A6 -E '✘ Test .*(recorded an issue|failed)|error: |Fatal error|fatalError|Crash' "$log" \
    | grep -v -E '✘ Test run with' | tail -n 80
fi
exit "$rc"
