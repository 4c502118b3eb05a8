"""The OpenAI/Anthropic-compatible endpoints in demo mode: translation,
route headers, bad input and upstream failures."""
import json
import unittest

from aegis_harness import GatewayTestCase

# Breakers would open after three injected failures and change later tests'
# routes; this file tests error mapping, so they stay closed here.
CONFIG = """
server:
  max_body_bytes: 65536
resilience:
  failure_threshold: 1000
"""
ALL_PROVIDERS = ("anthropic", "azure", "ollama")


class CompatEndpoints(GatewayTestCase):
    gateway_args = ("--demo",)
    config_text = CONFIG

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        status, _ = cls.gw.admin("POST", "/admin/v1/teams", {"name": "compat", "monthly_budget_usd": 50})
        assert status == 201
        status, created = cls.gw.admin("POST", "/admin/v1/keys", {"team": "compat"})
        cls.key = created["key"]

    def call(self, path, body, headers=None, raw=None):
        hdrs = {"authorization": f"Bearer {self.key}", "content-type": "application/json"}
        hdrs.update(headers or {})
        data = raw if raw is not None else json.dumps(body).encode()
        return self.gw.request("POST", path, body=data, headers=hdrs)

    def fault(self, provider, mode, count=1):
        status, body = self.gw.admin("POST", "/admin/v1/demo/faults", {"provider": provider, "mode": mode, "count": count})
        self.assertEqual(status, 200, body)

    def upstream_log(self):
        status, body = self.gw.admin("GET", "/admin/v1/demo/upstream-log")
        self.assertEqual(status, 200)
        return body["requests"]

    def test_openai_request_reaches_anthropic_and_route_is_reported(self):
        status, headers, data = self.call("/v1/chat/completions",
                                          {"model": "sonnet", "messages": [{"role": "user", "content": "route me"}]})
        self.assertEqual(status, 200, data)
        self.assertEqual(headers["x-aegis-route"],
                         "tier=sonnet; provider=anthropic; model=claude-sonnet-4-5; reason=explicit tier=sonnet; budget ok")
        body = json.loads(data)
        self.assertEqual(body["choices"][0]["message"]["content"], "Echo: route me")
        last = [r for r in self.upstream_log() if r["provider"] == "anthropic"][-1]
        self.assertEqual(last["path"], "/v1/messages")
        self.assertEqual(last["locality"], "cloud")

    def test_explicit_local_model_goes_to_ollama(self):
        status, headers, data = self.call("/v1/messages", {"model": "llama3.2:3b", "max_tokens": 20,
                                                           "messages": [{"role": "user", "content": "local please"}]})
        self.assertEqual(status, 200, data)
        self.assertIn("provider=ollama", headers["x-aegis-route"])
        body = json.loads(data)
        self.assertEqual(body["type"], "message")
        self.assertEqual(body["content"][0]["text"], "Echo: local please")
        self.assertEqual([r for r in self.upstream_log() if r["provider"] == "ollama"][-1]["path"], "/api/chat")

    def test_task_header_picks_the_tier(self):
        status, headers, _ = self.call("/v1/chat/completions", {"model": "auto", "messages": [{"role": "user", "content": "x"}]},
                                       headers={"x-aegis-task": "security_audit"})
        self.assertEqual(status, 200)
        self.assertIn("tier=opus", headers["x-aegis-route"])
        status, _, data = self.call("/v1/chat/completions", {"model": "auto", "messages": [{"role": "user", "content": "x"}]},
                                    headers={"x-aegis-task": "Not A Task!"})
        self.assertError(status, data, 400, "invalid_request")

    def test_bad_input_is_400_with_a_clear_message(self):
        cases = [
            ({"model": "auto"}, "messages"),
            ({"model": "auto", "messages": "hello"}, "messages"),
            ({"model": "auto", "messages": [{"role": "wizard", "content": "x"}]}, "role"),
            ({"model": "auto", "messages": [{"role": "user", "content": "x"}], "max_tokens": "ten"}, "max_tokens"),
            ({"model": "auto", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"}, "temperature"),
            ({"model": "gpt-17-ultra", "messages": [{"role": "user", "content": "x"}]}, "unknown model"),
        ]
        for body, needle in cases:
            status, _, data = self.call("/v1/chat/completions", body)
            err = self.assertError(status, data, 400, "invalid_request")
            self.assertIn(needle, err["error"]["message"], body)
        status, _, data = self.call("/v1/messages", {"model": "haiku", "messages": [{"role": "user", "content": "x"}]})
        err = self.assertError(status, data, 400, "invalid_request")
        self.assertIn("max_tokens", err["error"]["message"])
        self.assertEqual(json.loads(data)["type"], "error")

    def test_unknown_model_lists_allowed_values(self):
        status, _, data = self.call("/v1/chat/completions", {"model": "nope", "messages": [{"role": "user", "content": "x"}]})
        msg = json.loads(data)["error"]["message"]
        for allowed in ("auto", "haiku", "sonnet", "opus", "claude-opus-4-1", "llama3.3:70b"):
            self.assertIn(allowed, msg)

    def test_malformed_json_and_invalid_utf8(self):
        status, _, data = self.call("/v1/chat/completions", None, raw=b'{"model": "auto", "messages": [')
        self.assertError(status, data, 400, "invalid_json")
        status, _, data = self.call("/v1/messages", None,
                                    raw=b'{"model":"haiku","max_tokens":5,"messages":[{"role":"user","content":"\xc3\x28"}]}')
        self.assertError(status, data, 400, "invalid_json")

    def test_oversized_body_is_413(self):
        big = {"model": "auto", "messages": [{"role": "user", "content": "x" * 70000}]}
        status, _, data = self.call("/v1/chat/completions", big)
        self.assertError(status, data, 413, "payload_too_large")

    def test_no_key_is_401(self):
        status, _, data = self.gw.request("POST", "/v1/chat/completions", body={"model": "auto", "messages": []})
        self.assertError(status, data, 401, "authentication_error")

    def test_upstream_garbage_and_reset_are_502_once_every_provider_failed(self):
        # A reset on a reused keep-alive connection is retried once on a fresh
        # one (it looks exactly like a stale connection), so reset twice.
        for mode, count in (("garbage", 1), ("reset", 2)):
            for provider in ALL_PROVIDERS:
                self.fault(provider, mode, count)
            status, headers, data = self.call("/v1/chat/completions",
                                              {"model": "claude-haiku-4-5", "messages": [{"role": "user", "content": "x"}]})
            self.assertError(status, data, 502, "upstream_error")
            # The last provider of the chain was the last one tried.
            self.assertIn("provider=ollama", headers["x-aegis-route"])

    def test_one_failing_provider_falls_back_to_the_next(self):
        self.fault("anthropic", "garbage")
        status, headers, data = self.call("/v1/chat/completions",
                                          {"model": "claude-haiku-4-5", "messages": [{"role": "user", "content": "x"}]})
        self.assertEqual(status, 200, data)
        self.assertIn("provider=azure", headers["x-aegis-route"])
        self.assertEqual(json.loads(data)["choices"][0]["message"]["content"], "Echo: x")

    def test_upstream_429_keeps_retry_after(self):
        for provider in ALL_PROVIDERS:
            self.fault(provider, "status_429")
        status, headers, data = self.call("/v1/chat/completions",
                                          {"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]})
        self.assertError(status, data, 429, "rate_limited")
        self.assertEqual(headers.get("retry-after"), "1")

    def test_failure_before_first_byte_of_a_stream_is_a_plain_error(self):
        for provider in ALL_PROVIDERS:
            self.fault(provider, "status_503")
        status, headers, data = self.call("/v1/chat/completions", {"model": "gpt-4o", "stream": True,
                                                                   "messages": [{"role": "user", "content": "x"}]})
        self.assertError(status, data, 503, "unavailable")
        self.assertTrue(headers["content-type"].startswith("application/json"))

    def test_failure_before_first_byte_of_a_stream_falls_back(self):
        self.fault("azure", "status_503")
        status, headers, data = self.call("/v1/chat/completions", {"model": "gpt-4o", "stream": True,
                                                                   "messages": [{"role": "user", "content": "x"}]})
        self.assertEqual(status, 200, data)
        self.assertTrue(headers["content-type"].startswith("text/event-stream"))
        self.assertNotIn("provider=azure", headers["x-aegis-route"])
        self.assertIn(b"[DONE]", data)

    def test_truncated_openai_stream_ends_with_an_error_event_not_done(self):
        self.fault("azure", "truncate")
        status, headers, data = self.call("/v1/chat/completions", {"model": "gpt-4o", "stream": True,
                                                                   "messages": [{"role": "user", "content": "one two three four five six seven"}]})
        self.assertEqual(status, 200)
        text = data.decode()
        self.assertNotIn("data: [DONE]", text)
        last = [l for l in text.split("\n\n") if l.strip()][-1]
        self.assertTrue(last.startswith("data: "), last)
        self.assertIn("error", json.loads(last[len("data: "):]))

    def test_truncated_anthropic_stream_ends_with_an_error_event(self):
        self.fault("ollama", "truncate")
        status, _, data = self.call("/v1/messages", {"model": "qwen2.5:14b", "max_tokens": 50, "stream": True,
                                                     "messages": [{"role": "user", "content": "one two three four five six"}]})
        self.assertEqual(status, 200)
        events = [block.split("\n")[0] for block in data.decode().split("\n\n") if block.strip()]
        self.assertEqual(events[0], "event: message_start")
        self.assertEqual(events[-1], "event: error")
        self.assertNotIn("event: message_stop", events)

    def test_embeddings_and_models(self):
        status, headers, data = self.call("/v1/embeddings", {"model": "nomic-embed-text", "input": ["a", "b"]})
        self.assertEqual(status, 200, data)
        body = json.loads(data)
        self.assertEqual(len(body["data"]), 2)
        self.assertEqual(len(body["data"][0]["embedding"]), 768)
        self.assertIn("provider=ollama", headers["x-aegis-route"])
        status, _, data = self.call("/v1/embeddings", {"model": "nope", "input": "a"})
        self.assertError(status, data, 400, "invalid_request")
        status, _, data = self.gw.request("GET", "/v1/models", headers={"authorization": f"Bearer {self.key}"})
        self.assertEqual(status, 200)
        self.assertIn("claude-haiku-4-5", [m["id"] for m in json.loads(data)["data"]])


if __name__ == "__main__":
    unittest.main()
