#!/usr/bin/env bash
# Aegis vs the Portkey gateway, same simulator upstream, one run (see README.md).
# Everything runs inside a private network namespace (+ PID namespace, so nothing
# outlives the run): Portkey binds every interface and has no host flag; in the
# namespace the only interface is lo.
#
# Usage: sudo bench/compare/run.sh [--out FILE] [--seconds N] [--warmup N]
#          [--connections N] [--low-connections N] [--wrk-threads N] [--bin PATH]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

out=""; secs=10; warmup=2; conns=64; low_conns=8; wrk_threads=2
bin="${AEGIS_BIN:-$root/build/aegis}"
die() { echo "bench/compare: $*" >&2; exit 1; }
usage() { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --seconds) secs="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --connections) conns="$2"; shift 2 ;;
    --low-connections) low_conns="$2"; shift 2 ;;
    --wrk-threads) wrk_threads="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
for n in "$secs" "$warmup" "$conns" "$low_conns" "$wrk_threads"; do
  [[ "$n" =~ ^[0-9]+$ ]] || die "not a non-negative integer: $n"
done
[[ -n "$out" ]] && out=$(realpath -m "$out")

# ---------------------------------------------------------------------------
# Inner half: runs as PID 1 of fresh net + PID namespaces (see the end of file).
# ---------------------------------------------------------------------------
if [[ "${AEGIS_COMPARE_INNER:-}" == 1 ]]; then
  work="$AEGIS_COMPARE_WORK"
  aegis="$work/aegis"
  sim_port=18081; gw_port=18080; pk_port=18787   # the namespace is empty: fixed ports are free
  trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true' EXIT
  trap 'exit 130' INT TERM   # PID 1 of a namespace gets only the signals it handles

  ip link set lo up

  # start NAME LOGFILE CMD...: background a server, remembering its pid for wait_up.
  declare -A pid_of log_of
  start() {
    local name="$1" log="$2"; shift 2
    "$@" >"$log" 2>&1 &
    pid_of[$name]=$!; log_of[$name]=$log
  }
  wait_up() {  # NAME URL
    local i
    for i in $(seq 300); do
      curl -fs -m 1 -o /dev/null "$2" && return 0
      if ! kill -0 "${pid_of[$1]}" 2>/dev/null; then
        tail -n 30 "${log_of[$1]}" >&2; die "$1 exited before it was up"
      fi
      sleep 0.1
    done
    tail -n 30 "${log_of[$1]}" >&2; die "$1 not up after 30 s: $2"
  }

  start sim "$work/sim.log" "$aegis" sim --listen "127.0.0.1:$sim_port" --name upstream --log-level warn
  wait_up sim "http://127.0.0.1:$sim_port/_sim/health"

  # A cloud provider, so PII in the body is masked before it goes upstream.
  cat >"$work/aegis.yaml" <<YAML
server: {listen: "127.0.0.1:$gw_port"}
storage: {sqlite_path: "$work/aegis.db"}
logging: {level: warn}
providers:
  - name: upstream
    type: openai_compat
    base_url: http://127.0.0.1:$sim_port/v1
    api_key: bench
    locality: cloud
    max_concurrency: 4096
    models: {haiku: sim-small, sonnet: sim-medium, opus: sim-large}
