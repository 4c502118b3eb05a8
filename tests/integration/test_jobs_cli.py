"""`aegis jobs submit|get|wait|cancel|list`: the command-line client of /v1/jobs.

JobsCliAgainstGateway drives `aegis serve --demo` (simulated providers); a
provider told to hang by the demo fault API keeps a job running, which is how
cancel and wait --timeout get a job that is not finished. JobsCliRetries uses
a stub HTTP server to check what the real gateway would not do on demand:
answer 503 with retry-after, or not be listening yet.
"""
import http.server
import json
import os
import re
import subprocess
import tempfile
import threading
import time
import unittest

from aegis_harness import AEGIS_BIN, GatewayTestCase, free_port

# Breakers would open after the injected hangs and change later routes; the
# async workers are the default.
CONFIG = """
resilience:
  failure_threshold: 1000
"""
JOB_ID = re.compile(r"^job_[0-9a-f]+$")
SUMMARY = re.compile(r"^(job_[0-9a-f]+) (\w+)  (\S+)  (\S+)$")


def run_cli(args, url, key=None, timeout=60, stdin=None):
    env = {k: v for k, v in os.environ.items() if k not in ("AEGIS_API_KEY", "AEGIS_URL")}
    if url is not None:
        env["AEGIS_URL"] = url
    if key is not None:
        env["AEGIS_API_KEY"] = key
    return subprocess.run([AEGIS_BIN, "jobs", *args], capture_output=True, text=True, timeout=timeout, env=env,
                          input=stdin)


