#!/usr/bin/env bash
# What the store costs on the request path: full-pipeline requests/s and
# latency with the gateway on SQLite and on PostgreSQL (a throwaway local
# cluster, scripts/postgres), the same simulator and body, the two backends
# alternated for --rounds; plus, for PostgreSQL, transactions committed and
# rows written per request at steady state (pg_stat_database deltas).
# With --replicas "1 2 3": then N gateways on one PostgreSQL database, one
# wrk per gateway splitting --replica-connections between them (req/s is
# their sum, p50/p99 the median of theirs).
# The provider is priced, so every request reserves and commits budget
# (the leased slices of budget/leased_ledger.hpp).
# Usage: bench/storage/run.sh [--seconds N=8] [--connections "1 64"] [--rounds N=2]
#                             [--replicas "1 2 3"] [--replica-connections N=64]
# Needs wrk and PostgreSQL 15 (scripts/setup installs both); run as root.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=8 conns="1 64" rounds=2 replicas="" replica_conns=64
die() { echo "bench/storage: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  [[ $# -ge 2 ]] || die "$1 needs a value"
  case "$1" in
    --seconds) secs="$2" ;;
    --connections) conns="$2" ;;
    --rounds) rounds="$2" ;;
    --replicas) replicas="$2" ;;
    --replica-connections) replica_conns="$2" ;;
    *) die "unknown argument $1" ;;
  esac
  shift 2
done
[ -x "${AEGIS_BIN:-build/aegis}" ] || die "no aegis binary (build it, or set AEGIS_BIN)"

# shellcheck source-path=SCRIPTDIR/../..
. bench/wrk/lib.sh
pgdir="$work/pg"
trap 'bash scripts/postgres stop "$pgdir" >/dev/null 2>&1; kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
dsn=$(bash scripts/postgres start "$pgdir")
export AEGIS_BENCH_JOBS_KEY
AEGIS_BENCH_JOBS_KEY=$(python3 -c 'print("5f" * 32)')
pg_counters() {  # "commits rows" so far in the bench database
  psql "$dsn" -Atc "SELECT xact_commit, tup_inserted + tup_updated + tup_deleted FROM pg_stat_database
                    WHERE datname = current_database()" | tr '|' ' '
}

# Priced like a cloud model, so the budget path does real work; the cap is never reached.
provider_yaml="    prices: {sim-small: {input_per_mtok_usd: 1, output_per_mtok_usd: 2}, sim-medium: {input_per_mtok_usd: 3, output_per_mtok_usd: 15}, sim-large: {input_per_mtok_usd: 15, output_per_mtok_usd: 75}}"
start_sim
echo "aegis $("$bin" --version | head -n1); $(nproc) cores; loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-9s %5s %6s %10s %8s %8s %9s %9s %s\n' backend round conns 'req/s' p50_ms p99_ms txn/req rows/req errors
for round in $(seq "$rounds"); do
  for backend in sqlite postgres; do
    storage_extra="" extra=""
    if [ "$backend" = postgres ]; then
      psql "$dsn" -qc "CREATE SCHEMA bench_$round" >/dev/null
      export AEGIS_BENCH_PG_DSN="$dsn options='-c search_path=bench_$round'"
      storage_extra=', postgres_dsn: "${AEGIS_BENCH_PG_DSN}"'
      extra=$'jobs:\n  encryption: {active: k1, keys: [{id: k1, env: AEGIS_BENCH_JOBS_KEY}]}'
    fi
    start_gateway "$extra"
    url="http://127.0.0.1:$gw_port/v1/chat/completions"
    KEY=$key wrk -t2 -c64 -d1s -s bench/wrk/chat.lua "$url" >/dev/null  # warm-up
    for c in $conns; do
      threads=2; [ "$c" -lt 2 ] && threads=1
      [ "$backend" = postgres ] && { sleep 1.2; read -r c0 r0 < <(pg_counters); }
      line=$(KEY=$key wrk -t"$threads" -c"$c" -d"${secs}s" -s bench/wrk/chat.lua "$url" | grep '^RESULT ')
      rps=$(sed -E 's/.*requests\/s=([0-9]+).*/\1/' <<<"$line")
      p50=$(sed -E 's/.*p50_ms=([0-9.]+).*/\1/' <<<"$line")
      p99=$(sed -E 's/.*p99_ms=([0-9.]+).*/\1/' <<<"$line")
      errs=$(sed -E 's/.*errors=([0-9]+) non2xx=([0-9]+).*/\1+\2/' <<<"$line")
      per_txn="-" per_row="-"
      if [ "$backend" = postgres ]; then
        sleep 1.2  # backends flush their statistics at most once a second
        read -r c1 r1 < <(pg_counters)
        total=$((rps * secs))
        per_txn=$(python3 -c "print(f'{($c1 - $c0) / max($total, 1):.2f}')")
        per_row=$(python3 -c "print(f'{($r1 - $r0) / max($total, 1):.2f}')")
      fi
      printf '%-9s %5s %6s %10s %8s %8s %9s %9s %s\n' "$backend" "$round" "$c" "$rps" "$p50" "$p99" \
        "$per_txn" "$per_row" "$errs"
    done
    stop_gateway
  done
