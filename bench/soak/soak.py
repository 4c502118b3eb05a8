"""Soak load for bench/soak/run.sh (python3 stdlib only; see run.sh for the rules).

Usage: soak.py --gw URL --sim URL --key KEY --pid PID --seconds N
               [--concurrency 16] [--max-error-ratio 0.01] [--fault-every 60] [--out FILE]

CONCURRENCY threads, each on its own keep-alive connection (http.client),
send a seeded random mix of: OpenAI and Anthropic chat, OpenAI and Anthropic
streams (read to their last event), embeddings, async jobs (POST /v1/jobs,
then GET ?wait= until final) and RESTRICTED chat (a Canadian SIN or a card
number; it must come back 200 with x-aegis-classification: RESTRICTED).
Every minute (--fault-every), from second 30 (none in the last 25 s), a fault is set on the
simulator for a count of requests (POST /_sim/faults); its window lasts until
the simulator has spent the count, plus the breaker's open time and 2 s. A
request that overlaps a window is "faulted": its errors are expected. Every
5 s: the gateway's VmRSS and open fds.

Exit 1 when: the gateway dies; the final RSS or fd count is outside +-10 % of
the reference sample (at 60 s, or at 20 s for runs under 180 s); the error
ratio of non-faulted requests is above --max-error-ratio; or a kind of request
never succeeded outside the fault windows. The final sample is the one at N s,
or, if a fault window is still open then, the first one after it closed.
"""
import argparse
import collections
import http.client
import json
import os
import random
import sys
import threading
import time
from urllib.parse import urlparse

OPEN_DURATION_S = 5  # resilience.open_duration_s in run.sh's config
FAULTS = [("status_500", 6), ("hang", 3), ("reset", 6), ("status_503", 6), ("truncate", 4), ("garbage", 4),
          ("status_429", 6)]
TEXT = "Summarise the quarterly report in two sentences please."
RESTRICTED_TEXTS = [
    "Update the file of the client whose SIN is 046 454 286 before Friday.",
    "Refund the purchase made with card 4111 1111 1111 1111 yesterday.",
]


class Failure(Exception):
    pass


class Faults:
    """Fault windows, visible to the workers while they run."""

    def __init__(self):
        self.lock = threading.Lock()
        self.active = False
        self.epoch = 0  # windows begun so far
        self.windows = []  # (start s, end s, mode, count)

    def snapshot(self):
        with self.lock:
            return self.active, self.epoch

    def begin(self):
        with self.lock:
            self.active = True
            self.epoch += 1

    def end(self):
        with self.lock:
            self.active = False


class Stats:
    def __init__(self, kinds):
        self.lock = threading.Lock()
        self.count = {k: {"ok": 0, "err": 0, "faulted_ok": 0, "faulted_err": 0} for k in kinds}
        self.examples = []  # the first non-faulted errors
        self.faulted_causes = collections.Counter()  # what faulted requests failed with
        self.interval_done = 0
        self.interval_err = 0

    def record(self, kind, ok, faulted, detail):
        with self.lock:
            key = ("faulted_" if faulted else "") + ("ok" if ok else "err")
            self.count[kind][key] += 1
            self.interval_done += 1
            if not ok and faulted:
                self.faulted_causes[f"{kind}: {cause(detail)}"] += 1
            if not ok and not faulted:
                self.interval_err += 1
                if len(self.examples) < 10:
                    self.examples.append(f"{kind}: {detail}")

    def take_interval(self):
        with self.lock:
            done, err = self.interval_done, self.interval_err
            self.interval_done = self.interval_err = 0
            return done, err


def cause(detail):
    """The gist of an error: 'Failure: HTTP 502: b'{...' -> 'HTTP 502 upstream_error'."""
    text = detail.split(": ", 1)[-1]
    if text.startswith("HTTP ") or text.startswith(("submit HTTP", "poll HTTP")):
        head, _, rest = text.partition(": ")
        kind = rest.split('"type":"', 1)[1].split('"', 1)[0] if '"type":"' in rest else ""
        return f"{head} {kind}".strip()
    return text[:60]


