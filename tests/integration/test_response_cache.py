"""The exact response cache through the real binary (`aegis serve --demo`).

A team opts in (PATCH /admin/v1/teams/{name} `response_cache`, or the config's
`response_cache.teams`); an identical request (same team, model, canonical
request; temperature 0 or `x-aegis-cache: allow`) within the TTL is answered
from the gateway's memory: `x-aegis-cache: hit`, no upstream call (read back
from the simulators' request log), cost 0 and no spend, an audit row marked
`cache_hit` with the original route. CONFIDENTIAL and RESTRICTED requests are
never cached; teams never share entries. The setting persists on SQLite and
PostgreSQL, and a trail with hit rows still verifies (`aegis audit verify`)."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest
import uuid

from aegis_harness import AEGIS_BIN, DemoUpstreams, Gateway, GatewayTestCase, wait_until
from audit_backends import PostgresBackend, SqliteBackend

SIN = "046 454 286"
API_TOKEN = ("sk-ant-api03-u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8dKLzdocJ2isAjIhKtJ0RlgLKOmxgJTeKdNnFRIBXuDL7Dxtp"
             "YlSXpfKtHFAA")
EMAIL = "jennifer.walsh@acme-mail.com"

CONFIG = """
resilience:
  failure_threshold: 1000
response_cache:
  max_entries: 1000
  teams:
    cfgteam: 60
