"""Request shape limits (config `limits:`, docs/CONFIG.md) on every surface
that takes such a request, against `aegis serve --demo`.

A body of 100 000 items fits in server.max_body_bytes (4 MiB) but used to
cost tens of seconds and gigabytes before anything refused it; now it is a
quick 400 naming the limit, and a request at exactly the limit still passes.

Classes:
- DefaultLimits: the built-in limits (2048 messages, 2048 embedding inputs).
- ConfiguredLimits: small limits from the config file, so each bound is seen
  to come from `limits:` (and max_text_bytes is reached within the body size).
"""
import json
import time
import unittest

from aegis_harness import GatewayTestCase

# The refusal is decided on the array's size while parsing; the time allowed is
# generous for a loaded machine, far below the tens of seconds it used to take.
QUICK_S = 3.0
HUGE = 100_000


def messages(n, text="hi"):
    return [{"role": "user", "content": text}] * n


class LimitsTestCase(GatewayTestCase):
    gateway_args = ("--demo",)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        status, _ = cls.gw.admin("POST", "/admin/v1/teams", {"name": "shapes", "monthly_budget_usd": 1000})
        assert status == 201
        status, created = cls.gw.admin("POST", "/admin/v1/keys", {"team": "shapes"})
        assert status == 201
        cls.key = created["key"]

    def post(self, path, body):
        """(status, parsed body, seconds taken)."""
        data = json.dumps(body).encode()
        self.assertLess(len(data), 4 * 1024 * 1024, "the body must fit in server.max_body_bytes to test shapes")
        started = time.monotonic()
        status, _, reply = self.gw.request("POST", path, body=data, timeout=120,
                                           headers={"authorization": f"Bearer {self.key}",
                                                    "content-type": "application/json"})
        return status, json.loads(reply), time.monotonic() - started

    def assertRefused(self, path, body, message):
        status, reply, took = self.post(path, body)
        self.assertEqual(status, 400, reply)
        self.assertEqual(reply["error"]["type"], "invalid_request", reply)
        self.assertEqual(reply["error"]["message"], message)
        self.assertLess(took, QUICK_S, f"{path} took {took:.1f}s to refuse")
        return reply

    def embeddings(self, inputs):
        return {"model": "nomic-embed-text", "input": inputs}

    def chat(self, msgs, **extra):
        return {"model": "haiku", "max_tokens": 16, "messages": msgs, **extra}

    def job(self, msgs):
        return {"task_type": "extraction", "model": "haiku", "max_tokens": 16, "messages": msgs}


class DefaultLimits(LimitsTestCase):
    def test_100000_embedding_inputs_are_refused_quickly_naming_the_limit(self):
        self.assertRefused("/v1/embeddings", self.embeddings(["x"] * HUGE),
                           "input has 100000 items; the limit is 2048 (limits.max_embedding_inputs)")

    def test_2048_embedding_inputs_pass(self):
        status, reply, _ = self.post("/v1/embeddings", self.embeddings([f"text {i}" for i in range(2048)]))
        self.assertEqual(status, 200, reply)
        self.assertEqual(len(reply["data"]), 2048)

    def test_100000_messages_are_refused_quickly_on_chat_completions(self):
        self.assertRefused("/v1/chat/completions", self.chat(messages(HUGE)),
                           "messages has 100000 items; the limit is 2048 (limits.max_messages)")

    def test_100000_messages_are_refused_quickly_on_messages(self):
        self.assertRefused("/v1/messages", self.chat(messages(HUGE)),
                           "messages has 100000 items; the limit is 2048 (limits.max_messages)")

    def test_100000_messages_are_refused_quickly_on_jobs_and_nothing_is_stored(self):
        body = dict(self.job(messages(HUGE)), task_type="refused-shape")
        self.assertRefused("/v1/jobs", body, "messages has 100000 items; the limit is 2048 (limits.max_messages)")
        status, _, data = self.gw.request("GET", "/v1/jobs", headers={"authorization": f"Bearer {self.key}"})
        self.assertEqual(status, 200, data)
        self.assertEqual([j for j in json.loads(data)["data"] if j["task_type"] == "refused-shape"], [])

    def test_2048_messages_pass_on_every_chat_surface(self):
        for path in ("/v1/chat/completions", "/v1/messages"):
            status, reply, _ = self.post(path, self.chat(messages(2048, "at the limit")))
            self.assertEqual(status, 200, (path, reply))
        status, reply, _ = self.post("/v1/jobs", self.job(messages(2048, "at the limit")))
        self.assertEqual(status, 202, reply)

    def test_too_many_tools_and_stop_sequences(self):
        tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
        self.assertRefused("/v1/chat/completions", self.chat(messages(1), tools=[tool] * 129),
                           "tools has 129 items; the limit is 128 (limits.max_tools)")
        self.assertRefused("/v1/messages",
                           self.chat(messages(1), tools=[{"name": "f", "input_schema": {"type": "object"}}] * 129),
                           "tools has 129 items; the limit is 128 (limits.max_tools)")
        self.assertRefused("/v1/chat/completions", self.chat(messages(1), stop=["x"] * 17),
                           "stop has 17 items; the limit is 16 (limits.max_stop_sequences)")
        self.assertRefused("/v1/messages", self.chat(messages(1), stop_sequences=["x"] * 17),
                           "stop_sequences has 17 items; the limit is 16 (limits.max_stop_sequences)")


class ConfiguredLimits(LimitsTestCase):
    config_text = """
limits:
  max_messages: 3
  max_embedding_inputs: 4
  max_text_bytes: 2048
"""

    def test_each_surface_uses_the_configured_limits(self):
        self.assertRefused("/v1/embeddings", self.embeddings(["x"] * 5),
                           "input has 5 items; the limit is 4 (limits.max_embedding_inputs)")
        status, reply, _ = self.post("/v1/embeddings", self.embeddings(["x"] * 4))
        self.assertEqual(status, 200, reply)
        for path in ("/v1/chat/completions", "/v1/messages", "/v1/jobs"):
            body = self.job(messages(4)) if path == "/v1/jobs" else self.chat(messages(4))
            self.assertRefused(path, body, "messages has 4 items; the limit is 3 (limits.max_messages)")
            body = self.job(messages(3)) if path == "/v1/jobs" else self.chat(messages(3))
            status, reply, _ = self.post(path, body)
            self.assertEqual(status, 202 if path == "/v1/jobs" else 200, (path, reply))

    def test_text_is_bounded_across_fields(self):
        big = [{"role": "user", "content": "a" * 1024}, {"role": "user", "content": "b" * 1025}]
        for path in ("/v1/chat/completions", "/v1/messages", "/v1/jobs"):
            body = self.job(big) if path == "/v1/jobs" else self.chat(big)
            self.assertRefused(path, body, "the request's text has at least 2049 bytes; the limit is 2048 "
                                           "(limits.max_text_bytes)")
        self.assertRefused("/v1/embeddings", self.embeddings(["a" * 1024, "b" * 1025]),
                           "the request's text has at least 2049 bytes; the limit is 2048 (limits.max_text_bytes)")
        status, reply, _ = self.post("/v1/embeddings", self.embeddings(["a" * 1024, "b" * 1024]))
        self.assertEqual(status, 200, reply)


if __name__ == "__main__":
    unittest.main()