class JobsCliAgainstGateway(GatewayTestCase):
    gateway_args = ("--demo",)
    config_text = CONFIG

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        status, body = cls.gw.admin("POST", "/admin/v1/teams", {"name": "jobs-cli", "monthly_budget_usd": 50})
        assert status == 201, body
        status, created = cls.gw.admin("POST", "/admin/v1/keys", {"team": "jobs-cli"})
        assert status == 201, created
        cls.key = created["key"]
        cls.url = f"http://127.0.0.1:{cls.gw.port}"

    def jobs(self, *args, key="default", **kw):
        return run_cli(args, self.url, self.key if key == "default" else key, **kw)

    def ok(self, *args, **kw):
        r = self.jobs(*args, **kw)
        self.assertEqual(r.returncode, 0, (args, r.stdout, r.stderr))
        return r

    def submit(self, prompt, *extra):
        r = self.ok("submit", "--task", "summarize", "--prompt", prompt, "--max-tokens", "64", *extra)
        job_id = r.stdout.strip()
        self.assertRegex(job_id, JOB_ID)
        return job_id

    def get_json(self, job_id):
        return json.loads(self.ok("get", job_id, "--json").stdout)

    def hang(self, provider="anthropic"):
        status, body = self.gw.admin("POST", "/admin/v1/demo/faults", {"provider": provider, "mode": "hang", "count": 1})
        self.assertEqual(status, 200, body)

    def test_submit_wait_get_human(self):
        job_id = self.submit("hello from the jobs cli", "--metadata", "ticket=T-1", "--metadata", "owner=ops")
        r = self.ok("wait", job_id, "--timeout", "60")
        lines = r.stdout.splitlines()
        m = SUMMARY.match(lines[0])
        self.assertIsNotNone(m, r.stdout)
        self.assertEqual(m.group(1), job_id)
        self.assertEqual(m.group(2), "succeeded")
        self.assertEqual(len(m.group(3).split("/")), 3, m.group(3))  # tier/provider/model
        self.assertRegex(m.group(4), r"^\$\d+\.\d{6}$")
        self.assertEqual(lines[1], "Echo: hello from the jobs cli")
        # get prints the same thing once the job is final.
        self.assertEqual(self.ok("get", job_id).stdout, r.stdout)

    def test_json_output_is_the_servers_document(self):
        r = self.ok("submit", "--task", "summarize", "--prompt", "json please", "--max-tokens", "32",
                    "--metadata", "ticket=T-2", "--json")
        accepted = json.loads(r.stdout)
        self.assertRegex(accepted["id"], JOB_ID)
        self.assertEqual(accepted["status"], "queued")
        self.assertIn("classification", accepted)
        self.assertIn("created_at", accepted)
        done = json.loads(self.ok("wait", accepted["id"], "--json").stdout)
        self.assertEqual(done["status"], "succeeded")
        job = self.get_json(accepted["id"])
        self.assertEqual(job, done)
        self.assertEqual(job["id"], accepted["id"])
        self.assertEqual(job["task_type"], "summarize")
        self.assertEqual(job["metadata"], {"ticket": "T-2"})
        self.assertEqual(job["result"]["text"], "Echo: json please")
        self.assertGreater(job["result"]["usage"]["output_tokens"], 0)
        self.assertIsInstance(job["result"]["cost_usd"], (int, float))
        self.assertLessEqual({"tier", "provider", "model", "reason"}, set(job["route"]))
        self.assertIsNone(job["error"])
        for field in ("created_at", "started_at", "finished_at"):
            self.assertRegex(job[field], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

    def test_submit_wait_and_input_files(self):
        with tempfile.TemporaryDirectory() as tmp:
            messages = os.path.join(tmp, "messages.json")
            with open(messages, "w") as f:
                json.dump([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "from a file"}], f)
            r = self.ok("submit", "--task", "summarize", "--messages-file", messages, "--max-tokens", "32",
                        "--wait", "--timeout", "60", "--json")
            job = json.loads(r.stdout)
            self.assertEqual(job["status"], "succeeded")
            self.assertEqual(job["result"]["text"], "Echo: from a file")
        r = self.ok("submit", "--task", "summarize", "--prompt-file", "-", "--max-tokens", "32", "--wait",
                    stdin="from stdin")
        self.assertRegex(r.stdout.splitlines()[0], r"^job_[0-9a-f]+ succeeded  ")
        self.assertEqual(r.stdout.splitlines()[1], "Echo: from stdin")

    def test_idempotency_key_returns_the_first_job(self):
        first = self.submit("once", "--idempotency-key", "cli-idem-1")
        second = self.submit("once", "--idempotency-key", "cli-idem-1")
        self.assertEqual(first, second)
        self.assertNotEqual(self.submit("twice"), self.submit("twice"))  # no key of ours: two jobs
        self.ok("wait", first)

    def test_list_pages_filters_and_columns(self):
        ids = [self.submit(f"list me {i}") for i in range(3)]
        for job_id in ids:
            self.ok("wait", job_id)
        page = json.loads(self.ok("list", "--limit", "1", "--json").stdout)
        self.assertEqual(page["object"], "list")
        self.assertEqual(len(page["data"]), 1)
        self.assertTrue(page["has_more"])
        self.assertTrue(page["next_cursor"])
        nxt = json.loads(self.ok("list", "--limit", "1", "--cursor", page["next_cursor"], "--json").stdout)
        self.assertNotEqual(nxt["data"][0]["id"], page["data"][0]["id"])

        everything = json.loads(self.ok("list", "--all", "--limit", "2", "--json").stdout)
        listed = [j["id"] for j in everything["data"]]
        self.assertFalse(everything["has_more"])
        self.assertEqual(len(listed), len(set(listed)))
        for job_id in ids:
            self.assertIn(job_id, listed)
        self.assertLess(listed.index(ids[0]), listed.index(ids[2]))  # oldest first

        succeeded = json.loads(self.ok("list", "--all", "--status", "succeeded", "--json").stdout)
        self.assertTrue(all(j["status"] == "succeeded" for j in succeeded["data"]))

        table = self.ok("list", "--all").stdout.splitlines()
        header = table[0]
        self.assertTrue(header.startswith("ID"), header)
        rows = [line for line in table[1:] if line.split()[0] in ids]
        self.assertEqual(len(rows), 3, table)
        for column in ("STATUS", "TASK", "ROUTE", "COST", "CREATED"):
            at = header.index(column)
            for row in rows:
                self.assertNotEqual(row[at], " ", (column, row))
                self.assertEqual(row[at - 1], " ", (column, row))
        self.assertIn("succeeded", rows[0])

    def test_wait_timeout_cancel_and_second_cancel(self):
        self.hang("anthropic")
        job_id = self.submit("this one hangs", "--model", "claude-haiku-4-5")
        started = time.monotonic()
        r = self.jobs("wait", job_id, "--timeout", "1.5")
        elapsed = time.monotonic() - started
        self.assertEqual(r.returncode, 124, (r.stdout, r.stderr))
        self.assertIn("timed out", r.stderr)
        self.assertGreaterEqual(elapsed, 1.4)
        self.assertLess(elapsed, 15)
        r = self.jobs("wait", job_id, "--timeout", "0", "--json")
        self.assertEqual(r.returncode, 124, r.stderr)
        self.assertIn(json.loads(r.stdout)["status"], ("queued", "running"))

        r = self.ok("cancel", job_id)
        self.assertRegex(r.stdout.splitlines()[0], rf"^{job_id} cancelled  ")
        again = self.jobs("cancel", job_id)
        self.assertEqual(again.returncode, 1, again.stdout)
        self.assertIn("conflict", again.stderr)
        self.assertIn("409", again.stderr)
        self.assertEqual(again.stdout, "")
        # A job that ended cancelled makes wait fail at once.
        r = self.jobs("wait", job_id, "--timeout", "30", "--json")
        self.assertEqual(r.returncode, 1, r.stderr)
        job = json.loads(r.stdout)
        self.assertEqual(job["status"], "cancelled")
        self.assertEqual(job["error"]["type"], "cancelled")

    def test_unknown_job_and_server_errors_exit_1_with_type_and_message(self):
        r = self.jobs("get", "job_00000000000000000000000000000000000000000000")
        self.assertEqual(r.returncode, 1)
        self.assertIn("not_found", r.stderr)
        self.assertIn("404", r.stderr)
        r = self.jobs("submit", "--task", "not a task!", "--prompt", "x", "--max-tokens", "5")
        self.assertEqual(r.returncode, 1)
        self.assertIn("invalid_request", r.stderr)
        self.assertEqual(r.stdout, "")

    def test_missing_key_exits_2(self):
        r = self.jobs("list", key=None)
        self.assertEqual(r.returncode, 2)
        self.assertIn("AEGIS_API_KEY", r.stderr)
        r = self.jobs("get", "job_x", key="")
        self.assertEqual(r.returncode, 2)

    def test_wrong_key_exits_1_unauthorized_and_never_prints_the_key(self):
        wrong = "aegis_sk_definitely-not-a-valid-key-1234567890"
        r = self.jobs("list", key=wrong)
        self.assertEqual(r.returncode, 1)
        self.assertIn("authentication_error", r.stderr)
        self.assertIn("401", r.stderr)
        self.assertNotIn(wrong, r.stdout + r.stderr)
        r = self.jobs("list", "--json")
        self.assertNotIn(self.key, r.stdout + r.stderr)

    def test_usage_errors_exit_2(self):
        cases = [
            ["submit", "--prompt", "x", "--max-tokens", "5"],                        # no --task
            ["submit", "--task", "t", "--max-tokens", "5"],                           # no prompt
            ["submit", "--task", "t", "--prompt", "x"],                               # no --max-tokens
            ["submit", "--task", "t", "--prompt", "x", "--prompt-file", "f", "--max-tokens", "5"],
            ["submit", "--task", "t", "--prompt", "x", "--max-tokens", "many"],
            ["submit", "--task", "t", "--prompt", "x", "--max-tokens", "5", "--metadata", "novalue"],
            ["submit", "--task", "t", "--prompt", "x", "--max-tokens", "5", "--timeout", "3"],  # needs --wait
            ["submit", "--task", "t", "--prompt-file", "/nonexistent/file", "--max-tokens", "5"],
            ["get"],
            ["wait", "job_x", "--timeout", "-1"],
            ["list", "--frobnicate"],
            [],
        ]
        for args in cases:
            r = self.jobs(*args)
            self.assertEqual(r.returncode, 2, (args, r.stdout, r.stderr))
        r = run_cli(["list"], "ftp://example.com", self.key)
        self.assertEqual(r.returncode, 2)
        self.assertIn("http://", r.stderr)

    def test_url_flag_overrides_the_environment(self):
        r = run_cli(["list", "--url", self.url, "--json"], f"http://127.0.0.1:{free_port()}", self.key)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["object"], "list")


