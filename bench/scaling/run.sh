#!/usr/bin/env bash
# How Aegis scales with connections and I/O threads: non-streaming chat with
# wrk, direct to `aegis sim` and through `aegis serve` (server.threads = each
# of --threads), the simulator, the gateway and the load generator each pinned
# with `taskset -c` to their own core set; one table of req/s, p50/p99/p99.9
# (ms) and the gateway's RSS (VmRSS after each run). Then the time to first
# byte / first token that Aegis adds to a streaming request (simulator at
# ttft 20 ms, 1 ms per token by default; bench/scaling/ttfb.py) at 1 and 64 connections.
#
# Usage: bench/scaling/run.sh [--sim-cores LIST] [--gw-cores LIST] [--load-cores LIST]
#          [--seconds N] [--warmup N] [--connections "1 8 64 256"] [--threads "1 2 4 8"]
#          [--ttfb-connections "1 64"] [--stream-ttft-ms 20] [--stream-per-token-ms 1]
#          [--bin PATH] [--out FILE]
# Core LISTs are taskset -c lists (0-3, 0,2,4). Default: the cores in thirds
# (sim, gateway, load) when nproc >= 3; on fewer cores all three share every
# core. Sets may overlap. --out also writes the report as markdown. Slow
# streams (--stream-per-token-ms 200) with --ttfb-connections 1000 hold a
# thousand streams open at once.
# Exits 1 when a run saw errors or the gateway died.
set -euo pipefail
cd "$(dirname "$0")/../.."

die() { echo "bench/scaling: $*" >&2; exit 1; }
usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; }

ncpu=$(nproc)
if [[ $ncpu -ge 3 ]]; then
  third=$((ncpu / 3))
  sim_cores="0-$((third - 1))"; gw_cores="$third-$((2 * third - 1))"; load_cores="$((2 * third))-$((ncpu - 1))"
else
  sim_cores="0-$((ncpu - 1))"; gw_cores=$sim_cores; load_cores=$sim_cores
fi
secs=10; warmup=1; conns_list="1 8 64 256"; threads_list="1 2 4 8"; ttfb_conns="1 64"; out=""
stream_ttft_ms=20; stream_per_token_ms=1
bin="${AEGIS_BIN:-build/aegis}"
while [[ $# -gt 0 ]]; do
  [[ $# -ge 2 || "$1" == -h || "$1" == --help ]] || { usage >&2; die "$1 needs a value"; }
  case "$1" in
    --sim-cores) sim_cores="$2"; shift 2 ;;
    --gw-cores) gw_cores="$2"; shift 2 ;;
    --load-cores) load_cores="$2"; shift 2 ;;
    --seconds) secs="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --connections) conns_list="$2"; shift 2 ;;
    --threads) threads_list="$2"; shift 2 ;;
    --ttfb-connections) ttfb_conns="$2"; shift 2 ;;
    --stream-ttft-ms) stream_ttft_ms="$2"; shift 2 ;;
    --stream-per-token-ms) stream_per_token_ms="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
for n in $secs $warmup $conns_list $threads_list $ttfb_conns $stream_ttft_ms $stream_per_token_ms; do
  [[ "$n" =~ ^[0-9]+$ ]] || die "not a non-negative integer: $n"
done
[[ $secs -gt 0 ]] || die "--seconds must be at least 1"
for tool in wrk taskset curl python3; do command -v "$tool" >/dev/null || die "missing tool: $tool"; done
[[ -x "$bin" ]] || die "no aegis binary at $bin (--bin PATH or AEGIS_BIN)"
[[ -n "$out" ]] && out=$(realpath -m "$out")

# Number of CPUs in a taskset list; taskset itself rejects a list naming absent CPUs.
count_cores() {
  local n=0 part lo hi
  IFS=, read -ra parts <<<"$1"
  for part in "${parts[@]}"; do
    if [[ "$part" =~ ^([0-9]+)-([0-9]+)$ ]]; then
      lo=${BASH_REMATCH[1]}; hi=${BASH_REMATCH[2]}
      [[ $hi -ge $lo ]] || die "bad core range: $part"
      n=$((n + hi - lo + 1))
    elif [[ "$part" =~ ^[0-9]+$ ]]; then
      n=$((n + 1))
    else
      die "bad core list: $1"
    fi
  done
  echo "$n"
}
for set in "$sim_cores" "$gw_cores" "$load_cores"; do
  taskset -c "$set" true 2>/dev/null || die "cannot pin to cores $set on this machine (nproc $ncpu)"
done
load_n=$(count_cores "$load_cores"); sim_n=$(count_cores "$sim_cores"); gw_n=$(count_cores "$gw_cores")

