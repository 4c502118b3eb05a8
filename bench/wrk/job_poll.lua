-- wrk script: GET /v1/jobs/{JOB} (a finished job: the poll path without waiting).
wrk.method = "GET"
wrk.headers["authorization"] = "Bearer " .. (os.getenv("KEY") or "bench")
wrk.path = "/v1/jobs/" .. (os.getenv("JOB") or "none")

function done(summary, latency, requests)
  io.write(string.format("RESULT requests/s=%.0f p50_ms=%.3f p99_ms=%.3f errors=%d non2xx=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
