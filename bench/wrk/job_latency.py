"""End-to-end latency of one request, sequentially on one keep-alive connection:
a synchronous chat completion vs the same request as a job (POST /v1/jobs, then
GET ?wait=60 until it has finished). Prints medians and p99 from the same run."""
import http.client
import json
import statistics
import sys
import time
from urllib.parse import urlparse

base, key, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
url = urlparse(base)
conn = http.client.HTTPConnection(url.hostname, url.port, timeout=70)
headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
text = "Summarise the quarterly report in two sentences please."
chat = json.dumps({"model": "auto", "max_tokens": 64, "messages": [{"role": "user", "content": text}]})
job = json.dumps({"task_type": "chat", "max_tokens": 64, "messages": [{"role": "user", "content": text}]})


def call(method, path, body=None):
    conn.request(method, path, body=body, headers=headers)
    r = conn.getresponse()
    data = r.read()
    return r.status, data


def sync_once():
    status, _ = call("POST", "/v1/chat/completions", chat)
    assert status == 200, status


def job_once():
    status, data = call("POST", "/v1/jobs", job)
    assert status == 202, (status, data)
    job_id = json.loads(data)["id"]
    while True:
        status, data = call("GET", f"/v1/jobs/{job_id}?wait=60")
        assert status == 200, status
        if json.loads(data)["status"] not in ("queued", "running"):
            return


def measure(fn):
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    out.sort()
    return statistics.median(out), out[int(len(out) * 0.99) - 1]


for _ in range(20):  # warm up both paths
    sync_once()
    job_once()
# Interleaved rounds so machine noise hits both alike.
s_runs, j_runs = [], []
for _ in range(3):
    s_runs.append(measure(sync_once))
    j_runs.append(measure(job_once))
s50 = statistics.median(r[0] for r in s_runs); s99 = statistics.median(r[1] for r in s_runs)
j50 = statistics.median(r[0] for r in j_runs); j99 = statistics.median(r[1] for r in j_runs)
print(f"latency sync chat      p50_ms={s50:.3f} p99_ms={s99:.3f}")
print(f"latency job submit+wait p50_ms={j50:.3f} p99_ms={j99:.3f} overhead_p50_ms={j50 - s50:.3f}")
