"""Rate and concurrency limits per key and per team (issue 19) through the real binary:
the admin API and its validation, requests and tokens per minute (tokens estimated at
admission and corrected with the usage), concurrency with a slow simulator stream that the
client leaves, the response headers on success and on 429 in OpenAI's and Anthropic's
names, jobs and embeddings, the per-address throttle of failed authentication, and three
replicas on one PostgreSQL database staying within the documented bound."""
import datetime
import http.client
import json
import math
import os
import socket
import subprocess
import tempfile
import time
import unittest
import uuid

from aegis_harness import AEGIS_BIN, Gateway, GatewayTestCase, DemoUpstreams, wait_until
from test_sim import Sim

OPENAI_HEADERS = ("x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests")
OPENAI_TOKEN_HEADERS = ("x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens")
ANTHROPIC_HEADERS = ("anthropic-ratelimit-requests-limit", "anthropic-ratelimit-requests-remaining",
                     "anthropic-ratelimit-requests-reset")


def chat(prompt="hello", max_tokens=16, **extra):
    return dict({"model": "auto", "max_tokens": max_tokens, "messages": [{"role": "user", "content": prompt}]},
                **extra)


def limited(metrics, team, kind):
    return metrics.get(("aegis_rate_limited_total", frozenset({"team": team, "kind": kind}.items())), 0)


