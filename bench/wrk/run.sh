#!/usr/bin/env bash
# Load runs with wrk against loopback only, bounded in time:
#   1. GET /healthz on the gateway (baseline of the HTTP layer)
#   2. non-streaming chat straight to `aegis sim` (the upstream alone)
#   3. the same chat through Aegis to that same simulator
# Usage: bench/wrk/run.sh [seconds=10] [connections=64]
set -euo pipefail
cd "$(dirname "$0")/../.."
secs="${1:-10}"; conns="${2:-64}"; threads=2
. bench/wrk/lib.sh
start_stack ""

echo "cores=$(nproc) seconds=$secs connections=$conns wrk_threads=$threads"
printf 'healthz (gateway)      '; wrk -t$threads -c$conns -d${secs}s -s bench/wrk/health.lua "http://127.0.0.1:$gw_port/healthz" | grep RESULT
printf 'chat direct to sim     '; KEY=bench wrk -t$threads -c$conns -d${secs}s -s bench/wrk/chat.lua "http://127.0.0.1:$sim_port/v1/chat/completions" | grep RESULT
printf 'chat through aegis     '; KEY=$key wrk -t$threads -c$conns -d${secs}s -s bench/wrk/chat.lua "http://127.0.0.1:$gw_port/v1/chat/completions" | grep RESULT