done

[ -n "$replicas" ] || exit 0
median() { python3 -c 'import statistics,sys; print(f"{statistics.median(float(x) for x in sys.argv[1:]):.3f}")' "$@"; }
echo
printf '%-9s %5s %8s %6s %10s %8s %8s %9s %s\n' backend round replicas conns 'req/s' p50_ms p99_ms txn/req errors
for round in $(seq "$rounds"); do
  for n in $replicas; do
    psql "$dsn" -qc "CREATE SCHEMA bench_r${round}_$n" >/dev/null
    export AEGIS_BENCH_PG_DSN="$dsn options='-c search_path=bench_r${round}_$n'"
    storage_extra=', postgres_dsn: "${AEGIS_BENCH_PG_DSN}"'
    extra=$'jobs:\n  encryption: {active: k1, keys: [{id: k1, env: AEGIS_BENCH_JOBS_KEY}]}'
    ports=() pids=() keys=()
    for _ in $(seq "$n"); do
      start_gateway "$extra"
      ports+=("$gw_port") pids+=("$gw_pid") keys+=("$key")
    done
    for i in "${!ports[@]}"; do  # warm-up
      KEY=${keys[$i]} wrk -t1 -c8 -d1s -s bench/wrk/chat.lua "http://127.0.0.1:${ports[$i]}/v1/chat/completions" >/dev/null
    done
    sleep 1.2
    read -r c0 _ < <(pg_counters)
    per=$((replica_conns / n))
    loads=()
    for i in "${!ports[@]}"; do
      KEY=${keys[$i]} wrk -t1 -c"$per" -d"${secs}s" -s bench/wrk/chat.lua \
        "http://127.0.0.1:${ports[$i]}/v1/chat/completions" >"$work/wrk-$i.out" &
      loads+=($!)
    done
    wait "${loads[@]}"
    sleep 1.2
    read -r c1 _ < <(pg_counters)
    rps=0 p50s=() p99s=() errs=0
    for i in "${!ports[@]}"; do
      line=$(grep '^RESULT ' "$work/wrk-$i.out")
      rps=$((rps + $(sed -E 's/.*requests\/s=([0-9]+).*/\1/' <<<"$line")))
      p50s+=("$(sed -E 's/.*p50_ms=([0-9.]+).*/\1/' <<<"$line")")
      p99s+=("$(sed -E 's/.*p99_ms=([0-9.]+).*/\1/' <<<"$line")")
      errs=$((errs + $(sed -E 's/.*errors=([0-9]+) non2xx=([0-9]+).*/\1+\2/' <<<"$line")))
    done
    per_txn=$(python3 -c "print(f'{($c1 - $c0) / max($rps * $secs, 1):.2f}')")
    printf '%-9s %5s %8s %6s %10s %8s %8s %9s %s\n' postgres "$round" "$n" "$replica_conns" "$rps" \
      "$(median "${p50s[@]}")" "$(median "${p99s[@]}")" "$per_txn" "$errs"
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  done
done
