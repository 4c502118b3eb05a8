#!/usr/bin/env bash
# Soak: `aegis sim` and a gateway in front of it, mixed load for N seconds
# (bench/soak/soak.py, 16 clients: OpenAI and Anthropic chat and streams,
# embeddings, async jobs, RESTRICTED prompts with a SIN or card number), a
# simulator fault every minute (from 30 s: 500, hang, reset, 503, truncate,
# garbage, 429 in turn, each for a few requests). Samples the gateway's VmRSS
# and open fds every 5 s and prints the series.
#
# Usage: bench/soak/run.sh [--seconds N=600] [--out FILE] [--concurrency N=16] [--bin PATH]
# FAILS (exit 1) when the gateway dies, when the final RSS or fd count is
# outside +-10 % of its value after the first minute (runs under 180 s: after
# the first 20 s), when more than 1 % of the requests outside fault windows
# fail, or when a kind of request never succeeds outside them. --out also
# writes the report (markdown). Binary: --bin, else $AEGIS_BIN, else build/aegis.
set -euo pipefail
cd "$(dirname "$0")/../.."

die() { echo "bench/soak: $*" >&2; exit 1; }
usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; }
secs=600; out=""; conc=16; bin="${AEGIS_BIN:-build/aegis}"
while [[ $# -gt 0 ]]; do
  [[ $# -ge 2 || "$1" == -h || "$1" == --help ]] || { usage >&2; die "$1 needs a value"; }
  case "$1" in
    --seconds) secs="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --concurrency) conc="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
[[ "$secs" =~ ^[0-9]+$ && $secs -ge 30 ]] || die "--seconds must be an integer >= 30"
[[ "$conc" =~ ^[0-9]+$ && $conc -ge 1 ]] || die "--concurrency must be a positive integer"
[[ -x "$bin" ]] || die "no aegis binary at $bin (--bin PATH or AEGIS_BIN)"
for tool in curl python3; do command -v "$tool" >/dev/null || die "missing tool: $tool"; done
[[ -n "$out" ]] && out=$(realpath -m "$out")

export AEGIS_BIN="$bin"
# shellcheck source-path=SCRIPTDIR/../..
. bench/wrk/lib.sh
# Timeouts short enough that a hung upstream costs seconds, a breaker that
# reopens quickly (soak.py's fault windows assume open_duration_s 5).
provider_yaml="    embedding_model: text-embedding-3-small
    first_byte_timeout_ms: 2000
    idle_timeout_ms: 2000"
start_sim --ttft-ms 2 --per-token-ms 0
start_gateway "resilience: {failure_threshold: 3, open_duration_s: 5}"
echo "aegis $("$bin" --version | head -n1) ($bin), nproc $(nproc), sim :$sim_port, gateway :$gw_port (pid $gw_pid)"

rc=0
python3 bench/soak/soak.py --gw "http://127.0.0.1:$gw_port" --sim "http://127.0.0.1:$sim_port" --key "$key" \
  --pid "$gw_pid" --seconds "$secs" --concurrency "$conc" ${out:+--out "$out"} || rc=$?
if ! alive "$gw_pid"; then
  echo "gateway log (last 40 lines):"; tail -n 40 "$work/gw.log"
fi
if [[ $rc -ne 0 ]]; then
  echo "gateway log: $(grep -c . "$work/gw.log") lines; the last 10:"; tail -n 10 "$work/gw.log"
fi
exit "$rc"
