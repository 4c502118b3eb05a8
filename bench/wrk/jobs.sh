#!/usr/bin/env bash
# Async job API under load, loopback only, against `aegis sim` as the provider:
#   1. durable submits: POST /v1/jobs (synchronous=FULL; workers run the jobs meanwhile)
#   2. polls: GET /v1/jobs/{id} of a finished job
#   3. end-to-end latency, one client, sequentially: a synchronous chat call vs
#      submit + GET ?wait=60 of the same request (bench/wrk/job_latency.py)
# Usage: bench/wrk/jobs.sh [seconds=10] [connections=64]
set -euo pipefail
cd "$(dirname "$0")/../.."
secs="${1:-10}"; conns="${2:-64}"; threads=2
. bench/wrk/lib.sh
start_stack "jobs: {max_queue_depth: 10000000, workers: 64}"
base="http://127.0.0.1:$gw_port"

echo "cores=$(nproc) seconds=$secs connections=$conns wrk_threads=$threads"
printf 'submit (durable)       '; KEY=$key wrk -t$threads -c$conns -d${secs}s -s bench/wrk/job_submit.lua "$base/v1/jobs" | grep RESULT
job=$(curl -fs "$base/v1/jobs?limit=1&status=succeeded" -H "authorization: Bearer $key" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0]["id"])')
printf 'poll (finished job)    '; KEY=$key JOB=$job wrk -t$threads -c$conns -d${secs}s -s bench/wrk/job_poll.lua "$base/v1/jobs" | grep RESULT
# Let the backlog drain so the latency run measures an idle queue.
for _ in $(seq 600); do
  q=$(curl -fs "$base/metrics" | awk '/^aegis_jobs\{status="(queued|running)"\}/ {s+=$2} END {print s+0}')
  [ "$q" = 0 ] && break; sleep 0.5
done
python3 bench/wrk/job_latency.py "$base" "$key" 300
