-- wrk script for bench/compare/run.sh: POSTs the same chat-completion body to
-- every target, so the three runs differ only in what sits in front of the simulator.
--   BODY_FILE      the JSON body (written once by run.sh)
--   KEY            Authorization bearer (an Aegis virtual key, or anything for sim/Portkey)
--   EXTRA_HEADERS  optional "name: value" lines (Portkey's routing headers)
-- done() prints one machine-readable line: RESULT {json}.
local f = assert(io.open(assert(os.getenv("BODY_FILE"), "BODY_FILE not set"), "rb"))
local body = f:read("*a")
f:close()

wrk.method = "POST"
wrk.body = body
wrk.headers["content-type"] = "application/json"
wrk.headers["authorization"] = "Bearer " .. (os.getenv("KEY") or "bench")
for line in (os.getenv("EXTRA_HEADERS") or ""):gmatch("[^\n]+") do
  local name, value = line:match("^%s*([^:]+):%s*(.-)%s*$")
  if name then wrk.headers[name] = value end
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local p = function(q) return latency:percentile(q) / 1000 end
  io.write(string.format(
    'RESULT {"requests":%d,"duration_s":%.3f,"rps":%.1f,"p50_ms":%.3f,"p90_ms":%.3f,' ..
    '"p99_ms":%.3f,"p999_ms":%.3f,"max_ms":%.3f,"socket_errors":%d,"non2xx":%d}\n',
    summary.requests, secs, summary.requests / secs, p(50), p(90), p(99), p(99.9),
    latency.max / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