YAML
  "$aegis" config check "$work/aegis.yaml" >/dev/null || die "aegis config check failed"
  start aegis "$work/aegis.log" env AEGIS_ADMIN_KEY=bench-admin "$aegis" serve --config "$work/aegis.yaml"
  wait_up aegis "http://127.0.0.1:$gw_port/healthz"
  admin() {  # PATH JSON
    curl -fsS -m 5 -XPOST "http://127.0.0.1:$gw_port$1" -H 'authorization: Bearer bench-admin' \
      -H 'content-type: application/json' -d "$2"
  }
  admin /admin/v1/teams '{"name":"bench","monthly_budget_usd":1000000}' >/dev/null \
    || die "creating the team through the admin API failed"
  aegis_key=$(admin /admin/v1/keys '{"team":"bench"}' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])') || die "creating a key failed"

  # NODE_ENV=production and --headless: no UI routes, no dev-mode extras.
  start portkey "$work/portkey.log" env NODE_ENV=production \
    node "$here/node_modules/@portkey-ai/gateway/build/start-server.js" --port="$pk_port" --headless
  wait_up portkey "http://127.0.0.1:$pk_port/"

  # One body for all three targets: a person's name and an e-mail address, so
  # Aegis runs classify + mask (+ route, budget, audit as they are wired).
  email="marie.tremblay@example.com"
  cat >"$work/body.json" <<JSON
{"model":"sim-small","messages":[{"role":"user","content":"Please draft a two-sentence reply to Marie Tremblay ($email) thanking her for the quarterly report."}],"max_tokens":64}
JSON
  pk_headers=$'x-portkey-provider: openai\nx-portkey-custom-host: '"http://127.0.0.1:$sim_port/v1"

  declare -A url_of key_of hdr_of
  url_of[direct]="http://127.0.0.1:$sim_port/v1/chat/completions"; key_of[direct]=bench; hdr_of[direct]=""
  url_of[aegis]="http://127.0.0.1:$gw_port/v1/chat/completions"; key_of[aegis]="$aegis_key"; hdr_of[aegis]=""
  url_of[portkey]="http://127.0.0.1:$pk_port/v1/chat/completions"; key_of[portkey]=bench; hdr_of[portkey]="$pk_headers"
  targets=(direct aegis portkey)

  # One request per target before any load: a 200 whose choices[0].message.content
  # is the simulator's echo, or the run stops here.
  check() {
    local t="$1" args=() line code
    while IFS= read -r line; do [[ -n "$line" ]] && args+=(-H "$line"); done <<<"${hdr_of[$t]}"
    code=$(curl -sS -m 10 -o "$work/check.$t.body" -D "$work/check.$t.headers" -w '%{http_code}' \
      -XPOST "${url_of[$t]}" -H 'content-type: application/json' -H "authorization: Bearer ${key_of[$t]}" \
      "${args[@]}" --data-binary "@$work/body.json") || die "$t: request failed"
    [[ "$code" == 200 ]] || { cat "$work/check.$t.body" >&2; echo >&2; die "$t: HTTP $code, expected 200"; }
    python3 - "$work/check.$t.body" "$t" <<'PY' || die "$t: response is not a chat completion with content"
import json, sys
body = json.load(open(sys.argv[1]))
content = body["choices"][0]["message"]["content"]
if not isinstance(content, str) or not content.startswith("Echo:"):
    sys.exit(f"{sys.argv[2]}: unexpected content {content!r}")
PY
  }
  for t in "${targets[@]}"; do
    check "$t"
    [[ "$t" == aegis ]] || continue
    # What the simulator received from Aegis (its latest chat request): was the PII masked?
    UPSTREAM_SAW_EMAIL=$(curl -fsS -m 5 "http://127.0.0.1:$sim_port/_sim/requests" | python3 -c '
import json, sys
chat = [r for r in json.load(sys.stdin)["requests"] if r["path"].endswith("/chat/completions")]
print("true" if sys.argv[1] in chat[-1]["body"] else "false")' "$email") || die "reading the simulator request log failed"
  done
  header() { grep -i "^$1:" "$work/check.aegis.headers" | head -n1 | cut -d: -f2- | tr -d ' \r' || true; }
  AEGIS_CLASSIFICATION=$(header x-aegis-classification); AEGIS_ROUTE=$(header x-aegis-route)
  export UPSTREAM_SAW_EMAIL AEGIS_CLASSIFICATION AEGIS_ROUTE

  load() {  # TARGET CONNECTIONS -> appends one line to results
    local t="$1" c="$2" line
    if [[ "$warmup" -gt 0 ]]; then
      BODY_FILE="$work/body.json" KEY="${key_of[$t]}" EXTRA_HEADERS="${hdr_of[$t]}" \
        wrk -t"$wrk_threads" -c"$c" -d"${warmup}s" --timeout 10s -s "$here/chat.lua" "${url_of[$t]}" >/dev/null
    fi
    line=$(BODY_FILE="$work/body.json" KEY="${key_of[$t]}" EXTRA_HEADERS="${hdr_of[$t]}" \
      wrk -t"$wrk_threads" -c"$c" -d"${secs}s" --timeout 10s --latency -s "$here/chat.lua" "${url_of[$t]}" \
      | tee "$work/wrk.$t.$c.txt" | grep '^RESULT ' | cut -d' ' -f2-) || die "wrk failed on $t"
    printf '%s\t%s\t%s\n' "$t" "$c" "$line" >>"$work/results.tsv"
    python3 -c 'import json, sys; r = json.loads(sys.argv[3])
print("  %s, %s connections: %.0f req/s, p99 %.3f ms" % (sys.argv[1], sys.argv[2], r["rps"], r["p99_ms"]))' \
      "$t" "$c" "$line" >&2
  }
  : >"$work/results.tsv"
  echo "load: ${secs}s per run after a ${warmup}s warm-up, $wrk_threads wrk threads" >&2
  for c in "$conns" "$low_conns"; do
    for t in "${targets[@]}"; do load "$t" "$c"; done
  done

  # Still healthy after the load? (a crashed gateway would otherwise show as errors only)
  for name in sim aegis portkey; do
    kill -0 "${pid_of[$name]}" 2>/dev/null || { tail -n 30 "${log_of[$name]}" >&2; die "$name died during the run"; }
  done

  python3 - "$work/results.tsv" "$out" <<PY
import json, os, sys
results_path, out_path = sys.argv[1], sys.argv[2]
runs = []
for line in open(results_path):
    target, conns, js = line.rstrip("\n").split("\t", 2)
    r = json.loads(js)
    r.update(target=target, connections=int(conns))
    runs.append(r)
by = {(r["target"], r["connections"]): r for r in runs}
conns, low = $conns, $low_conns
label = {"direct": "direct to sim", "aegis": "through Aegis", "portkey": "through Portkey"}

def overhead(t, c):
    return round(by[(t, c)]["p99_ms"] - by[("direct", c)]["p99_ms"], 3)
def overhead50(t, c):
    return round(by[(t, c)]["p50_ms"] - by[("direct", c)]["p50_ms"], 3)

ratios = {}
for c in sorted({conns, low}, reverse=True):
    ratios[str(c)] = {
        "throughput_aegis_over_portkey": round(by[("aegis", c)]["rps"] / by[("portkey", c)]["rps"], 3),
        "throughput_aegis_over_direct": round(by[("aegis", c)]["rps"] / by[("direct", c)]["rps"], 3),
        "p50_overhead_ms": {"aegis": overhead50("aegis", c), "portkey": overhead50("portkey", c)},
        "p99_overhead_ms": {"aegis": overhead("aegis", c), "portkey": overhead("portkey", c)},
    }
target_run = by[("aegis", low)]
target = {
    "goal": "Aegis p99 overhead <= 1 ms at 5000 req/s on 2 cores",
    "note": "wrk cannot hold a fixed rate (no wrk2 in Debian): measured with few connections; see achieved_rps",
    "connections": low,
    "achieved_rps": round(target_run["rps"], 1),
    "p99_overhead_ms": overhead("aegis", low),
    "overhead_met": overhead("aegis", low) <= 1.0,
    "rate_reached": target_run["rps"] >= 5000,
}
bad = [f'{r["target"]}@{r["connections"]}' for r in runs if r["socket_errors"] or r["non2xx"]]

print()
print(f'{"target":<17}{"conns":>6}{"req/s":>10}{"p50 ms":>10}{"p99 ms":>10}{"p99.9 ms":>10}{"errors":>8}')
for r in runs:
    print(f'{label[r["target"]]:<17}{r["connections"]:>6}{r["rps"]:>10.0f}{r["p50_ms"]:>10.3f}'
          f'{r["p99_ms"]:>10.3f}{r["p999_ms"]:>10.3f}{r["socket_errors"] + r["non2xx"]:>8}')
print()
for c, q in ratios.items():
    print(f'{c} conns: throughput Aegis/Portkey {q["throughput_aegis_over_portkey"]:.2f}x, '
          f'Aegis/direct {q["throughput_aegis_over_direct"]:.2f}x; '
          f'p99 overhead vs direct: Aegis {q["p99_overhead_ms"]["aegis"]:+.3f} ms, '
          f'Portkey {q["p99_overhead_ms"]["portkey"]:+.3f} ms')
print(f'target (p99 overhead <= 1 ms at 5k req/s): Aegis at {target["achieved_rps"]:.0f} req/s '
      f'({low} conns): p99 overhead {target["p99_overhead_ms"]:+.3f} ms -> '
      f'{"met" if target["overhead_met"] else "NOT met"}'
      f'{"" if target["rate_reached"] else " (but below 5k req/s: rate not reached)"}')
print(f'Aegis check request: classification={os.environ["AEGIS_CLASSIFICATION"] or "-"}, '
      f'route={os.environ["AEGIS_ROUTE"] or "-"}, '
      f'e-mail reached the upstream unmasked: {os.environ["UPSTREAM_SAW_EMAIL"]}')
if bad:
    print(f'ERRORS in: {", ".join(bad)} (results not valid)')

if out_path:
    doc = {
        "machine": {"cores": os.cpu_count(), "node": os.environ["NODE_VERSION"],
                    "aegis": os.environ["AEGIS_VERSION"], "portkey_gateway": os.environ["PORTKEY_VERSION"],
                    "wrk": os.environ["WRK_VERSION"]},
        "settings": {"seconds": $secs, "warmup_seconds": $warmup, "wrk_threads": $wrk_threads,
                     "connections": conns, "low_connections": low},
        "aegis_check": {"classification": os.environ["AEGIS_CLASSIFICATION"] or None,
                        "route": os.environ["AEGIS_ROUTE"] or None,
                        "upstream_saw_email_unmasked": os.environ["UPSTREAM_SAW_EMAIL"] == "true"},
        "runs": runs, "ratios": ratios, "latency_target": target, "valid": not bad,
    }
    with open(out_path, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    print(f"wrote {out_path}")
sys.exit(1 if bad else 0)
PY
  exit $?
fi

# ---------------------------------------------------------------------------
# Outer half: prerequisites, a stable copy of the binary, then the namespaces.
# ---------------------------------------------------------------------------
[[ $EUID -eq 0 ]] || die "run as root: it creates a network namespace"
for tool in wrk unshare ip node npm curl python3; do
  command -v "$tool" >/dev/null || die "missing tool: $tool"
done
if [[ ! -f "$here/node_modules/@portkey-ai/gateway/build/start-server.js" ]]; then
  # --ignore-scripts: the package's postinstall (patch-package) has nothing to patch in the published build
  (cd "$here" && npm ci --ignore-scripts --no-audit --no-fund >&2) || die "npm ci failed"
fi

work=$(mktemp -d /tmp/aegis-compare.XXXXXX)
trap 'rm -rf "$work"' EXIT
# The binary may be being rebuilt: wait until it is present, unchanged for a
# second and runnable, and benchmark a private copy of it.
for i in $(seq 120); do
  if [[ -x "$bin" ]]; then
    before=$(stat -c '%s %Y' "$bin" 2>/dev/null || true); sleep 1
    if [[ "$(stat -c '%s %Y' "$bin" 2>/dev/null || true)" == "$before" ]] && cp "$bin" "$work/aegis" 2>/dev/null \
       && "$work/aegis" --version >/dev/null 2>&1; then
      break
    fi
  fi
  [[ $i -eq 120 ]] && die "no usable aegis binary at $bin after 4 minutes"
  sleep 1
done

export AEGIS_COMPARE_INNER=1 AEGIS_COMPARE_WORK="$work"
export AEGIS_VERSION; AEGIS_VERSION=$("$work/aegis" --version | head -n1)
export NODE_VERSION; NODE_VERSION=$(node --version)
export PORTKEY_VERSION; PORTKEY_VERSION=$(node -p 'require(process.argv[1]).version' \
  "$here/node_modules/@portkey-ai/gateway/package.json")
export WRK_VERSION; WRK_VERSION=$(wrk -v 2>&1 | head -n1 | awk '{print $2}' || true)
echo "aegis: $AEGIS_VERSION ($bin), portkey gateway $PORTKEY_VERSION, node $NODE_VERSION, cores $(nproc)" >&2
args=(--seconds "$secs" --warmup "$warmup" --connections "$conns" --low-connections "$low_conns"
      --wrk-threads "$wrk_threads" --bin "$bin")
[[ -n "$out" ]] && args+=(--out "$out")
# --kill-child + PID namespace: if this script dies, the kernel ends every process started inside.
unshare --net --pid --fork --kill-child -- bash "$here/$(basename "$0")" "${args[@]}"
