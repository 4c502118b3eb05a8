#!/usr/bin/env bash
# Text-only chat throughput of two gateway builds, A/B interleaved against one
# simulator (issue 20: reading images must cost a text-only request nothing).
#   bench/media/text_only_throughput.sh OLD_BIN NEW_BIN [rounds=3] [seconds=8] [connections=32]
# Prints each round's requests/s and the median of each build; the sim and
# both gateways share the machine's cores, so compare the two medians only.
set -euo pipefail
cd "$(dirname "$0")/../.."
old="$1"; new="$2"; rounds="${3:-3}"; secs="${4:-8}"; conns="${5:-32}"
. bench/wrk/lib.sh
bin="$new"
start_sim
declare -A results=([old]="" [new]="")
for round in $(seq "$rounds"); do
  for which in old new; do
    bin=${!which}
    start_gateway ""
    rps=$(KEY=$key wrk -t2 -c"$conns" -d"${secs}s" -s bench/wrk/chat.lua "http://127.0.0.1:$gw_port/v1/chat/completions" |
      grep RESULT | sed -E 's/.*requests\/s=([0-9.]+).*/\1/')
    stop_gateway
    echo "round $round $which: $rps req/s"
    results[$which]+="$rps "
  done
done
for which in old new; do
  echo "$which median: $(printf '%s\n' ${results[$which]} | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}') req/s"
done