export AEGIS_BIN="$bin"  # lib.sh starts this binary; it reads sim_cores/gw_cores to pin them
# shellcheck source-path=SCRIPTDIR/../..
. bench/wrk/lib.sh
results="$work/results.tsv"; : >"$results"
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
load_start=$(loadavg)
echo "aegis $("$bin" --version | head -n1) ($bin); nproc $ncpu; loadavg $load_start" >&2
echo "cores: sim $sim_cores, gateway $gw_cores, load $load_cores; ${secs}s per run after ${warmup}s warm-up" >&2

start_sim --threads "$sim_n"  # sim_cores is set: lib.sh pins it

# wrk_run NAME THREADS CONNS URL KEY: a warm-up, the measured run, one line in results.tsv
wrk_run() {
  local name="$1" gthreads="$2" c="$3" url="$4" k="$5" t line rss=""
  t=$((load_n < c ? load_n : c))
  if [[ $warmup -gt 0 ]]; then
    KEY=$k taskset -c "$load_cores" wrk -t"$t" -c"$c" -d"${warmup}s" --timeout 10s -s bench/wrk/chat.lua "$url" >/dev/null
  fi
  line=$(KEY=$k taskset -c "$load_cores" wrk -t"$t" -c"$c" -d"${secs}s" --timeout 10s -s bench/wrk/chat.lua "$url" \
    | grep '^RESULT ' | cut -d' ' -f2-) || die "wrk failed: $name, $c connections"
  if [[ "$name" == gateway ]]; then
    alive "$gw_pid" || { tail -n 30 "$work/gw.log" >&2; die "the gateway died (threads $gthreads, $c connections)"; }
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$gw_pid/status")
  fi
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$gthreads" "$c" "$line" "$rss" >>"$results"
  echo "  $name threads=$gthreads connections=$c: $line${rss:+ rss_kb=$rss}" >&2
}

for c in $conns_list; do
  wrk_run direct - "$c" "http://127.0.0.1:$sim_port/v1/chat/completions" bench
done
for t in $threads_list; do
  gw_threads=$t start_gateway ""
  for c in $conns_list; do
    wrk_run gateway "$t" "$c" "http://127.0.0.1:$gw_port/v1/chat/completions" "$key"
  done
  stop_gateway
done

# Streaming: time to first byte / first token, direct and through Aegis.
curl -fsS -XPOST "http://127.0.0.1:$sim_port/_sim/faults" \
  -d "{\"ttft_ms\":$stream_ttft_ms,\"per_token_ms\":$stream_per_token_ms}" >/dev/null
ttfb_threads=$gw_n
gw_threads=$ttfb_threads start_gateway ""
for c in $ttfb_conns; do
  for target in direct gateway; do
    if [[ $target == direct ]]; then url="http://127.0.0.1:$sim_port/v1/chat/completions"; k=bench
    else url="http://127.0.0.1:$gw_port/v1/chat/completions"; k=$key; fi
    line=$(taskset -c "$load_cores" python3 bench/scaling/ttfb.py "$url" "$k" "$c" "$secs" "$warmup" \
      | grep '^RESULT ' | cut -d' ' -f2-) || die "ttfb.py failed: $target, $c connections"
    printf 'ttfb-%s\t%s\t%s\t%s\t\n' "$target" "$ttfb_threads" "$c" "$line" >>"$results"
    echo "  ttfb $target connections=$c: $line" >&2
  done
done
alive "$gw_pid" || { tail -n 30 "$work/gw.log" >&2; die "the gateway died during the streaming runs"; }
curl -fsS -XPOST "http://127.0.0.1:$sim_port/_sim/faults" -d '{"ttft_ms":0,"per_token_ms":0}' >/dev/null

export SC_VERSION SC_BIN SC_NPROC SC_LOAD_START SC_LOAD_END SC_SIM SC_GW SC_LOAD SC_SECS SC_WARMUP SC_SIM_THREADS SC_STREAM_TTFT SC_STREAM_PER_TOKEN
SC_VERSION=$("$bin" --version | head -n1); SC_BIN=$bin; SC_NPROC=$ncpu; SC_LOAD_START=$load_start
SC_LOAD_END=$(loadavg); SC_SIM=$sim_cores; SC_GW=$gw_cores; SC_LOAD=$load_cores; SC_SECS=$secs
SC_WARMUP=$warmup; SC_SIM_THREADS=$sim_n; SC_STREAM_TTFT=$stream_ttft_ms; SC_STREAM_PER_TOKEN=$stream_per_token_ms
python3 - "$results" "$out" <<'PY'
import json, os, sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
e = os.environ

