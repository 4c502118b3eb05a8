#!/usr/bin/env bash
# Load runs with wrk against loopback only, bounded in time:
#   1. GET /healthz on the gateway (baseline of the HTTP layer)
#   2. non-streaming chat straight to `aegis sim` (the upstream alone)
#   3. the same chat through Aegis to that same simulator
# Usage: bench/wrk/run.sh [seconds=10] [connections=64]
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
logging: {level: warn}
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
  -H 'content-type: application/json' -d '{"name":"bench","monthly_budget_usd":1000000}' >/dev/null
key=$(curl -fs -XPOST "http://127.0.0.1:$gw_port/admin/v1/keys" -H 'authorization: Bearer bench-admin' \
  -H 'content-type: application/json' -d '{"team":"bench"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')

echo "cores=$(nproc) seconds=$secs connections=$conns wrk_threads=$threads"
printf 'healthz (gateway)      '; wrk -t$threads -c$conns -d${secs}s -s bench/wrk/health.lua "http://127.0.0.1:$gw_port/healthz" | grep RESULT
printf 'chat direct to sim     '; KEY=bench wrk -t$threads -c$conns -d${secs}s -s bench/wrk/chat.lua "http://127.0.0.1:$sim_port/v1/chat/completions" | grep RESULT
printf 'chat through aegis     '; KEY=$key wrk -t$threads -c$conns -d${secs}s -s bench/wrk/chat.lua "http://127.0.0.1:$gw_port/v1/chat/completions" | grep RESULT