"""


def chat_body(content, temperature=0, model="auto", **extra):
    body = {"model": model, "messages": [{"role": "user", "content": content}], "max_tokens": 64}
    if temperature is not None:
        body["temperature"] = temperature
    body.update(extra)
    return body


def sse_text(data):
    """The text of an OpenAI or Anthropic SSE stream."""
    text = ""
    for block in data.decode().split("\n\n"):
        for line in block.split("\n"):
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            event = json.loads(line[len("data: "):])
            for choice in event.get("choices", []):
                text += choice.get("delta", {}).get("content") or ""
            delta = event.get("delta", {})
            if isinstance(delta, dict) and delta.get("type") == "text_delta":
                text += delta["text"]
    return text


class ResponseCache(DemoUpstreams, GatewayTestCase):
    gateway_args = ("--demo",)
    config_text = CONFIG

    def cached_team(self, ttl=300, prefix="cache"):
        name, key = self.new_team(prefix)
        status, team = self.gw.admin("PATCH", f"/admin/v1/teams/{name}",
                                     {"response_cache": {"enabled": True, "ttl_s": ttl}})
        self.assertEqual(status, 200, team)
        self.assertEqual(team["response_cache"], {"enabled": True, "ttl_s": ttl})
        return name, key

    def post(self, key, body, path="/v1/chat/completions", headers=None, raw=None):
        """(status, headers, body bytes, request id); `raw` sends these bytes instead of json.dumps(body)."""
        request_id = "req_cache_" + uuid.uuid4().hex[:16]
        hdrs = {"authorization": f"Bearer {key}", "x-request-id": request_id, "content-type": "application/json"}
        if path == "/v1/messages":
            hdrs["anthropic-version"] = "2023-06-01"
        hdrs.update(headers or {})
        payload = raw if raw is not None else json.dumps(body).encode()
        status, got, data = self.gw.request("POST", path, payload, hdrs, timeout=30)
        got = {k: v.encode("latin-1").decode("utf-8", "replace") for k, v in got.items()}
        return status, got, data, request_id

    def calls(self):
        return len(self.upstream_log())

    def spend(self, team):
        status, body = self.gw.admin("GET", f"/admin/v1/teams/{team}/spend")
        self.assertEqual(status, 200, body)
        return body

    def audit_row(self, team, request_id):
        def found():
            status, body = self.gw.admin("GET", f"/admin/v1/audit?team={team}&limit=1000")
            self.assertEqual(status, 200, body)
            rows = [r for r in body["data"] if r["request_id"] == request_id]
            return rows[0] if rows else None
        return wait_until(found, 5, f"the audit row of {request_id}")

    def cache_counts(self):
        samples = self.gw.metrics()
        return {result: samples.get(("aegis_cache_requests_total", frozenset({("result", result)})), 0)
                for result in ("hit", "miss", "bypass")}

    def test_the_responses_api_is_answered_from_the_cache_too(self):
        team, key = self.cached_team(prefix="cache-responses")
        body = {"model": "auto", "input": "Name the three primary colours.", "temperature": 0,
                "max_output_tokens": 32}
        status, first, data1, _ = self.post(key, body, path="/v1/responses")
        self.assertEqual(status, 200, data1)
        self.assertEqual(first["x-aegis-cache"], "miss")
        calls = self.calls()
        status, second, data2, hit_id = self.post(key, body, path="/v1/responses")
        self.assertEqual(status, 200, data2)
        self.assertEqual(second["x-aegis-cache"], "hit")
        self.assertEqual(self.calls(), calls, "a hit must not reach an upstream")
        self.assertEqual(float(second["x-aegis-cost-usd"]), 0)
        self.assertEqual(json.loads(data2)["output"][0]["content"][0]["text"],
                         json.loads(data1)["output"][0]["content"][0]["text"])
        self.assertTrue(self.audit_row(team, hit_id)["cache_hit"])

    def test_a_second_identical_request_is_a_hit_at_no_cost_with_the_original_route(self):
        team, key = self.cached_team()
        body = chat_body("Summarise the plot of Hamlet in one line.", metadata={"a": "1", "b": "2"})
        status, first, data1, _ = self.post(key, body)
        self.assertEqual(status, 200, data1)
        self.assertEqual(first["x-aegis-cache"], "miss")
        self.assertGreater(float(first["x-aegis-cost-usd"]), 0)
        calls, spent = self.calls(), self.spend(team)

        # The same request, keys in another order and other whitespace.
        raw = (b'{ "max_tokens" : 64, "temperature": 0.0, "metadata": {"b": "2", "a": "1"},\n'
               b'  "messages": [ {"content": "Summarise the plot of Hamlet in one line.", "role": "user"} ],'
               b' "model": "auto" }')
        status, second, data2, hit_id = self.post(key, None, raw=raw)
        self.assertEqual(status, 200, data2)
        self.assertEqual(second["x-aegis-cache"], "hit")
        self.assertEqual(self.calls(), calls, "a hit must not reach an upstream")
        self.assertEqual(float(second["x-aegis-cost-usd"]), 0)
        self.assertEqual(second["x-aegis-route"], first["x-aegis-route"])
        self.assertEqual(json.loads(data2)["choices"][0]["message"]["content"],
                         json.loads(data1)["choices"][0]["message"]["content"])
        after = self.spend(team)
        self.assertEqual(after["spent_usd"], spent["spent_usd"])
        self.assertEqual(after["reserved_usd"], 0)

        row = self.audit_row(team, hit_id)
        self.assertTrue(row["cache_hit"], row)
        self.assertEqual(row["status"], 200)
        self.assertEqual(row["cost_usd"], 0)
        self.assertEqual(row["locality"], "")
        self.assertEqual(row["fallback_path"], [])
        # "tier=...; provider=...; model=...; reason=..." (the reason may hold "; " itself)
        route = dict(part.split("=", 1) for part in first["x-aegis-route"].split("; ", 3))
        self.assertEqual(row["provider"], route["provider"])
        self.assertEqual(row["model"], route["model"])
        self.assertEqual(row["reason"], route["reason"])

    def test_a_different_temperature_model_or_team_is_a_miss(self):
        team, key = self.cached_team()
        _, other_key = self.cached_team()
        text = "Give me three names for a cat."
        status, h, data, _ = self.post(key, chat_body(text))
        self.assertEqual((status, h["x-aegis-cache"]), (200, "miss"), data)
        calls = self.calls()
        _, h, _, _ = self.post(key, chat_body(text, temperature=0.3))
        self.assertEqual(h["x-aegis-cache"], "bypass")  # not temperature 0, no opt-in
        _, h, _, _ = self.post(key, chat_body(text, model="haiku"))
        self.assertEqual(h["x-aegis-cache"], "miss")
        _, h, _, _ = self.post(other_key, chat_body(text))
        self.assertEqual(h["x-aegis-cache"], "miss")  # never across teams
        self.assertEqual(self.calls(), calls + 3)
        _, h, _, _ = self.post(key, chat_body(text, temperature=0.3), headers={"x-aegis-cache": "allow"})
        self.assertEqual(h["x-aegis-cache"], "miss")
        _, h, _, _ = self.post(key, chat_body(text, temperature=0.3), headers={"x-aegis-cache": "allow"})
        self.assertEqual(h["x-aegis-cache"], "hit")
        self.assertEqual(self.calls(), calls + 4)
        status, _, data, _ = self.post(key, chat_body(text), headers={"x-aegis-cache": "please"})
        self.assertEqual(status, 400, data)
        self.assertIn("x-aegis-cache", json.loads(data)["error"]["message"])

    def test_confidential_and_restricted_requests_are_never_served_from_the_cache(self):
        team, key = self.new_team("cache-clear", clearance="RESTRICTED")
        status, _ = self.gw.admin("PATCH", f"/admin/v1/teams/{team}",
                                  {"response_cache": {"enabled": True, "ttl_s": 300}})
        self.assertEqual(status, 200)
        for text, level in ((f"token {API_TOKEN}", "CONFIDENTIAL"), (f"my SIN is {SIN}, what now?", "RESTRICTED")):
            calls = self.calls()
            for _ in range(2):
                status, h, data, request_id = self.post(key, chat_body(text))
                self.assertEqual(status, 200, data)
                self.assertEqual(h["x-aegis-classification"], level)
                self.assertEqual(h["x-aegis-cache"], "bypass")
                self.assertFalse(self.audit_row(team, request_id)["cache_hit"])
            self.assertEqual(self.calls(), calls + 2, level)

    def test_a_masked_request_caches_the_restored_answer(self):
        team, key = self.cached_team()
        body = chat_body(f"Please repeat this address back: {EMAIL}")
        status, first, data1, _ = self.post(key, body)
        self.assertEqual(status, 200, data1)
        self.assertGreaterEqual(int(first["x-aegis-masked"]), 1)
        calls = self.calls()
        cloud_saw = self.upstream_log()[-1]["body"]
        self.assertNotIn(EMAIL, cloud_saw)
        answer1 = json.loads(data1)["choices"][0]["message"]["content"]
        self.assertIn(EMAIL, answer1)  # the simulator echoes the placeholder; the gateway restored it
        status, second, data2, _ = self.post(key, body)
        self.assertEqual(status, 200, data2)
        self.assertEqual(second["x-aegis-cache"], "hit")
        self.assertEqual(json.loads(data2)["choices"][0]["message"]["content"], answer1)
        self.assertEqual(self.calls(), calls)

    def test_anthropic_messages_and_streams_share_the_cache(self):
        team, key = self.cached_team()
        body = {"model": "auto", "max_tokens": 64, "temperature": 0,
                "messages": [{"role": "user", "content": "Name the largest planet."}]}
        status, first, data1, _ = self.post(key, body, path="/v1/messages")
        self.assertEqual(status, 200, data1)
        self.assertEqual(first["x-aegis-cache"], "miss")
        calls = self.calls()
        text1 = "".join(b["text"] for b in json.loads(data1)["content"] if b["type"] == "text")
        status, h, data2, _ = self.post(key, dict(body, stream=True), path="/v1/messages")
        self.assertEqual(status, 200, data2)
        self.assertEqual(h["x-aegis-cache"], "hit")
        self.assertIn("event: message_stop", data2.decode())
        self.assertEqual(sse_text(data2), text1)
        self.assertEqual(self.calls(), calls)

        # An OpenAI stream that missed is cached and replayed as a stream.
        body = chat_body("Name the smallest planet.", stream=True)
        status, h, data3, _ = self.post(key, body)
        self.assertEqual((status, h["x-aegis-cache"]), (200, "miss"), data3)
        calls = self.calls()
        status, h, data4, _ = self.post(key, body)
        self.assertEqual((status, h["x-aegis-cache"]), (200, "hit"), data4)
        self.assertTrue(data4.decode().rstrip().endswith("data: [DONE]"))
        self.assertEqual(sse_text(data4), sse_text(data3))
        self.assertEqual(self.calls(), calls)

    def test_an_answer_expires_with_a_small_ttl(self):
        team, key = self.cached_team(ttl=1)
        body = chat_body("What year did the Berlin wall fall?")
        _, h, _, _ = self.post(key, body)
        self.assertEqual(h["x-aegis-cache"], "miss")
        _, h, _, _ = self.post(key, body)
        self.assertEqual(h["x-aegis-cache"], "hit")
        # The real clock: poll until the entry is older than its second.
        wait_until(lambda: self.post(key, body)[1]["x-aegis-cache"] == "miss", 5, "the entry to expire")

    def test_a_team_without_the_cache_gets_no_header_and_the_setting_turns_off(self):
        team, key = self.new_team("nocache")
        status, got = self.gw.admin("GET", f"/admin/v1/teams/{team}")
        self.assertEqual((status, got["response_cache"]), (200, None))
        body = chat_body("Hello there.")
        for _ in range(2):
            status, h, data, _ = self.post(key, body)
            self.assertEqual(status, 200, data)
            self.assertNotIn("x-aegis-cache", h)
        for off in (None, {"enabled": False}, {"enabled": False, "ttl_s": 30}):
            status, got = self.gw.admin("PATCH", f"/admin/v1/teams/{team}",
                                        {"response_cache": {"enabled": True, "ttl_s": 60}})
            self.assertEqual(status, 200, got)
            _, h, _, _ = self.post(key, body)
            self.assertIn(h.get("x-aegis-cache"), ("miss", "hit"))
            status, got = self.gw.admin("PATCH", f"/admin/v1/teams/{team}", {"response_cache": off})
            self.assertEqual((status, got["response_cache"]), (200, None), got)
            calls = self.calls()
            _, h, _, _ = self.post(key, body)
            self.assertNotIn("x-aegis-cache", h)
            self.assertEqual(self.calls(), calls + 1)
        status, got = self.gw.admin("GET", f"/admin/v1/teams/{team}")
        self.assertIsNone(got["response_cache"])

    def test_bad_settings_are_400_and_change_nothing(self):
        team, _ = self.cached_team(ttl=120)
        for bad in ({"enabled": True}, {"enabled": True, "ttl_s": 0}, {"enabled": True, "ttl_s": -5},
                    {"enabled": True, "ttl_s": 604801}, {"enabled": True, "ttl_s": 1.5},
                    {"enabled": True, "ttl_s": "300"}, {"ttl_s": 300}, {"enabled": "yes", "ttl_s": 300},
                    {"enabled": True, "ttl_s": 300, "ttl": 3}, 300, "on", True, [], {"enabled": False, "ttl_s": 0}):
            status, got = self.gw.admin("PATCH", f"/admin/v1/teams/{team}", {"response_cache": bad})
            self.assertEqual(status, 400, (bad, got))
            self.assertIn("response_cache", got["error"]["message"], bad)
        status, got = self.gw.admin("GET", f"/admin/v1/teams/{team}")
        self.assertEqual(got["response_cache"], {"enabled": True, "ttl_s": 120})
        status, got = self.gw.admin("PATCH", "/admin/v1/teams/no-such-team",
                                    {"response_cache": {"enabled": True, "ttl_s": 5}})
        self.assertEqual(status, 404, got)

    def test_the_config_turns_the_cache_on_for_a_team_until_the_admin_api_says_otherwise(self):
        status, team = self.gw.admin("POST", "/admin/v1/teams", {"name": "cfgteam", "monthly_budget_usd": 50})
        self.assertEqual(status, 201, team)
        self.assertEqual(team["response_cache"], {"enabled": True, "ttl_s": 60})
        status, created = self.gw.admin("POST", "/admin/v1/keys", {"team": "cfgteam"})
        key = created["key"]
        body = chat_body("What is the boiling point of water?")
        self.assertEqual(self.post(key, body)[1]["x-aegis-cache"], "miss")
        self.assertEqual(self.post(key, body)[1]["x-aegis-cache"], "hit")
        status, got = self.gw.admin("PATCH", "/admin/v1/teams/cfgteam", {"response_cache": None})
        self.assertEqual((status, got["response_cache"]), (200, None))
        self.assertNotIn("x-aegis-cache", self.post(key, body)[1])

    def test_metrics_count_hits_misses_and_bypasses(self):
        before = self.cache_counts()
        team, key = self.cached_team()
        body = chat_body("Spell 'cache' backwards.")
        self.post(key, body)
        self.post(key, body)
        self.post(key, body)
        self.post(key, chat_body("Spell 'cache' backwards.", temperature=1))
        after = self.cache_counts()
        self.assertEqual(after["miss"] - before["miss"], 1)
        self.assertEqual(after["hit"] - before["hit"], 2)
        self.assertEqual(after["bypass"] - before["bypass"], 1)
        samples = self.gw.metrics()
        self.assertGreaterEqual(samples[("aegis_cache_entries", frozenset())], 1)


class PersistedSetting:
    """The team's setting survives a restart on each backend; the cache itself
    (memory only) does not; hit rows keep the audit chain verifiable."""

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="aegis-cache-")
        self.addCleanup(shutil.rmtree, self.workdir, True)
        self.env = dict(os.environ)

    def start(self):
        gw = Gateway(("--demo", "--config", self.config), env=self.env)
        self.addCleanup(gw.cleanup)
        return gw

    def test_the_setting_persists_and_hit_rows_verify(self):
        self.config = os.path.join(self.workdir, "aegis.yaml")
        with open(self.config, "w") as f:
            f.write(self.storage())
        gw = self.start()
        self.assertEqual(gw.admin("POST", "/admin/v1/teams", {"name": "persist", "monthly_budget_usd": 50})[0], 201)
        status, got = gw.admin("PATCH", "/admin/v1/teams/persist", {"response_cache": {"enabled": True, "ttl_s": 90}})
        self.assertEqual(status, 200, got)
        key = gw.admin("POST", "/admin/v1/keys", {"team": "persist"})[1]["key"]
        auth = {"authorization": f"Bearer {key}"}
        body = chat_body("Which ocean is the largest?")
        results = [gw.request("POST", "/v1/chat/completions", body, auth)[1]["x-aegis-cache"] for _ in range(2)]
        self.assertEqual(results, ["miss", "hit"])
        gw.stop()

        gw = self.start()
        status, got = gw.admin("GET", "/admin/v1/teams/persist")
        self.assertEqual(got["response_cache"], {"enabled": True, "ttl_s": 90})
        status, teams = gw.admin("GET", "/admin/v1/teams")
        self.assertIn({"enabled": True, "ttl_s": 90},
                      [t["response_cache"] for t in teams["teams"] if t["name"] == "persist"])
        # In memory only: a new process starts empty.
        self.assertEqual(gw.request("POST", "/v1/chat/completions", body, auth)[1]["x-aegis-cache"], "miss")
        status, got = gw.admin("PATCH", "/admin/v1/teams/persist", {"response_cache": None})
        self.assertEqual(status, 200, got)
        gw.stop()

        gw = self.start()
        self.assertIsNone(gw.admin("GET", "/admin/v1/teams/persist")[1]["response_cache"])
        gw.stop()
        self.assertEqual(self.sql("SELECT count(*) FROM audit WHERE team = 'persist' AND cache_hit"), "1")
        r = subprocess.run([AEGIS_BIN, "audit", "verify", "--config", self.config], capture_output=True, text=True,
                           timeout=120, env=self.env)
        self.assertIn(r.returncode, (0, 3), r.stdout + r.stderr)  # 3: intact with an unsigned tail


class PersistedOnSqlite(PersistedSetting, SqliteBackend, unittest.TestCase):
    def setUp(self):
        super().setUp()
        self.use_sqlite()


class PersistedOnPostgres(PersistedSetting, PostgresBackend, unittest.TestCase):
    def setUp(self):
        super().setUp()
        self.use_postgres("cache")


if __name__ == "__main__":
    unittest.main()
