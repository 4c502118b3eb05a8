#!/usr/bin/env bash
# Where the gateway's CPU goes under load: `aegis sim` and a gateway in front
# of it (bench/wrk/lib.sh), wrk sending non-streaming chat over --connections
# for --seconds while `perf record` samples the gateway process. Prints the
# share of samples by library (the gateway itself, libc, the kernel, ...), the
# top symbols, and the share spent allocating (malloc/free/new/delete and
# their internals) — the bound on what an allocator or per-request arenas
# could save.
#
# Usage: bench/profile/run.sh [--connections N=64] [--seconds N=10] [--threads N=2]
#          [--top N=30] [--bin PATH] [--out FILE]
# Needs perf (Debian linux-perf) and permission to sample (root, or
# kernel.perf_event_paranoid <= 1). --out also writes the report.
set -euo pipefail
cd "$(dirname "$0")/../.."

die() { echo "bench/profile: $*" >&2; exit 1; }
usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; }
conns=64; secs=10; threads=2; top=30; out=""; bin="${AEGIS_BIN:-build/aegis}"
while [[ $# -gt 0 ]]; do
  [[ $# -ge 2 || "$1" == -h || "$1" == --help ]] || { usage >&2; die "$1 needs a value"; }
  case "$1" in
    --connections) conns="$2"; shift 2 ;;
    --seconds) secs="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --top) top="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
for n in $conns $secs $threads $top; do [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "not a positive integer: $n"; done
for tool in perf wrk curl python3; do command -v "$tool" >/dev/null || die "missing tool: $tool"; done
[[ -x "$bin" ]] || die "no aegis binary at $bin (--bin PATH or AEGIS_BIN)"
[[ -n "$out" ]] && out=$(realpath -m "$out")

export AEGIS_BIN="$bin"
# shellcheck source-path=SCRIPTDIR/../..
. bench/wrk/lib.sh
gw_threads=$threads start_stack ""
url="http://127.0.0.1:$gw_port/v1/chat/completions"
KEY=$key wrk -t2 -c"$conns" -d1s -s bench/wrk/chat.lua "$url" >/dev/null  # warm-up
perf record -F 999 -o "$work/perf.data" -p "$gw_pid" -- sleep "$secs" >"$work/perf.log" 2>&1 &
perf_pid=$!
result=$(KEY=$key wrk -t2 -c"$conns" -d"${secs}s" -s bench/wrk/chat.lua "$url" | grep '^RESULT ' | cut -d' ' -f2-)
wait "$perf_pid" || { cat "$work/perf.log" >&2; die "perf record failed"; }
alive "$gw_pid" || die "the gateway died under load"

perf report -i "$work/perf.data" --stdio --no-children --sort dso,sym 2>/dev/null \
  | grep -v '^#' | grep -v '^$' >"$work/report.txt" || true

export PR_RESULT="$result" PR_CONNS="$conns" PR_SECS="$secs" PR_THREADS="$threads" PR_TOP="$top"
PR_VERSION=$("$bin" --version | head -n1) PR_LOAD=$(cut -d' ' -f1-3 /proc/loadavg) \
python3 - "$work/report.txt" "$out" <<'PY'
import collections, os, re, sys
env = os.environ
# An allocator library counts whole (its symbols may be stripped); elsewhere
# the allocation entry points and glibc's malloc internals count by name.
allocator_dso = re.compile(r"lib(mimalloc|jemalloc|tcmalloc)")
alloc_sym = re.compile(r"\b(malloc|free|cfree|calloc|realloc|_int_malloc|_int_free|malloc_consolidate|tcache\w*|"
                       r"operator new|operator delete|unlink_chunk|sysmalloc)\b")
rows = []
for line in open(sys.argv[1]).read().splitlines():
    m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.*)", line)
    if m:
        rows.append((float(m.group(1)), m.group(2), m.group(3), m.group(4).strip()))
by_dso = collections.Counter()
for pct, dso, _, _ in rows:
    by_dso[dso] += pct
alloc_share = sum(p for p, dso, _, name in rows if allocator_dso.search(dso) or alloc_sym.search(name))
lines = [f"# Gateway CPU profile: {env['PR_CONNS']} connections, {env['PR_SECS']} s, {env['PR_THREADS']} I/O threads",
         "", f"aegis {env['PR_VERSION']}; loadavg {env['PR_LOAD']}; wrk: {env['PR_RESULT']}", "",
         f"Allocation (an allocator library, or malloc/free/new/delete and glibc's internals): "
         f"{alloc_share:.1f} % of the gateway's samples", "", "## By library", "", "```"]
lines += [f"{p:6.2f}% {dso}" for dso, p in by_dso.most_common() if p >= 0.5]
lines += ["```", "", f"## Top {env['PR_TOP']} symbols ([k] kernel)", "", "```"]
lines += [f"{p:6.2f}% [{k}] {name} ({dso})" for p, dso, k, name in rows[: int(env["PR_TOP"])]] + ["```"]
text = "\n".join(lines) + "\n"
print(text, end="")
if sys.argv[2]:
    open(sys.argv[2], "w").write(text)
PY
