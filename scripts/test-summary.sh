#!/usr/bin/env bash
# Usage: scripts/test-summary.sh LOG
# Prints, after a failed `swift test` run, what a reader of only the last lines of the output
# needs: the tests that failed or recorded an issue, and the crashed thread's frames from
# Swift's backtracer. CI shows only the tail of the output, and a crash report ends with
# registers and loaded images, which name neither the test nor the function. (Swift Testing
# reports nearly every test as started at once, so "started but never ended" would not single
# out the culprit; the crashed thread's frames do.)
set -uo pipefail
log=${1:?usage: test-summary.sh LOG}
[ -f "$log" ] || { echo "test-summary: no log at $log"; exit 0; }

echo
echo "==================== test summary (from $log) ===================="
failed=$(grep -E '^✘ Test .*(failed|recorded an issue)' "$log" | cut -c1-300 | head -40)
if [ -n "$failed" ]; then
    echo "-- failed or recorded an issue:"
    echo "$failed"
fi

crash=$(awk '
    /Program crashed|^Fatal error|^Thread [0-9]+( "[^"]*")? crashed:/ { on = 1 }
    on && /^Registers:|^Images/ { exit }
    on { print; if (++k >= 60) exit }
' "$log" | cut -c1-240)
if [ -n "$crash" ]; then
    echo "-- crash report (crashed thread):"
    echo "$crash"
fi
[ -z "$failed$crash" ] && echo "-- nothing recognisable; see the full log above"
echo "=================================================================="
exit 0