class Stub(http.server.ThreadingHTTPServer):
    """Answers from a script of (status, headers, body) and records requests."""

    def __init__(self, port, script):
        self.script = list(script)
        self.seen = []
        super().__init__(("127.0.0.1", port), StubHandler)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.shutdown()
        self.server_close()


class StubHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.seen.append((self.command, self.path, dict(self.headers.items()), body))
        status, headers, payload = self.server.script.pop(0) if self.server.script else (500, {}, {})
        data = json.dumps(payload).encode()
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = answer


RUNNING = {"id": "job_abc", "status": "running", "route": None, "result": None, "error": None}
DONE = {"id": "job_abc", "status": "succeeded", "route": {"tier": "haiku", "provider": "p", "model": "m", "reason": "r"},
        "result": {"text": "done", "usage": {"input_tokens": 1, "output_tokens": 1}, "cost_usd": 0.000123},
        "error": None}
BUSY = {"error": {"type": "rate_limited", "message": "queue full", "request_id": "req_1"}}


class JobsCliRetries(unittest.TestCase):
    def setUp(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.stub = None

    def tearDown(self):
        if self.stub:
            self.stub.close()

    def test_retry_after_429_reuses_the_idempotency_key(self):
        self.stub = Stub(self.port, [(429, {"retry-after": "1"}, BUSY),
                                     (202, {}, {"id": "job_abc", "status": "queued"})])
        r = run_cli(["submit", "--task", "t", "--prompt", "p", "--max-tokens", "5"], self.url, "k-123")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "job_abc\n")
        self.assertEqual(len(self.stub.seen), 2)
        keys = [{k.lower(): v for k, v in s[2].items()}.get("idempotency-key") for s in self.stub.seen]
        self.assertTrue(keys[0])
        self.assertEqual(keys[0], keys[1])
        headers = {k.lower(): v for k, v in self.stub.seen[0][2].items()}
        self.assertEqual(headers["authorization"], "Bearer k-123")
        sent = json.loads(self.stub.seen[0][3])
        self.assertEqual(sent, {"task_type": "t", "max_tokens": 5, "prompt": "p"})

    def test_429_without_retry_after_is_not_retried_and_exits_1(self):
        self.stub = Stub(self.port, [(429, {}, BUSY)])
        r = run_cli(["get", "job_abc"], self.url, "k")
        self.assertEqual(r.returncode, 1)
        self.assertIn("rate_limited: queue full", r.stderr)
        self.assertEqual(len(self.stub.seen), 1)

    def test_connection_refused_is_retried_until_the_gateway_listens(self):
        proc = subprocess.Popen([AEGIS_BIN, "jobs", "get", "job_abc"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=dict(os.environ, AEGIS_URL=self.url, AEGIS_API_KEY="k"))
        # The scenario itself, not a wait: the gateway starts listening 0.8 s after the
        # client started, between its retries (0.5 s, then 1 s), so the first attempts
        # are refused. The client shows nothing of a refused attempt to wait on.
        time.sleep(0.8)
        self.stub = Stub(self.port, [(200, {}, DONE)])
        out, err = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, 0, err)
        self.assertEqual(out.splitlines(), ["job_abc succeeded  haiku/p/m  $0.000123", "done"])

    def test_nobody_listening_exits_1_after_retries(self):
        started = time.monotonic()
        r = run_cli(["list"], self.url, "k")
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot reach", r.stderr)
        self.assertGreater(time.monotonic() - started, 3)  # 0.5 + 1 + 2 s of backoff

    def test_wait_long_polls_with_the_remaining_time(self):
        self.stub = Stub(self.port, [(200, {}, RUNNING), (200, {}, DONE)])
        r = run_cli(["wait", "job_abc", "--timeout", "30"], self.url, "k")
        self.assertEqual(r.returncode, 0, r.stderr)
        paths = [s[1] for s in self.stub.seen]
        self.assertEqual(len(paths), 2)
        first = float(re.match(r"^/v1/jobs/job_abc\?wait=([\d.]+)$", paths[0]).group(1))
        self.assertTrue(25 < first <= 30, paths)
        self.assertEqual(r.stdout.splitlines()[0], "job_abc succeeded  haiku/p/m  $0.000123")

    def test_wait_exits_1_when_the_job_failed(self):
        failed = dict(RUNNING, status="failed", error={"type": "upstream_timeout", "message": "too slow"})
        self.stub = Stub(self.port, [(200, {}, failed)])
        r = run_cli(["wait", "job_abc"], self.url, "k")
        self.assertEqual(r.returncode, 1)
        self.assertIn("error: upstream_timeout: too slow", r.stdout)


if __name__ == "__main__":
    unittest.main()
