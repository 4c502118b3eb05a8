-- wrk script: POST /v1/jobs, a small summarize job (each 202 is a durable insert).
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.headers["authorization"] = "Bearer " .. (os.getenv("KEY") or "bench")
wrk.body = '{"task_type":"summarize","max_tokens":64,' ..
  '"messages":[{"role":"user","content":"Summarise the quarterly report in two sentences please."}]}'

function done(summary, latency, requests)
  io.write(string.format("RESULT requests/s=%.0f p50_ms=%.3f p99_ms=%.3f errors=%d non2xx=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