class RateLimits(DemoUpstreams, GatewayTestCase):
    gateway_args = ("--demo",)

    def patch_team(self, team, body):
        return self.gw.admin("PATCH", f"/admin/v1/teams/{team}", body)

    def key_id(self, key):
        return key.split("_")[1]

    def test_limits_are_set_shown_and_removed_through_the_admin_api(self):
        team, key = self.new_team("rl-admin")
        status, body = self.patch_team(team, {"rpm": 5, "tpm": 1000, "max_concurrency": 2})
        self.assertEqual(status, 200, body)
        self.assertEqual((body["rpm"], body["tpm"], body["max_concurrency"]), (5, 1000, 2))
        self.assertEqual(body["monthly_budget_usd"], 50)  # the rest of the team untouched
        status, body = self.gw.admin("GET", f"/admin/v1/teams/{team}")
        self.assertEqual((body["rpm"], body["tpm"], body["max_concurrency"]), (5, 1000, 2))
        status, body = self.gw.admin("GET", "/admin/v1/teams")
        listed = [t for t in body["teams"] if t["name"] == team][0]
        self.assertEqual((listed["rpm"], listed["tpm"], listed["max_concurrency"]), (5, 1000, 2))
        # null removes one limit and keeps the others; a budget change keeps them all.
        status, body = self.patch_team(team, {"tpm": None})
        self.assertEqual((body["rpm"], body["tpm"], body["max_concurrency"]), (5, None, 2))
        status, body = self.patch_team(team, {"monthly_budget_usd": 60})
        self.assertEqual((body["rpm"], body["tpm"], body["max_concurrency"], body["monthly_budget_usd"]),
                         (5, None, 2, 60))

        kid = self.key_id(key)
        status, body = self.gw.admin("PATCH", f"/admin/v1/keys/{kid}", {"rpm": 7})
        self.assertEqual(status, 200, body)
        self.assertEqual((body["id"], body["rpm"], body["tpm"], body["max_concurrency"]), (kid, 7, None, None))
        status, body = self.gw.admin("GET", f"/admin/v1/keys?team={team}")
        self.assertEqual(body["keys"][0]["rpm"], 7)
        status, body = self.gw.admin("PATCH", f"/admin/v1/keys/{kid}", {"rpm": None})
        self.assertEqual(body["rpm"], None)
        status, body = self.gw.admin("GET", f"/admin/v1/keys?team={team}")
        self.assertEqual((body["keys"][0]["rpm"], body["keys"][0]["tpm"]), (None, None))

    def test_bad_limits_are_400_and_unknown_targets_404(self):
        team, key = self.new_team("rl-bad")
        kid = self.key_id(key)
        for path in (f"/admin/v1/teams/{team}", f"/admin/v1/keys/{kid}"):
            for field in ("rpm", "tpm", "max_concurrency"):
                for value in (0, -1, 1.5, "5", True, [], 10 ** 12):
                    status, body = self.gw.admin("PATCH", path, {field: value})
                    self.assertEqual(status, 400, (path, field, value, body))
                    self.assertEqual(body["error"]["type"], "invalid_request")
                    self.assertIn(field, body["error"]["message"])
            status, body = self.gw.admin("PATCH", path, {})
            self.assertEqual(status, 400, body)
            status, body = self.gw.admin("PATCH", path, {"rpm": 5, "rpn": 6})
            self.assertEqual(status, 400, body)
            self.assertIn("rpn", body["error"]["message"])
        # Nothing was changed by the refused requests.
        status, body = self.gw.admin("GET", f"/admin/v1/teams/{team}")
        self.assertEqual((body["rpm"], body["tpm"], body["max_concurrency"]), (None, None, None))
        status, body = self.gw.admin("PATCH", "/admin/v1/keys/0123456789abcdef", {"rpm": 5})
        self.assertEqual(status, 404, body)
        status, body = self.gw.admin("PATCH", "/admin/v1/teams/no-such-team", {"rpm": 5})
        self.assertEqual(status, 404, body)

    def test_requests_per_minute_with_headers_on_every_answer(self):
        team, key = self.new_team("rl-rpm")
        self.assertEqual(self.patch_team(team, {"rpm": 3})[0], 200)
        for i in range(3):
            status, headers, body = self.call_json(key, "POST", "/v1/chat/completions", chat())
            self.assertEqual(status, 200, body)
            self.assertEqual(headers["x-ratelimit-limit-requests"], "3")
            self.assertEqual(headers["x-ratelimit-remaining-requests"], str(2 - i))
            self.assertRegex(headers["x-ratelimit-reset-requests"], r"^(\d+m)?\d+s$|^\d+ms$")
            self.assertNotIn("x-ratelimit-limit-tokens", headers)  # no tokens limit: no tokens trio
            self.assertNotIn("anthropic-ratelimit-requests-limit", headers)
        sent = len(self.upstream_log())
        status, headers, data = self.gw.request("POST", "/v1/chat/completions", chat(),
                                                {"authorization": f"Bearer {key}"})
        body = self.assertError(status, data, 429, "rate_limited")
        self.assertEqual(len(self.upstream_log()), sent)  # no provider was contacted
        self.assertIn("requests per minute", body["error"]["message"])
        retry = int(headers["retry-after"])
        self.assertTrue(1 <= retry <= 20, headers)  # one request refills every 20 s
        self.assertEqual(headers["x-ratelimit-remaining-requests"], "0")
        self.assertEqual(headers["x-ratelimit-limit-requests"], "3")
        self.assertEqual(limited(self.gw.metrics(), team, "requests"), 1)
        # The refused request never reached a provider and is audited as 429.
        status, audit = self.gw.admin("GET", f"/admin/v1/audit?team={team}")
        self.assertEqual(sorted(r["status"] for r in audit["data"]), [200, 200, 200, 429])

    def test_removing_a_limit_lifts_it_at_once(self):
        team, key = self.new_team("rl-lift")
        self.patch_team(team, {"rpm": 1})
        self.assertEqual(self.call_json(key, "POST", "/v1/chat/completions", chat())[0], 200)
        self.assertEqual(self.call_json(key, "POST", "/v1/chat/completions", chat())[0], 429)
        self.assertEqual(self.patch_team(team, {"rpm": None})[0], 200)
        status, headers, _ = self.call_json(key, "POST", "/v1/chat/completions", chat())
        self.assertEqual(status, 200)
        self.assertFalse([h for h in headers if h.startswith("x-ratelimit-")], headers)

    def test_a_keys_own_limit_narrows_its_teams(self):
        team, key = self.new_team("rl-key")
        status, other = self.gw.admin("POST", "/admin/v1/keys", {"team": team})
        self.assertEqual(status, 201)
        self.patch_team(team, {"rpm": 10})
        self.assertEqual(self.gw.admin("PATCH", f"/admin/v1/keys/{self.key_id(key)}", {"rpm": 1})[0], 200)
        status, headers, _ = self.call_json(key, "POST", "/v1/chat/completions", chat())
        self.assertEqual(status, 200)
        # The most constraining of the two: the key's 1, now spent.
        self.assertEqual((headers["x-ratelimit-limit-requests"], headers["x-ratelimit-remaining-requests"]),
                         ("1", "0"))
        status, _, body = self.call_json(key, "POST", "/v1/chat/completions", chat())
        self.assertEqual(status, 429, body)
        self.assertIn("key's limit", body["error"]["message"])
        status, headers, _ = self.call_json(other["key"], "POST", "/v1/chat/completions", chat())
        self.assertEqual(status, 200)
        self.assertEqual((headers["x-ratelimit-limit-requests"], headers["x-ratelimit-remaining-requests"]),
                         ("10", "8"))

    def test_tokens_are_estimated_at_admission_and_corrected_with_the_usage(self):
        team, key = self.new_team("rl-tpm")
        self.patch_team(team, {"tpm": 1000})
        # Estimated: ceil(prompt bytes / 3) + max_tokens = a little over 600; used: far fewer.
        status, headers, body = self.call_json(key, "POST", "/v1/chat/completions", chat(max_tokens=600))
        self.assertEqual(status, 200, body)
        used = body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]
        self.assertLess(used, 200, body)
        remaining = int(headers["x-ratelimit-remaining-tokens"])
        self.assertEqual(headers["x-ratelimit-limit-tokens"], "1000")
        # Corrected: what the call used is gone, not the estimate (plus a few tokens of refill).
        self.assertGreaterEqual(remaining, 1000 - used - 1)
        self.assertLessEqual(remaining, 1000 - used + 20)
        # Without the correction a second estimate of 600 would not fit.
        status, headers, body = self.call_json(key, "POST", "/v1/chat/completions", chat(max_tokens=600))
        self.assertEqual(status, 200, body)
        # An estimate above what is left does not fit ("hello" is estimated at 2 input tokens;
        # the margin covers what refills meanwhile).
        left = int(headers["x-ratelimit-remaining-tokens"])
        self.assertLess(left, 1000 - 1)
        need = min(1000, left + 50)
        status, headers, body = self.call_json(key, "POST", "/v1/chat/completions", chat(max_tokens=need - 2))
        self.assertEqual(status, 429, body)
        self.assertIn("tokens per minute", body["error"]["message"])
        self.assertGreaterEqual(int(headers["retry-after"]), 1)
        self.assertEqual(headers["x-ratelimit-limit-tokens"], "1000")
        self.assertEqual(limited(self.gw.metrics(), team, "tokens"), 1)

    def test_messages_endpoint_answers_in_anthropics_names(self):
        team, key = self.new_team("rl-msg")
        self.patch_team(team, {"rpm": 2, "tpm": 100000})
        anthropic = {"x-api-key": key, "anthropic-version": "2023-06-01"}
        body = {"model": "sonnet", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
        before = datetime.datetime.now(datetime.timezone.utc)
        for remaining in ("1", "0"):
            status, headers, data = self.gw.request("POST", "/v1/messages", body, anthropic)
            self.assertEqual(status, 200, data)
            self.assertEqual(headers["anthropic-ratelimit-requests-limit"], "2")
            self.assertEqual(headers["anthropic-ratelimit-requests-remaining"], remaining)
            self.assertEqual(headers["anthropic-ratelimit-tokens-limit"], "100000")
            for name in ("anthropic-ratelimit-requests-reset", "anthropic-ratelimit-tokens-reset"):
                reset = datetime.datetime.strptime(headers[name], "%Y-%m-%dT%H:%M:%SZ").replace(
                    tzinfo=datetime.timezone.utc)
                self.assertGreaterEqual(reset, before.replace(microsecond=0))
                self.assertLessEqual(reset, before + datetime.timedelta(seconds=62))
            self.assertFalse([h for h in headers if h.startswith("x-ratelimit-")], headers)
        status, headers, data = self.gw.request("POST", "/v1/messages", body, anthropic)
        error = self.assertError(status, data, 429, "rate_limited")
        self.assertEqual(error["type"], "error")  # Anthropic's shape
        self.assertEqual(headers["anthropic-ratelimit-requests-remaining"], "0")
        self.assertGreaterEqual(int(headers["retry-after"]), 1)
        # A stream is refused the same way, before it starts.
        status, headers, data = self.gw.request("POST", "/v1/messages", dict(body, stream=True), anthropic)
        self.assertError(status, data, 429, "rate_limited")
        self.assertIn("anthropic-ratelimit-requests-limit", headers)

    def test_streams_carry_the_headers(self):
        team, key = self.new_team("rl-stream")
        self.patch_team(team, {"rpm": 5})
        status, headers, data = self.gw.request("POST", "/v1/chat/completions", chat(stream=True),
                                                {"authorization": f"Bearer {key}"})
        self.assertEqual(status, 200, data)
        self.assertIn(b"[DONE]", data)
        self.assertEqual((headers["x-ratelimit-limit-requests"], headers["x-ratelimit-remaining-requests"]),
                         ("5", "4"))

    def test_the_responses_api_is_governed_alike(self):
        team, key = self.new_team("rl-responses")
        self.patch_team(team, {"rpm": 2, "tpm": 100000})
        body = {"model": "auto", "input": "hello", "max_output_tokens": 16}
        status, headers, data = self.call_json(key, "POST", "/v1/responses", body)
        self.assertEqual(status, 200, data)
        self.assertEqual((headers["x-ratelimit-limit-requests"], headers["x-ratelimit-remaining-requests"]),
                         ("2", "1"))
        self.assertEqual(headers["x-ratelimit-limit-tokens"], "100000")
        status, headers, data = self.gw.request("POST", "/v1/responses", dict(body, stream=True),
                                                {"authorization": f"Bearer {key}"})
        self.assertEqual(status, 200, data)
        self.assertIn(b"response.completed", data)
        self.assertEqual(headers["x-ratelimit-remaining-requests"], "0")
        status, headers, data = self.gw.request("POST", "/v1/responses", body, {"authorization": f"Bearer {key}"})
        self.assertError(status, data, 429, "rate_limited")
        self.assertGreaterEqual(int(headers["retry-after"]), 1)
        self.assertEqual(limited(self.gw.metrics(), team, "requests"), 1)

    def test_embeddings_and_jobs_are_governed_too(self):
        team, key = self.new_team("rl-embed")
        self.patch_team(team, {"rpm": 2})
        status, headers, body = self.call_json(key, "POST", "/v1/embeddings", {"model": "nomic-embed-text", "input": "hello"})
        self.assertEqual(status, 200, body)
        self.assertEqual(headers["x-ratelimit-remaining-requests"], "1")
        status, headers, body = self.call_json(key, "POST", "/v1/jobs",
                                               {"task_type": "chat", "prompt": "hello", "max_tokens": 16})
        self.assertEqual(status, 202, body)
        self.assertEqual(headers["x-ratelimit-remaining-requests"], "0")
        # The admitted job runs to the end without being counted (or refused) again.
        def finished():
            status, _, job = self.call_json(key, "GET", f"/v1/jobs/{body['id']}?wait=2")
            return job if job["status"] in ("succeeded", "failed") else None
        self.assertEqual(wait_until(finished, 30, "the job to finish")["status"], "succeeded")
        status, headers, body = self.call_json(key, "POST", "/v1/jobs",
                                               {"task_type": "chat", "prompt": "hello", "max_tokens": 16})
        self.assertEqual(status, 429, body)
        self.assertEqual(body["error"]["type"], "rate_limited")
        self.assertIn("retry-after", headers)
        status, _, body = self.call_json(key, "POST", "/v1/embeddings", {"model": "nomic-embed-text", "input": "hello"})
        self.assertEqual(status, 429, body)
        self.assertEqual(limited(self.gw.metrics(), team, "requests"), 2)

    def test_a_retrieval_answer_counts_once_and_its_ingest_not_at_all(self):
        team, key = self.new_team("rl-rag")
        self.patch_team(team, {"rpm": 2})
        for i in range(3):  # ingestion's embedding calls are not counted
            status, _, doc = self.call_json(key, "POST", "/v1/rag/documents",
                                            {"collection": "kb", "text": f"Payroll runs on day {i + 10}."})
            self.assertEqual(status, 201, doc)
        ask = {"collection": "kb", "question": "When does payroll run?", "top_k": 2, "max_tokens": 50}
        status, headers, body = self.call_json(key, "POST", "/v1/rag/answer", ask)
        self.assertEqual(status, 200, body)
        # One request for the answer, though it embedded the question too.
        self.assertEqual(headers["x-ratelimit-remaining-requests"], "1")
        status, headers, data = self.gw.request("POST", "/v1/rag/answer", dict(ask, stream=True),
                                                {"authorization": f"Bearer {key}"})
        self.assertEqual(status, 200, data)
        self.assertEqual(headers["x-ratelimit-remaining-requests"], "0")
        status, headers, body = self.call_json(key, "POST", "/v1/rag/answer", ask)
        self.assertEqual(status, 429, body)
        self.assertEqual(body["error"]["type"], "rate_limited")
        self.assertEqual(headers["x-ratelimit-limit-requests"], "2")


def slow_config(db_path, sim_port):
    return f"""
storage:
  sqlite_path: "{db_path}"
providers:
  - name: slowcloud
    type: anthropic
    base_url: http://127.0.0.1:{sim_port}
    api_key: test-key
    locality: cloud
    models: {{sonnet: claude-sonnet-4-5}}
"""


class Concurrency(unittest.TestCase):
    """max_concurrency against a stream that takes its time (100 ms a token)."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="aegis-rl-")
        cls.sim = Sim("--per-token-ms", "100")
        cls.gw = Gateway(config_text=slow_config(os.path.join(cls.dir, "aegis.db"), cls.sim.port))

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()
        cls.sim.cleanup()

    def open_stream(self, key, words=300):
        body = json.dumps({"model": "sonnet", "max_tokens": 2000, "stream": True,
                           "messages": [{"role": "user", "content": " ".join(f"w{i}" for i in range(words))}]})
        s = socket.create_connection(("127.0.0.1", self.gw.port), timeout=30)
        s.sendall((f"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                   f"authorization: Bearer {key}\r\ncontent-length: {len(body)}\r\n\r\n{body}").encode())
        raw = b""
        while raw.count(b'"content"') < 3:
            chunk = s.recv(65536)
            self.assertTrue(chunk, raw[-300:])
            raw += chunk
        return s, raw

    def test_a_slot_is_held_for_the_whole_stream_and_freed_when_the_client_leaves(self):
        status, _ = self.gw.admin("POST", "/admin/v1/teams", {"name": "conc", "monthly_budget_usd": 50})
        self.assertEqual(status, 201)
        status, created = self.gw.admin("POST", "/admin/v1/keys", {"team": "conc"})
        key = created["key"]
        status, body = self.gw.admin("PATCH", "/admin/v1/teams/conc", {"max_concurrency": 1})
        self.assertEqual(status, 200, body)
        auth = {"authorization": f"Bearer {key}"}
        short = {"model": "sonnet", "max_tokens": 3, "messages": [{"role": "user", "content": "a b c"}]}

        s, raw = self.open_stream(key)
        self.assertTrue(raw.startswith(b"HTTP/1.1 200"), raw[:200])
        try:
            # Refused at once, not queued behind the stream.
            started = time.monotonic()
            status, headers, data = self.gw.request("POST", "/v1/chat/completions", short, auth, timeout=30)
            self.assertEqual(status, 429, data)
            self.assertLess(time.monotonic() - started, 5)
            body = json.loads(data)
            self.assertEqual(body["error"]["type"], "rate_limited")
            self.assertIn("concurrent requests", body["error"]["message"])
            self.assertEqual(headers["retry-after"], "1")
        finally:
            s.close()  # the client leaves mid-stream
        # The slot goes with the request: the next one passes.
        wait_until(lambda: self.gw.request("POST", "/v1/chat/completions", short, auth, timeout=30)[0] == 200, 10,
                   "the slot of the abandoned stream to be released")
        metrics = self.gw.metrics()
        self.assertGreaterEqual(limited(metrics, "conc", "concurrency"), 1)
        # And a stream that ends normally frees it too.
        status, _, data = self.gw.request("POST", "/v1/chat/completions", dict(short, stream=True), auth, timeout=30)
        self.assertEqual(status, 200, data)
        status, _, data = self.gw.request("POST", "/v1/chat/completions", short, auth, timeout=30)
        self.assertEqual(status, 200, data)


class AdminCli(unittest.TestCase):
    """`aegis admin teams|keys limits` against the store a gateway then serves from."""

    def test_cli_sets_shows_and_removes_limits(self):
        workdir = tempfile.mkdtemp(prefix="aegis-rl-cli-")
        config = os.path.join(workdir, "aegis.yaml")
        with open(config, "w") as f:
            f.write(f"storage:\n  sqlite_path: {os.path.join(workdir, 'aegis.db')}\n")

        def admin(*args):
            return subprocess.run([AEGIS_BIN, "admin", "--config", config, "--json", *args],
                                  capture_output=True, text=True, timeout=30)
        self.assertEqual(admin("teams", "create", "cli-team", "--budget-usd", "5").returncode, 0)
        r = admin("keys", "create", "cli-team")
        self.assertEqual(r.returncode, 0, r.stderr)
        key_id = json.loads(r.stdout)["id"]
        r = admin("teams", "limits", "cli-team", "--rpm", "5", "--tpm", "1000", "--max-concurrency", "2")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), {"team": "cli-team", "rpm": 5, "tpm": 1000, "max_concurrency": 2})
        r = admin("teams", "limits", "cli-team", "--tpm", "none")
        self.assertEqual(json.loads(r.stdout), {"team": "cli-team", "rpm": 5, "tpm": None, "max_concurrency": 2})
        r = admin("teams", "limits", "cli-team")  # no option: shows them
        self.assertEqual(json.loads(r.stdout)["rpm"], 5)
        r = admin("keys", "limits", key_id, "--rpm", "1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), {"id": key_id, "rpm": 1, "tpm": None, "max_concurrency": None})
        for bad in ("0", "-3", "1.5", "lots", "1000000001"):
            r = admin("teams", "limits", "cli-team", "--rpm", bad)
            self.assertEqual(r.returncode, 1, (bad, r.stdout))
            self.assertIn("--rpm", r.stderr)
        # The same bound as PATCH /admin/v1/teams/{name}: the CLI uses its validator.
        r = admin("keys", "limits", key_id, "--max-concurrency", "99999999999")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("--max-concurrency", r.stderr)
        self.assertIn("at most 1000000000", r.stderr)
        r = admin("teams", "limits", "cli-team")
        self.assertEqual(json.loads(r.stdout)["rpm"], 5, "a refused change changed nothing")
        r = admin("teams", "limits", "no-such-team", "--rpm", "3")
        self.assertEqual(r.returncode, 1)
        self.assertIn("not found", r.stderr)

        with open(config) as f:
            gw = Gateway(config_text=f.read())
        self.addCleanup(gw.cleanup)
        status, body = gw.admin("GET", "/admin/v1/teams/cli-team")
        self.assertEqual((body["rpm"], body["tpm"], body["max_concurrency"]), (5, None, 2))
        status, body = gw.admin("GET", "/admin/v1/keys?team=cli-team")
        self.assertEqual(body["keys"][0]["rpm"], 1)


class AuthThrottle(GatewayTestCase):
    gateway_args = ("--demo",)
    config_text = "rate_limits:\n  auth_failures_per_minute: 3\n"

    def call_from(self, address, key, path="/v1/whoami"):
        conn = http.client.HTTPConnection("127.0.0.1", self.gw.port, timeout=10, source_address=(address, 0))
        try:
            conn.request("GET", path, headers={"authorization": f"Bearer {key}"})
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def test_failed_authentication_is_throttled_per_source_address(self):
        team, key = self.new_team("rl-auth")
        bad = "aeg_0123456789abcdef_" + "x" * 43
        self.assertEqual(self.call_from("127.0.0.1", key)[0], 200)
        for _ in range(3):
            self.assertEqual(self.call_from("127.0.0.1", bad)[0], 401)
        status, headers, data = self.call_from("127.0.0.1", bad)
        self.assertError(status, data, 429, "rate_limited")
        self.assertTrue(1 <= int(headers["retry-after"]) <= 20, headers)
        # While throttled, the address's valid key is refused too (docs/ARCHITECTURE.md).
        status, _, data = self.call_from("127.0.0.1", key)
        self.assertEqual(status, 429, data)
        # Another address is not affected: its valid key works and its bad key is a plain 401.
        self.assertEqual(self.call_from("127.0.0.2", key)[0], 200)
        self.assertEqual(self.call_from("127.0.0.2", bad)[0], 401)
        self.assertEqual(limited(self.gw.metrics(), "-", "auth"), 2)


def base_dsn():
    path = os.environ.get("AEGIS_TEST_POSTGRES_DSN_FILE")
    if not path:
        return None
    with open(path) as f:
        return f.read().strip()


def psql(dsn, sql):
    r = subprocess.run(["psql", dsn, "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise AssertionError(r.stderr)
    return r.stdout.strip()


@unittest.skipUnless(base_dsn(), "no PostgreSQL test server in this run (ctest's postgres.start provides one)")
class ThreeReplicas(unittest.TestCase):
    RPM = 30

    def setUp(self):
        self.base = base_dsn()
        self.schema = "rl_" + uuid.uuid4().hex[:12]
        psql(self.base, f"CREATE SCHEMA {self.schema}")
        self.dsn = f"{self.base} options='-c search_path={self.schema}'"

    def tearDown(self):
        psql(self.base, f"DROP SCHEMA {self.schema} CASCADE")

    def test_three_replicas_admit_within_the_documented_bound(self):
        config = ("storage:\n  postgres_dsn: \"${AEGIS_IT_PG_DSN}\"\n"
                  "jobs:\n  encryption:\n    active: k1\n    keys:\n      - {id: k1, env: AEGIS_IT_JOBS_KEY}\n")
        replicas = []
        for _ in range(3):
            gw = Gateway(args=["--demo"], config_text=config,
                         env={"AEGIS_IT_PG_DSN": self.dsn, "AEGIS_IT_JOBS_KEY": "5f" * 32})
            self.addCleanup(gw.cleanup)
            replicas.append(gw)
        status, _ = replicas[0].admin("POST", "/admin/v1/teams", {"name": "shared", "monthly_budget_usd": 100})
        self.assertEqual(status, 201)
        status, created = replicas[0].admin("POST", "/admin/v1/keys", {"team": "shared"})
        status, body = replicas[1].admin("PATCH", "/admin/v1/teams/shared", {"rpm": self.RPM})
        self.assertEqual(status, 200, body)
        auth = {"authorization": f"Bearer {created['key']}"}
        admitted = refused = 0
        started = time.monotonic()
        while time.monotonic() - started < 6:
            for gw in replicas:
                status, _, data = gw.request("POST", "/v1/chat/completions", chat(), auth, timeout=30)
                self.assertIn(status, (200, 429), data)
                admitted += status == 200
                refused += status == 429
        elapsed = time.monotonic() - started
        print(f"\nthree replicas, rpm {self.RPM}: {admitted} admitted, {refused} refused in {elapsed:.1f} s", flush=True)
        # One bucket: RPM at once plus RPM a minute. Each replica holds at most one
        # unspent slice of at most max(1, RPM / 10) (ARCHITECTURE.md, "Rate limits").
        bound = self.RPM + math.ceil(self.RPM * elapsed / 60) + 3 * max(1, self.RPM // 10)
        self.assertLessEqual(admitted, bound, (admitted, refused, elapsed))
        self.assertGreater(refused, 0)
        self.assertGreaterEqual(admitted, self.RPM - 3 * max(1, self.RPM // 10), (admitted, refused))
        self.assertEqual(psql(self.dsn, "SELECT COUNT(*) FROM rate_buckets WHERE bucket LIKE 't:shared:%'"), "1")


if __name__ == "__main__":
    unittest.main()
