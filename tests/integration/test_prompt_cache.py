"""Prompt-cache accounting through the real binary (issue 19).

A standalone `aegis sim` plays Anthropic and Azure OpenAI, each with a prompt
cache of its own: Anthropic caches up to each `cache_control` breakpoint (the
first request writes, later ones with the same prefix read), Azure caches every
message prefix of 1024 tokens or more and reports reads in 128-token steps.
The simulator counts a token per 4 bytes of text, rounded up, so every count
below is written out by hand from the texts sent, and every bill is computed
here from the configured rates: `x-aegis-cost-usd`, the team's spend, the
audit rows and a job's result must all match it.

Rates (USD per million tokens = micro-dollars per token):
  claude-sonnet-4-5 (anthropic): input 3, output 15; defaults: cache read
    0.1 x 3 = 0.30, cache write (5 min) 1.25 x 3 = 3.75, (1 h) 2 x 3 = 6.00
  gpt-4o (azure_openai): input 2.5, output 10, cache_read_per_mtok_usd 0.625
    set in the config (instead of the 0.5 x default)
"""
import json
import math
import os
import shutil
import tempfile
import unittest

from aegis_harness import Gateway
from test_sim import Sim

# Lower-case filler: nothing in it reads as an entity, so it reaches the provider unmasked.
DOC = "the rules " * 800           # 8000 bytes: 2000 tokens
DOC_1H = "annex one " * 400          # 4000 bytes: 1000 tokens
SYSTEM_OPENAI = "policy ok " * 800   # 8000 bytes: 2000 tokens, 1920 in 128-token steps


def config(db_path, sim_port):
    return f"""
storage:
  sqlite_path: "{db_path}"
providers:
  - name: claude
    type: anthropic
    base_url: http://127.0.0.1:{sim_port}
    api_key: test-key
    models: {{sonnet: claude-sonnet-4-5}}
    prices:
      claude-sonnet-4-5: {{input_per_mtok_usd: 3, output_per_mtok_usd: 15}}
  - name: azure
    type: azure_openai
    base_url: http://127.0.0.1:{sim_port}
    api_key: test-key
    api_version: "2024-06-01"
    models: {{haiku: gpt-4o}}
    prices:
      gpt-4o: {{input_per_mtok_usd: 2.5, output_per_mtok_usd: 10, cache_read_per_mtok_usd: 0.625}}
routing:
  fallback_chain: [claude, azure]
"""


def tokens(text):
    """The simulator's count: a token per 4 bytes, rounded up."""
    return math.ceil(len(text.encode()) / 4)


def usd_header(m):
    """x-aegis-cost-usd for m micro-dollars: six decimals, trailing zeros dropped (one kept)."""
    text = f"{m // 1_000_000}.{m % 1_000_000:06d}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def micros(*terms):
    """ceil(sum of tokens x micro-dollars per token): one rounding, as the gateway and the providers bill."""
    return math.ceil(sum(n * rate for n, rate in terms) - 1e-9)


