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
bin=build/aegis
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 200); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 0.05; done; echo "not up: $1"; exit 1; }

sim_port=$(port); gw_port=$(port)
"$bin" sim --listen "127.0.0.1:$sim_port" --log-level warn >"$work/sim.log" 2>&1 &
wait_up "http://127.0.0.1:$sim_port/_sim/health"
cat >"$work/aegis.yaml" <<YAML
server: {listen: "127.0.0.1:$gw_port"}
storage: {sqlite_path: "$work/aegis.db"}
logging: {level: warn, access_log: false}
jobs: {max_queue_depth: 10000000, workers: 64}
providers:
  - name: sim
    type: openai_compat
    base_url: http://127.0.0.1:$sim_port/v1
    api_key: bench
    locality: local
    max_concurrency: 4096
    models: {haiku: sim-small, sonnet: sim-medium, opus: sim-large}
YAML
AEGIS_ADMIN_KEY=bench-admin "$bin" serve --config "$work/aegis.yaml" >"$work/gw.log" 2>&1 &
wait_up "http://127.0.0.1:$gw_port/healthz"
curl -fs -XPOST "http://127.0.0.1:$gw_port/admin/v1/teams" -H 'authorization: Bearer bench-admin' \
  -H 'content-type: application/json' -d '{"name":"bench","monthly_budget_usd":100000000}' >/dev/null
key=$(curl -fs -XPOST "http://127.0.0.1:$gw_port/admin/v1/keys" -H 'authorization: Bearer bench-admin' \
  -H 'content-type: application/json' -d '{"team":"bench"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
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
