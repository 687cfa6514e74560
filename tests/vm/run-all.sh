#!/usr/bin/env bash
# Runs every in-VM test (or those whose name matches the pattern $1, but not $2) and prints
# "N passed, N failed". Patterns are bash patterns (extglob): '@(flow_|l3_)'.
cd "$(dirname "$0")/../.."
. tests/vm/lib.sh
filter=${1:-} skip=${2:-}
pass=0; failed=0; failures=()
for f in tests/vm/test_*.sh; do
  for t in $(bash -c ". tests/vm/lib.sh; . $f; declare -F" | awk '$3 ~ /^test_/ {print $3}'); do
    [ -n "$filter" ] && [[ $t != *$filter* ]] && continue
    [ -n "$skip" ] && [[ $t == *$skip* ]] && continue
    cleanup
    start=$(date +%s.%N)
    if (. tests/vm/lib.sh; . "$f"; set -e; "$t"); then
      pass=$((pass + 1)); printf 'ok   %-45s %5.1fs\n' "$t" "$(echo "$(date +%s.%N) - $start" | bc)"
    else
      failed=$((failed + 1)); failures+=("$t"); printf 'FAIL %s\n' "$t"
    fi
  done
done
cleanup
[ ${#failures[@]} -gt 0 ] && echo "failed: ${failures[*]}"
echo "vm: $pass passed, $failed failed"
[ "$failed" = 0 ] && [ "$pass" -gt 0 ]
