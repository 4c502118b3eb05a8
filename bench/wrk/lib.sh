# shellcheck shell=bash disable=SC2034  # sets variables for the scripts that source it
# Shared by the load scripts (sourced from the repo root): start `aegis sim`
# and a gateway in front of it on free loopback ports, with a team and its key.
#   start_stack [EXTRA_YAML]   start_sim, then start_gateway EXTRA_YAML
#   start_sim [SIM_FLAGS...]   sets: sim_port sim_pid
#   start_gateway [EXTRA_YAML] sets: gw_port gw_pid key (a fresh database each time;
#                              on a shared database the team may already exist)
#   stop_gateway               SIGTERM, wait; the simulator keeps running
#   alive PID                  the process runs (an exited child stays a zombie until waited for)
# EXTRA_YAML is top-level YAML added to the config; settings read when a server starts:
#   gw_threads=N              server.threads (unset: the default, one per core)
#   provider_yaml=LINES       extra keys of the provider mapping, each line indented 4 spaces
#   storage_extra=", KEY: VALUE"   more keys of the storage mapping (e.g. postgres_dsn)
#   sim_cores=LIST gw_cores=LIST   pin the simulator / gateway with `taskset -c LIST`
# Sets `work` (a temporary directory, logs in sim.log and gw.log); everything
# started here is stopped and `work` removed on exit.
bin=${AEGIS_BIN:-build/aegis}  # AEGIS_BIN=... to compare another build
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() {  # URL [PID]: until URL answers 2xx; stops early when PID has exited
  for _ in $(seq 200); do
    curl -fs "$1" >/dev/null 2>&1 && return 0
    if [ -n "${2:-}" ] && ! alive "$2"; then break; fi
    sleep 0.05
  done
  echo "not up: $1"; exit 1
}
alive() { grep -qs '^State:[[:space:]]*[^ZX[:space:]]' "/proc/$1/status"; }  # PID runs (not a zombie)
pin() { if [ -n "${1:-}" ]; then echo "taskset -c $1"; fi; }  # word-split on purpose by the callers

# shellcheck disable=SC2120  # SIM_FLAGS are optional
start_sim() {
  sim_port=$(port)
  # shellcheck disable=SC2046
  $(pin "${sim_cores:-}") "$bin" sim --listen "127.0.0.1:$sim_port" --log-level warn "$@" >>"$work/sim.log" 2>&1 &
  sim_pid=$!
  wait_up "http://127.0.0.1:$sim_port/_sim/health" "$sim_pid"
}

start_gateway() {
  local extra_yaml="${1:-}" threads_yaml=""
  gw_port=$(port)
  if [ -n "${gw_threads:-}" ]; then threads_yaml=", threads: $gw_threads"; fi
  cat >"$work/aegis.yaml" <<YAML
server: {listen: "127.0.0.1:$gw_port"$threads_yaml}
storage: {sqlite_path: "$work/aegis-$gw_port.db"${storage_extra:-}}
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
${provider_yaml:-}
YAML
  # shellcheck disable=SC2046
  AEGIS_ADMIN_KEY=bench-admin $(pin "${gw_cores:-}") "$bin" serve --config "$work/aegis.yaml" >>"$work/gw.log" 2>&1 &
  gw_pid=$!
  wait_up "http://127.0.0.1:$gw_port/healthz" "$gw_pid"
  local created
  created=$(curl -s -o /dev/null -w '%{http_code}' -XPOST "http://127.0.0.1:$gw_port/admin/v1/teams" \
    -H 'authorization: Bearer bench-admin' -H 'content-type: application/json' \
    -d '{"name":"bench","monthly_budget_usd":100000000}')
  case "$created" in 201 | 409) ;; *) echo "cannot create the bench team: HTTP $created"; exit 1 ;; esac
  key=$(curl -fs -XPOST "http://127.0.0.1:$gw_port/admin/v1/keys" -H 'authorization: Bearer bench-admin' \
    -H 'content-type: application/json' -d '{"team":"bench"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
}

stop_gateway() {
  kill "$gw_pid" 2>/dev/null || true
  wait "$gw_pid" 2>/dev/null || true
}

start_stack() {
  # shellcheck disable=SC2119
  start_sim
  start_gateway "${1:-}"
}
