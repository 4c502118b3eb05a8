# Shared by the wrk load scripts (sourced from the repo root): start `aegis sim`
# and a gateway in front of it on free loopback ports, with a team and its key.
#   start_stack [EXTRA_YAML]  sets: work sim_port gw_port key (and cleans up on exit)
bin=${AEGIS_BIN:-build/aegis}  # AEGIS_BIN=... to compare another build
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 200); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 0.05; done; echo "not up: $1"; exit 1; }

start_stack() {
  local extra_yaml="${1:-}"
  sim_port=$(port); gw_port=$(port)
  "$bin" sim --listen "127.0.0.1:$sim_port" --log-level warn >"$work/sim.log" 2>&1 &
  wait_up "http://127.0.0.1:$sim_port/_sim/health"
  cat >"$work/aegis.yaml" <<YAML
server: {listen: "127.0.0.1:$gw_port"}
storage: {sqlite_path: "$work/aegis.db"}
logging: {level: warn}
$extra_yaml
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
}
