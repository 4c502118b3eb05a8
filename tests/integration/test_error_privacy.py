"""Upstream failures reach clients as "which provider, what kind of failure",
never as where the provider lives.

Every fault the demo simulators can inject without waiting for a timeout
(error statuses, connection resets, truncated and malformed bodies) is sent
through both chat surfaces, as complete and as streamed requests. Whatever
the client gets back (a JSON error, or a stream's error event) must name the
provider and must not hold an address, a port, `localhost` or a URL; the
detail is in the gateway's log instead.
"""
import json
import re
import unittest

from aegis_harness import DemoUpstreams, GatewayTestCase

CONFIG = """
resilience:
  failure_threshold: 1000
"""

PROVIDERS = ("anthropic", "azure", "ollama")
MODES = ("status_429", "status_500", "status_503", "reset", "truncate", "garbage")
LEAKS = [re.compile(p) for p in (r"127\.0\.0\.1", r"localhost", r"https?://", r":\d{2,5}\b")]
NAMED = re.compile(r"provider '(anthropic|azure|ollama)'")


def stream_error(path, text):
    """The message of the stream's final error event, or None when it has none."""
    datas = [line[len("data: "):] for line in text.splitlines() if line.startswith("data: ")]
    for data in reversed(datas):
        if data.strip() == "[DONE]":
            continue
        try:
            event = json.loads(data)
        except ValueError:
            continue
        if "error" in event:
            return event["error"].get("message")
        return None
    return None


class ErrorMessagesHideUpstreamAddresses(DemoUpstreams, GatewayTestCase):
    gateway_args = ("--demo",)
    config_text = CONFIG

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        status, body = cls.gw.admin("POST", "/admin/v1/teams", {"name": "privacy", "monthly_budget_usd": 50})
        assert status == 201, body
        status, body = cls.gw.admin("POST", "/admin/v1/keys", {"team": "privacy"})
        assert status == 201, body
        cls.key = body["key"]

    def tearDown(self):
        for provider in PROVIDERS:
            self.fault(provider, "none")

    def send(self, path, stream):
        body = {"model": "sonnet", "max_tokens": 64, "stream": stream,
                "messages": [{"role": "user", "content": "tell me about the weather"}]}
        headers = {"x-api-key": self.key} if path == "/v1/messages" else {"authorization": f"Bearer {self.key}"}
        return self.gw.request("POST", path, body, headers, timeout=30)

    def assert_private(self, where, message, whole):
        self.assertTrue(message, f"{where}: no error message in {whole[:600]!r}")
        self.assertRegex(message, NAMED, where)
        for leak in LEAKS:
            self.assertNotRegex(message, leak, where)
        for leak in LEAKS[:3]:
            self.assertNotRegex(whole, leak, where)

    def test_every_fault_on_every_surface(self):
        for path in ("/v1/chat/completions", "/v1/messages"):
            for stream in (False, True):
                for mode in MODES:
                    where = f"{path} stream={stream} mode={mode}"
                    with self.subTest(where):
                        for provider in PROVIDERS:
                            self.fault(provider, mode, count=1)
                        status, _, data = self.send(path, stream)
                        text = data.decode("utf-8", "replace")
                        if status == 200:
                            self.assertTrue(stream, f"{where}: answered {text[:300]}")
                            message = stream_error(path, text)
                        else:
                            message = json.loads(data)["error"]["message"]
                        self.assert_private(where, message, text)
                        for provider in PROVIDERS:
                            self.fault(provider, "none")

    def test_the_detail_is_in_the_log(self):
        for provider in PROVIDERS:
            self.fault(provider, "reset", count=1)
        status, _, data = self.send("/v1/chat/completions", False)
        self.assertGreaterEqual(status, 500, data)
        # Log lines are written by a background thread: the line may follow the answer.
        self.gw.wait_for_log('"event":"provider_transport_error"')
        lines = [json.loads(line) for line in self.gw.log().splitlines()
                 if '"event":"provider_transport_error"' in line]
        self.assertTrue(lines)
        self.assertTrue(any(re.match(r"127\.0\.0\.1:\d+$", line["upstream"]) for line in lines), lines)


if __name__ == "__main__":
    unittest.main()