class PromptCacheAccounting(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="aegis-pcache-")
        cls.sim = Sim()
        cls.gw = Gateway(config_text=config(os.path.join(cls.dir, "aegis.db"), cls.sim.port))

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()
        problem = cls.sim.cleanup()
        shutil.rmtree(cls.dir, ignore_errors=True)
        if problem:
            raise AssertionError(problem)

    def setUp(self):
        name = f"pc-{self.id().rsplit('.', 1)[-1][:20].lower().replace('_', '-')}"
        status, body = self.gw.admin("POST", "/admin/v1/teams", {"name": name, "monthly_budget_usd": 10})
        self.assertEqual(status, 201, body)
        status, body = self.gw.admin("POST", "/admin/v1/keys", {"team": name})
        self.assertEqual(status, 201, body)
        self.team, self.key = name, body["key"]
        self.n = 0

    # ---- helpers

    def post(self, path, body, stream=False):
        self.n += 1
        request_id = f"req_{self.team}_{self.n}"
        headers = {"x-api-key": self.key, "x-request-id": request_id, "x-aegis-classification": "public"}
        status, hdrs, data = self.gw.request("POST", path, body, headers, timeout=30)
        self.assertEqual(status, 200, data)
        return request_id, hdrs, data if stream else json.loads(data)

    def spent_micros(self):
        status, body = self.gw.admin("GET", f"/admin/v1/teams/{self.team}/spend")
        self.assertEqual(status, 200, body)
        return round(body["spent_usd"] * 1e6)

    def audit(self, request_id):
        status, body = self.gw.admin("GET", f"/admin/v1/audit?team={self.team}&limit=100")
        self.assertEqual(status, 200, body)
        rows = [r for r in body["data"] if r["request_id"] == request_id]
        self.assertEqual(len(rows), 1, body)
        return rows[0]

    def check_row(self, request_id, bill, read, write, plain):
        row = self.audit(request_id)
        self.assertEqual((row["input_tokens"], row["cache_read_tokens"], row["cache_write_tokens"]),
                         (plain, read, write), row)
        self.assertEqual(round(row["cost_usd"] * 1e6), bill, row)

    @staticmethod
    def sse_usage(raw, protocol):
        """The usage the client's stream reported (Anthropic: message_start + message_delta merged)."""
        usage = {}
        for line in raw.decode().splitlines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            event = json.loads(line[6:])
            if protocol == "anthropic" and event.get("type") == "message_start":
                usage.update(event["message"]["usage"])
            elif protocol == "anthropic" and event.get("type") == "message_delta":
                usage.update(event["usage"])
            elif protocol == "openai" and event.get("usage"):
                usage = event["usage"]
        return usage

    # ---- Anthropic: writes at 1.25x (or 2x for 1 h), reads at 0.1x

    def anthropic_body(self, question, doc=DOC, ttl=None, stream=False):
        cache_control = {"type": "ephemeral"}
        if ttl:
            cache_control["ttl"] = ttl
        body = {"model": "sonnet", "max_tokens": 64,
                "system": [{"type": "text", "text": doc, "cache_control": cache_control}],
                "messages": [{"role": "user", "content": question}]}
        if stream:
            body["stream"] = True
        return body

    def test_anthropic_cache_write_then_read_matches_the_hand_computed_bill(self):
        spent = self.spent_micros()
        q1 = "What does clause four say?"  # 26 bytes
        rid, headers, msg = self.post("/v1/messages", self.anthropic_body(q1))
        usage = msg["usage"]
        # total ceil((8000 + 26) / 4) = 2007 tokens: 2000 written to the cache, 7 plain input.
        self.assertEqual(usage["cache_creation_input_tokens"], tokens(DOC))
        self.assertEqual(usage["cache_creation_input_tokens"], 2000)
        self.assertEqual(usage["cache_read_input_tokens"], 0)
        self.assertEqual(usage["input_tokens"], tokens(DOC + q1) - 2000)
        self.assertEqual(usage["input_tokens"], 7)
        out1 = usage["output_tokens"]
        # 7 x 3 + 2000 x 3.75 + out x 15 micro-dollars = 21 + 7500 + 15 out.
        bill1 = micros((7, 3), (2000, 3.75), (out1, 15))
        self.assertEqual(bill1, 7521 + 15 * out1)
        self.assertEqual(headers["x-aegis-cost-usd"], usd_header(bill1))
        self.check_row(rid, bill1, read=0, write=2000, plain=7)

        # The same cached system prompt, another question: read at 0.30.
        q2 = "And clause five?"  # 16 bytes: ceil(8016 / 4) = 2004 tokens, 2000 read, 4 plain
        rid, headers, msg = self.post("/v1/messages", self.anthropic_body(q2))
        usage = msg["usage"]
        self.assertEqual((usage["cache_read_input_tokens"], usage["cache_creation_input_tokens"], usage["input_tokens"]),
                         (2000, 0, 4))
        out2 = usage["output_tokens"]
        # 4 x 3 + 2000 x 0.30 + out x 15 = 12 + 600 + 15 out.
        bill2 = micros((4, 3), (2000, 0.30), (out2, 15))
        self.assertEqual(bill2, 612 + 15 * out2)
        self.assertEqual(headers["x-aegis-cost-usd"], usd_header(bill2))
        self.check_row(rid, bill2, read=2000, write=0, plain=4)

        # The OpenAI-shaped surface on the same provider: prompt_tokens includes the cached tokens.
        q3 = "Clause six, please."  # 19 bytes: ceil(8019 / 4) = 2005 tokens
        self.n += 1
        rid = f"req_{self.team}_{self.n}"
        status, headers, data = self.gw.request(
            "POST", "/v1/chat/completions",
            {"model": "sonnet", "max_tokens": 64,
             "messages": [{"role": "system", "content": DOC}, {"role": "user", "content": q3}]},
            {"authorization": f"Bearer {self.key}", "x-request-id": rid, "x-aegis-classification": "public"})
        self.assertEqual(status, 200, data)
        usage = json.loads(data)["usage"]
        # No cache_control from an OpenAI client: Anthropic caches nothing, all 2005 tokens are plain input.
        self.assertEqual(usage["prompt_tokens"], 2005)
        self.assertNotIn("prompt_tokens_details", usage)
        bill3 = micros((2005, 3), (usage["completion_tokens"], 15))
        self.assertEqual(headers["x-aegis-cost-usd"], usd_header(bill3))

        self.assertEqual(self.spent_micros() - spent, bill1 + bill2 + bill3)
        # cache_control reached the provider as the client sent it.
        status, _, log = self.sim.json("GET", "/_sim/requests")
        sent = [json.loads(r["body"]) for r in log["requests"] if r["path"] == "/v1/messages"]
        self.assertIn({"type": "text", "text": DOC, "cache_control": {"type": "ephemeral"}}, sent[-2]["system"])

    def test_anthropic_streams_bill_cache_tokens_too_including_one_hour_writes(self):
        spent = self.spent_micros()
        q = "Summarise the annex."  # 20 bytes: ceil(4020 / 4) = 1005 tokens, 1000 written for an hour, 5 plain
        rid, _, raw = self.post("/v1/messages", self.anthropic_body(q, doc=DOC_1H, ttl="1h", stream=True), stream=True)
        usage = self.sse_usage(raw, "anthropic")
        self.assertEqual((usage["input_tokens"], usage["cache_creation_input_tokens"], usage["cache_read_input_tokens"]),
                         (5, 1000, 0))
        self.assertEqual(usage["cache_creation"], {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 1000})
        out = usage["output_tokens"]
        # 5 x 3 + 1000 x 6.00 (1-hour write) + out x 15 = 15 + 6000 + 15 out.
        bill1 = micros((5, 3), (1000, 6.0), (out, 15))
        self.assertEqual(bill1, 6015 + 15 * out)
        self.check_row(rid, bill1, read=0, write=1000, plain=5)

        q = "Which annex items expire?"  # 25 bytes: ceil(4025 / 4) = 1007 tokens, 1000 read, 7 plain
        rid, _, raw = self.post("/v1/messages", self.anthropic_body(q, doc=DOC_1H, ttl="1h", stream=True), stream=True)
        usage = self.sse_usage(raw, "anthropic")
        self.assertEqual((usage["input_tokens"], usage["cache_read_input_tokens"]), (7, 1000))
        # 7 x 3 + 1000 x 0.30 + out x 15 = 21 + 300 + 15 out.
        bill2 = micros((7, 3), (1000, 0.30), (usage["output_tokens"], 15))
        self.check_row(rid, bill2, read=1000, write=0, plain=7)
        self.assertEqual(self.spent_micros() - spent, bill1 + bill2)

    # ---- Azure OpenAI: cached input inside prompt_tokens, at the configured 0.625

    def openai_body(self, question, stream=False):
        body = {"model": "haiku", "max_tokens": 64,
                "messages": [{"role": "system", "content": SYSTEM_OPENAI}, {"role": "user", "content": question}]}
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body

    def test_openai_cached_input_is_discounted_in_responses_streams_and_jobs(self):
        spent = self.spent_micros()
        # The first time the 2000-token system prefix may or may not be cached already (another
        # test's request); send it once so the cache holds it, and bill whatever was reported.
        rid, headers, first = self.post("/v1/chat/completions", self.openai_body("Warm up."))
        warm = first["usage"]
        cached_warm = warm.get("prompt_tokens_details", {}).get("cached_tokens", 0)
        bill0 = micros((warm["prompt_tokens"] - cached_warm, 2.5), (cached_warm, 0.625),
                       (warm["completion_tokens"], 10))
        self.assertEqual(headers["x-aegis-cost-usd"], usd_header(bill0))

        q = "Second question?"  # 16 bytes: ceil(8016 / 4) = 2004 prompt tokens; the 2000-token prefix in 128s: 1920
        rid, headers, msg = self.post("/v1/chat/completions", self.openai_body(q))
        usage = msg["usage"]
        self.assertEqual(usage["prompt_tokens"], tokens(SYSTEM_OPENAI + q))
        self.assertEqual(usage["prompt_tokens"], 2004)
        self.assertEqual(usage["prompt_tokens_details"], {"cached_tokens": 1920})
        out = usage["completion_tokens"]
        # (2004 - 1920) x 2.5 + 1920 x 0.625 + out x 10 = 84 x 2.5 + 1200 + 10 out = 210 + 1200 + 10 out.
        bill1 = micros((84, 2.5), (1920, 0.625), (out, 10))
        self.assertEqual(bill1, 1410 + 10 * out)
        self.assertEqual(headers["x-aegis-cost-usd"], usd_header(bill1))
        self.check_row(rid, bill1, read=1920, write=0, plain=84)

        q = "Streamed question?"  # 18 bytes: ceil(8018 / 4) = 2005 prompt tokens, 1920 cached, 85 plain
        rid, _, raw = self.post("/v1/chat/completions", self.openai_body(q, stream=True), stream=True)
        usage = self.sse_usage(raw, "openai")
        self.assertEqual((usage["prompt_tokens"], usage["prompt_tokens_details"]["cached_tokens"]), (2005, 1920))
        # 85 x 2.5 + 1920 x 0.625 + out x 10 = 212.5 + 1200 + 10 out, rounded up once.
        bill2 = micros((85, 2.5), (1920, 0.625), (usage["completion_tokens"], 10))
        self.assertEqual(bill2, math.ceil(1412.5 + 10 * usage["completion_tokens"]))
        self.check_row(rid, bill2, read=1920, write=0, plain=85)

        # An async job through the same gateway: its result and its row carry the counts.
        q = "Job question!!"  # 14 bytes: ceil(8014 / 4) = 2004 prompt tokens, 1920 cached, 84 plain
        status, headers, data = self.gw.request(
            "POST", "/v1/jobs",
            {"task_type": "summarize", "model": "haiku", "max_tokens": 64,
             "messages": [{"role": "system", "content": SYSTEM_OPENAI}, {"role": "user", "content": q}]},
            {"authorization": f"Bearer {self.key}", "x-aegis-classification": "public"})
        self.assertEqual(status, 202, data)
        job_id = json.loads(data)["id"]
        status, _, data = self.gw.request("GET", f"/v1/jobs/{job_id}?wait=30", None,
                                          {"authorization": f"Bearer {self.key}"}, timeout=40)
        job = json.loads(data)
        self.assertEqual(job["status"], "succeeded", job)
        usage = job["result"]["usage"]
        self.assertEqual((usage["input_tokens"], usage["cache_read_tokens"], usage["cache_write_tokens"]), (84, 1920, 0))
        bill3 = micros((84, 2.5), (1920, 0.625), (usage["output_tokens"], 10))
        self.assertEqual(round(job["result"]["cost_usd"] * 1e6), bill3)

        self.assertEqual(self.spent_micros() - spent, bill0 + bill1 + bill2 + bill3)

    # ---- masking keeps a cached prefix cacheable

    def test_masked_values_keep_their_placeholders_across_turns_so_the_prefix_is_read(self):
        tools = [{"name": "escalate", "description": "Escalate to ops.lead@example.com",
                  "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral"}}]
        system = [{"type": "text", "text": DOC + " Account owner: mary.major@example.com",
                   "cache_control": {"type": "ephemeral"}}]
        turn1 = {"model": "sonnet", "max_tokens": 64, "tools": tools, "system": system,
                 "messages": [{"role": "user", "content": "Write to jane.roe@example.com about it."}]}
        self.n += 1
        status, headers, data = self.gw.request("POST", "/v1/messages", turn1, {"x-api-key": self.key})
        self.assertEqual(status, 200, data)
        first = json.loads(data)
        self.assertGreater(int(headers["x-aegis-masked"]), 0)
        self.assertGreater(first["usage"]["cache_creation_input_tokens"], 0)
        self.assertEqual(first["usage"]["cache_read_input_tokens"], 0)

        # Turn 2 resends turn 1 and adds a new address: the tools and system prompt must reach the
        # provider exactly as before, placeholders included, so what turn 1 wrote is read.
        turn2 = dict(turn1)
        turn2["messages"] = turn1["messages"] + [
            {"role": "assistant", "content": first["content"][0]["text"]},
            {"role": "user", "content": "Also copy sam.poe@example.com."}]
        status, headers, data = self.gw.request("POST", "/v1/messages", turn2, {"x-api-key": self.key})
        self.assertEqual(status, 200, data)
        second = json.loads(data)
        self.assertEqual(second["usage"]["cache_read_input_tokens"], first["usage"]["cache_creation_input_tokens"])
        self.assertEqual(second["usage"]["cache_creation_input_tokens"], 0)

        status, _, log = self.sim.json("GET", "/_sim/requests")
        sent = [json.loads(r["body"]) for r in log["requests"] if r["path"] == "/v1/messages"][-2:]
        self.assertEqual(sent[0]["tools"], sent[1]["tools"])
        self.assertEqual(sent[0]["system"], sent[1]["system"])
        self.assertEqual(sent[0]["messages"][0], sent[1]["messages"][0])
        for body in sent:
            self.assertNotIn("example.com", json.dumps(body))  # every address masked
        self.assertEqual(sent[1]["tools"][0]["cache_control"], {"type": "ephemeral"})


if __name__ == "__main__":
    unittest.main()
