#!/usr/bin/env bash
# What the store costs on the request path: full-pipeline requests/s and
# latency with the gateway on SQLite and on PostgreSQL (a throwaway local
# cluster, scripts/postgres), the same simulator and body, the two backends
# alternated for --rounds; plus, for PostgreSQL, transactions committed and
# rows written per request at steady state (pg_stat_database deltas).
# Usage: bench/storage/run.sh [--seconds N=8] [--connections "1 64"] [--rounds N=2]
# Needs wrk and PostgreSQL 15 (scripts/setup installs both); run as root.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=8 conns="1 64" rounds=2
die() { echo "bench/storage: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  [[ $# -ge 2 ]] || die "$1 needs a value"
  case "$1" in
    --seconds) secs="$2" ;;
    --connections) conns="$2" ;;
    --rounds) rounds="$2" ;;
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