def kv(text):  # "requests/s=1 p50_ms=2 ..." (bench/wrk/report.lua)
    return {k: float(v) for k, v in (p.split("=", 1) for p in text.split())}

direct = {int(c): kv(r) for name, _, c, r, _ in rows if name == "direct"}
lines = [
    "# Aegis scaling: non-streaming chat, wrk closed loop",
    "",
    f"aegis {e['SC_VERSION']} ({e['SC_BIN']}); nproc {e['SC_NPROC']}; "
    f"loadavg at start {e['SC_LOAD_START']}, at end {e['SC_LOAD_END']}",
    f"cores: sim {e['SC_SIM']} ({e['SC_SIM_THREADS']} sim threads), gateway {e['SC_GW']}, load (wrk, ttfb.py) {e['SC_LOAD']}; "
    f"{e['SC_SECS']} s per run after a {e['SC_WARMUP']} s warm-up",
    "",
    "| gw threads | conns | gw req/s | gw p50 ms | gw p99 ms | gw p99.9 ms | direct req/s | direct p50 ms "
    "| direct p99 ms | direct p99.9 ms | gw/direct req/s | gw RSS MiB | errors gw/direct |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
]
bad = []
for name, threads, c, r, rss in rows:
    if name != "gateway":
        continue
    g, d = kv(r), direct[int(c)]
    ge, de = int(g["errors"] + g["non2xx"]), int(d["errors"] + d["non2xx"])
    if ge or de:
        bad.append(f"threads {threads} conns {c}")
    ratio = g["requests/s"] / d["requests/s"] if d["requests/s"] else float("nan")
    lines.append(
        f"| {threads} | {c} | {g['requests/s']:.0f} | {g['p50_ms']:.3f} | {g['p99_ms']:.3f} | {g['p999_ms']:.3f} "
        f"| {d['requests/s']:.0f} | {d['p50_ms']:.3f} | {d['p99_ms']:.3f} | {d['p999_ms']:.3f} | {ratio:.2f} "
        f"| {int(rss) / 1024:.1f} | {ge}/{de} |")

ttfb = {(name, int(c)): (threads, json.loads(r)) for name, threads, c, r, _ in rows if name.startswith("ttfb-")}
if ttfb:
    threads = next(iter(ttfb.values()))[0]
    lines += [
        "",
        f"## Streaming: time to first byte, simulator ttft {os.environ['SC_STREAM_TTFT']} ms + {os.environ['SC_STREAM_PER_TOKEN']} ms/token, 16 tokens (gateway threads {threads})",
        "",
        "ttfb: first response-body byte; ttft: first event carrying answer text. The simulator sends its "
        "role-only first event at once, so direct ttfb is not comparable to Aegis's; ttft is.",
        "",
        "| conns | direct ttfb p50/p99 ms | aegis ttfb p50/p99 ms | direct ttft p50/p99 ms | aegis ttft p50/p99 ms "
        "| added ttfb p50/p99 ms | added ttft p50/p99 ms | streams direct/aegis | peak open direct/aegis "
        "| errors direct/aegis |",
        "|---:|---|---|---|---|---|---|---:|---:|---:|",
    ]
    for c in sorted({c for _, c in ttfb}):
        d, g = ttfb[("ttfb-direct", c)][1], ttfb[("ttfb-gateway", c)][1]
        if d["errors"] or g["errors"]:
            bad.append(f"ttfb conns {c}")
        lines.append(
            f"| {c} | {d['ttfb_p50_ms']:.3f} / {d['ttfb_p99_ms']:.3f} | {g['ttfb_p50_ms']:.3f} / {g['ttfb_p99_ms']:.3f} "
            f"| {d['ttft_p50_ms']:.3f} / {d['ttft_p99_ms']:.3f} | {g['ttft_p50_ms']:.3f} / {g['ttft_p99_ms']:.3f} "
            f"| {g['ttfb_p50_ms'] - d['ttfb_p50_ms']:+.3f} / {g['ttfb_p99_ms'] - d['ttfb_p99_ms']:+.3f} "
            f"| {g['ttft_p50_ms'] - d['ttft_p50_ms']:+.3f} / {g['ttft_p99_ms'] - d['ttft_p99_ms']:+.3f} "
            f"| {d['requests']} / {g['requests']} | {d['peak_streams']} / {g['peak_streams']} "
            f"| {d['errors']} / {g['errors']} |")
if bad:
    lines += ["", "ERRORS in: " + ", ".join(bad)]
text = "\n".join(lines) + "\n"
print(text, end="")
if sys.argv[2]:
    with open(sys.argv[2], "w") as f:
        f.write(text)
    print(f"wrote {sys.argv[2]}", file=sys.stderr)
sys.exit(1 if bad else 0)
PY