class Client:
    def __init__(self, base, key):
        url = urlparse(base)
        self.host, self.port, self.key = url.hostname, url.port, key
        self.conn = None

    def request(self, method, path, body=None, headers=None, stream_end=None):
        """(status, headers, body bytes); a streamed body is read to its end and must hold stream_end."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        hdrs = {"authorization": f"Bearer {self.key}"}
        if body is not None:
            hdrs["content-type"] = "application/json"
            body = json.dumps(body).encode()
        hdrs.update(headers or {})
        try:
            self.conn.request(method, path, body=body, headers=hdrs)
            resp = self.conn.getresponse()
            data = resp.read()
            result = resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
            if resp.will_close:
                self.close()
            return result
        except (OSError, http.client.HTTPException) as e:
            self.close()
            raise Failure(f"{type(e).__name__}: {e}") from None

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def expect(cond, what):
    if not cond:
        raise Failure(what)


def answer_ok(status, data, anthropic=False):
    expect(status == 200, f"HTTP {status}: {data[:200]!r}")
    body = json.loads(data)
    text = body["content"][0]["text"] if anthropic else body["choices"][0]["message"]["content"]
    expect(text.startswith("Echo:"), f"unexpected answer {text[:80]!r}")


def chat_openai(c, rnd):
    status, _, data = c.request("POST", "/v1/chat/completions", {
        "model": rnd.choice(["auto", "sim-small", "haiku"]), "max_tokens": 32,
        "messages": [{"role": "user", "content": TEXT}]})
    answer_ok(status, data)


def chat_anthropic(c, rnd):
    status, _, data = c.request("POST", "/v1/messages", {
        "model": "sim-small", "max_tokens": 32, "messages": [{"role": "user", "content": TEXT}]},
        headers={"anthropic-version": "2023-06-01"})
    answer_ok(status, data, anthropic=True)


def stream_openai(c, rnd):
    status, _, data = c.request("POST", "/v1/chat/completions", {
        "model": "sim-small", "max_tokens": 32, "stream": True, "messages": [{"role": "user", "content": TEXT}]})
    expect(status == 200, f"HTTP {status}: {data[:200]!r}")
    expect(data.rstrip().endswith(b"data: [DONE]"), f"stream without [DONE]: ...{data[-120:]!r}")


def stream_anthropic(c, rnd):
    status, _, data = c.request("POST", "/v1/messages", {
        "model": "sim-small", "max_tokens": 32, "stream": True, "messages": [{"role": "user", "content": TEXT}]},
        headers={"anthropic-version": "2023-06-01"})
    expect(status == 200, f"HTTP {status}: {data[:200]!r}")
    expect(b"event: message_stop" in data, f"stream without message_stop: ...{data[-120:]!r}")


def embeddings(c, rnd):
    status, _, data = c.request("POST", "/v1/embeddings", {
        "model": "text-embedding-3-small", "input": [TEXT, "second input %d" % rnd.randrange(1000)]})
    expect(status == 200, f"HTTP {status}: {data[:200]!r}")
    body = json.loads(data)
    expect(len(body["data"]) == 2 and len(body["data"][0]["embedding"]) > 0, "not two embeddings")


def job(c, rnd):
    status, _, data = c.request("POST", "/v1/jobs", {
        "task_type": rnd.choice(["summarize", "chat"]), "max_tokens": 32, "prompt": TEXT})
    expect(status == 202, f"submit HTTP {status}: {data[:200]!r}")
    job_id = json.loads(data)["id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status, _, data = c.request("GET", f"/v1/jobs/{job_id}?wait=10")
        expect(status == 200, f"poll HTTP {status}: {data[:200]!r}")
        body = json.loads(data)
        if body["status"] not in ("queued", "running"):
            expect(body["status"] == "succeeded", f"job {body['status']}: {body.get('error')}")
            expect(body["result"]["text"].startswith("Echo:"), "unexpected job result")
            return
    raise Failure(f"job {job_id} not finished after 60 s")


def restricted(c, rnd):
    text = rnd.choice(RESTRICTED_TEXTS)
    if rnd.random() < 0.5:
        status, headers, data = c.request("POST", "/v1/chat/completions", {
            "model": "auto", "max_tokens": 32, "messages": [{"role": "user", "content": text}]})
        answer_ok(status, data)
    else:
        status, headers, data = c.request("POST", "/v1/messages", {
            "model": "sim-small", "max_tokens": 32, "messages": [{"role": "user", "content": text}]},
            headers={"anthropic-version": "2023-06-01"})
        answer_ok(status, data, anthropic=True)
    level = headers.get("x-aegis-classification")
    expect(level == "RESTRICTED", f"classified {level}, expected RESTRICTED")


MIX = [(chat_openai, 25), (chat_anthropic, 12), (stream_openai, 13), (stream_anthropic, 5), (embeddings, 15),
       (job, 10), (restricted, 20)]
KINDS = [f.__name__ for f, _ in MIX]


def worker(n, args, stop, faults, stats):
    rnd = random.Random(1000 + n)
    client = Client(args.gw, args.key)
    funcs, weights = [f for f, _ in MIX], [w for _, w in MIX]
    while not stop.is_set():
        fn = rnd.choices(funcs, weights)[0]
        active0, epoch0 = faults.snapshot()
        ok, detail = True, ""
        try:
            fn(client, rnd)
        except (Failure, ValueError, KeyError, IndexError, TypeError) as e:
            ok, detail = False, f"{type(e).__name__}: {e}"
            client.close()
        active1, epoch1 = faults.snapshot()
        stats.record(fn.__name__, ok, active0 or active1 or epoch0 != epoch1, detail)
    client.close()


def sim_call(args, method, path, body=None):
    url = urlparse(args.sim)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers={"content-type": "application/json"})
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"simulator {method} {path}: HTTP {resp.status} {data[:200]!r}")
        return json.loads(data)
    finally:
        conn.close()


def injector(args, t0, stop, faults):
    i = 0
    at = 30.0
    while at <= args.seconds - 25:
        if stop.wait(max(0.0, t0 + at - time.monotonic())):
            return
        mode, count = FAULTS[i % len(FAULTS)]
        i += 1
        start = time.monotonic() - t0
        faults.begin()
        sim_call(args, "POST", "/_sim/faults", {"mode": mode, "count": count})
        spent_by = time.monotonic() + 45
        while time.monotonic() < spent_by and not stop.is_set():
            state = sim_call(args, "GET", "/_sim/faults")
            if state.get("mode") == "none" or not state.get("count"):
                break
            time.sleep(0.2)
        else:
            sim_call(args, "POST", "/_sim/faults", {"mode": "none"})  # not spent in 45 s: clear it
        stop.wait(OPEN_DURATION_S + 2)
        faults.end()
        with faults.lock:
            faults.windows.append((start, time.monotonic() - t0, mode, count))
        at += args.fault_every


def proc_state(pid):
    """(alive, rss kB, open fds); a zombie is dead."""
    try:
        with open(f"/proc/{pid}/status") as f:
            status = dict(line.split(":", 1) for line in f if ":" in line)
        if status.get("State", "").strip().startswith(("Z", "X")):
            return False, None, None
        return True, int(status["VmRSS"].split()[0]), len(os.listdir(f"/proc/{pid}/fd"))
    except (OSError, KeyError, ValueError):
        return False, None, None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--gw", required=True)
    p.add_argument("--sim", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--seconds", type=int, required=True)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--max-error-ratio", type=float, default=0.01)
    p.add_argument("--fault-every", type=float, default=60.0)
    p.add_argument("--out", default="")
    args = p.parse_args()

    ref_at = 60 if args.seconds >= 180 else 20
    stop = threading.Event()
    faults, stats = Faults(), Stats(KINDS)
    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, args=(n, args, stop, faults, stats), daemon=True)
               for n in range(args.concurrency)]
    threads.append(threading.Thread(target=injector, args=(args, t0, stop, faults), daemon=True))
    for t in threads:
        t.start()

    out = []

    def say(line=""):
        print(line, flush=True)
        out.append(line)

    say(f"soak: {args.seconds} s, {args.concurrency} clients, gateway pid {args.pid}; "
        f"reference sample at {ref_at} s; loadavg at start {open('/proc/loadavg').read().split()[:3]}")
    say()
    say("| t s | RSS MiB | fds | req/s | errors (non-faulted) | fault |")
    say("|---:|---:|---:|---:|---:|---|")
    series = []
    died_at = None
    last = t0
    k, active = 0, False
    while True:
        if k > args.seconds // 5 and (not active or k > (args.seconds + 60) // 5):
            break  # the final sample is one taken outside a fault window (up to 60 s more)
        time.sleep(max(0.0, t0 + 5 * k - time.monotonic()))
        now = time.monotonic()
        alive, rss, fds = proc_state(args.pid)
        done, err = stats.take_interval()
        active, _ = faults.snapshot()
        rate = done / (now - last) if now > last else 0.0
        last = now
        if not alive:
            died_at = 5 * k
            say(f"| {5 * k} | - | - | {rate:.0f} | {err} | gateway DEAD |")
            break
        series.append((5 * k, rss, fds))
        say(f"| {5 * k} | {rss / 1024:.1f} | {fds} | {rate:.0f} | {err} | {'ACTIVE' if active else ''} |")
        k += 1
    stop.set()
    for t in threads:
        t.join(timeout=40)

    say()
    say("faults (start s, end s, mode, count): " +
        (", ".join(f"({s:.0f}, {e:.0f}, {m}, {c})" for s, e, m, c in faults.windows) or "none"))
    say()
    say("| kind | ok | errors | faulted ok | faulted errors |")
    say("|---|---:|---:|---:|---:|")
    total_ok = total_err = 0
    never = []
    for kind in KINDS:
        c = stats.count[kind]
        total_ok += c["ok"]
        total_err += c["err"]
        if c["ok"] == 0:
            never.append(kind)
        say(f"| {kind} | {c['ok']} | {c['err']} | {c['faulted_ok']} | {c['faulted_err']} |")
    for e in stats.examples:
        say(f"  non-faulted error: {e}")
    if stats.faulted_causes:
        say("faulted errors, most common: " +
            "; ".join(f"{k} x{n}" for k, n in stats.faulted_causes.most_common(12)))
    say(f"loadavg at end {open('/proc/loadavg').read().split()[:3]}")

    failures = []
    if died_at is not None:
        failures.append(f"the gateway died (found dead at {died_at} s)")
    else:
        ref = next((s for s in series if s[0] >= ref_at), None)
        final = series[-1]
        if ref is None or ref is final:
            failures.append("too short: no reference sample before the final one")
        else:
            for name, i in (("RSS", 1), ("fds", 2)):
                lo, hi = ref[i] * 0.9, ref[i] * 1.1
                verdict = "ok" if lo <= final[i] <= hi else "OUTSIDE +-10 %"
                say(f"{name}: {final[i]} at {final[0]} s vs {ref[i]} at {ref[0]} s "
                    f"({(final[i] - ref[i]) / ref[i] * 100:+.1f} %): {verdict}")
                if verdict != "ok":
                    failures.append(f"final {name} {final[i]} outside +-10 % of {ref[i]} (at {ref[0]} s)")
    ratio = total_err / max(1, total_ok + total_err)
    say(f"non-faulted requests: {total_ok + total_err}, errors {total_err} ({ratio * 100:.3f} %, "
        f"limit {args.max_error_ratio * 100:g} %)")
    if ratio > args.max_error_ratio:
        failures.append(f"non-faulted error ratio {ratio * 100:.3f} % above {args.max_error_ratio * 100:g} %")
    if never:
        failures.append("never succeeded outside a fault window: " + ", ".join(never))
    say("FAIL: " + "; ".join(failures) if failures else "PASS")
    if args.out:
        with open(args.out, "w") as f:
            f.write("\n".join(out) + "\n")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
