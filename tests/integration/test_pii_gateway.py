"""Classification, block mode and invented-PII scanning on the compatible
endpoints, against a tiny scripted upstream that answers with PII the
request never contained."""
import http.server
import json
import re
import threading
import unittest

from aegis_harness import Gateway

ANSWER = "Sure. Call Bob at 416-555-0199 or write to bob.smith@example.org."


class ScriptedUpstream(http.server.BaseHTTPRequestHandler):
    """An OpenAI-compatible server whose answer is fixed."""

    def do_POST(self):
        length = int(self.headers.get("content-length", 0))
        request = json.loads(self.rfile.read(length))
        body = json.dumps({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": request["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": ANSWER}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 9, "total_tokens": 14},
        }).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def config(upstream_port, policy):
    return f"""
providers:
  - name: scripted
    type: openai_compat
    base_url: http://127.0.0.1:{upstream_port}/v1
    api_key: "${{SCRIPTED_KEY}}"
    locality: local
    models: {{haiku: scripted-1, sonnet: scripted-1, opus: scripted-1}}
pii:
  invented_pii: {policy}
  block_entities: [US_SSN]
  team_block_entities:
    strict: [EMAIL_ADDRESS]
"""


class PiiOnTheGateway(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ScriptedUpstream)
        threading.Thread(target=cls.upstream.serve_forever, daemon=True).start()

    @classmethod
    def tearDownClass(cls):
        cls.upstream.shutdown()

    def start(self, policy):
        gw = Gateway(config_text=config(self.upstream.server_address[1], policy), env={"SCRIPTED_KEY": "k"})
        self.addCleanup(gw.cleanup)
        keys = {}
        for team in ("open", "strict"):
            gw.admin("POST", "/admin/v1/teams", {"name": team, "monthly_budget_usd": 10})
            keys[team] = gw.admin("POST", "/admin/v1/keys", {"team": team})[1]["key"]
        return gw, keys

    def chat(self, gw, key, text, headers=None):
        hdrs = {"authorization": f"Bearer {key}"}
        hdrs.update(headers or {})
        return gw.request("POST", "/v1/chat/completions",
                          {"model": "auto", "messages": [{"role": "user", "content": text}]}, hdrs)

    def test_blocked_entity_is_422_naming_the_type_never_the_value(self):
        gw, keys = self.start("alert")
        status, _, data = self.chat(gw, keys["open"], "My SSN is 078-05-1120, file it")
        self.assertEqual(status, 422, data)
        err = json.loads(data)["error"]
        self.assertEqual(err["type"], "pii_blocked")
        self.assertIn("US_SSN", err["message"])
        self.assertNotIn("078-05-1120", data.decode())

    def test_team_specific_block(self):
        gw, keys = self.start("alert")
        text = "Forward this to alice@example.com"
        status, _, data = self.chat(gw, keys["strict"], text)
        self.assertEqual(status, 422, data)
        self.assertIn("EMAIL_ADDRESS", json.loads(data)["error"]["message"])
        status, _, data = self.chat(gw, keys["open"], text)
        self.assertEqual(status, 200, data)

    def test_classification_header_and_public_marking(self):
        gw, keys = self.start("alert")
        _, headers, _ = self.chat(gw, keys["open"], "card 4111 1111 1111 1111")
        self.assertEqual(headers["x-aegis-classification"], "RESTRICTED")
        _, headers, _ = self.chat(gw, keys["open"], "what is the capital of France?")
        self.assertEqual(headers["x-aegis-classification"], "INTERNAL")
        _, headers, _ = self.chat(gw, keys["open"], "what is the capital of France?",
                                  {"x-aegis-classification": "public"})
        self.assertEqual(headers["x-aegis-classification"], "PUBLIC")
        # A marking never lowers a level below what was detected.
        _, headers, _ = self.chat(gw, keys["open"], "token sk-ant-api03-u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8dKLzdocJ2isAjIhKtJ0RlgLKOmxgJTeKdNnFRIBXuDL7DxtpYlSXpfKtHFAA",
                                  {"x-aegis-classification": "public"})
        self.assertEqual(headers["x-aegis-classification"], "CONFIDENTIAL")
        status, _, data = gw.request("GET", "/metrics")
        self.assertRegex(data.decode(), r'aegis_classification_total\{level="RESTRICTED"\} [1-9]')

    def test_invented_pii_is_counted_under_alert(self):
        gw, keys = self.start("alert")
        status, _, data = self.chat(gw, keys["open"], "How do I reach Bob?")
        self.assertEqual(status, 200, data)
        self.assertEqual(json.loads(data)["choices"][0]["message"]["content"], ANSWER)
        metrics = gw.request("GET", "/metrics")[2].decode()
        self.assertRegex(metrics, r'aegis_pii_hallucinations_total\{entity="PHONE_NUMBER"\} 1')
        self.assertRegex(metrics, r'aegis_pii_hallucinations_total\{entity="EMAIL_ADDRESS"\} 1')

    def test_pii_the_request_contained_is_not_invented(self):
        gw, keys = self.start("alert")
        self.chat(gw, keys["open"], "Bob's number is 416-555-0199 and mail bob.smith@example.org")
        metrics = gw.request("GET", "/metrics")[2].decode()
        self.assertNotRegex(metrics, r'aegis_pii_hallucinations_total\{entity="PHONE_NUMBER"\} [1-9]')

    def test_invented_pii_is_redacted_under_redact(self):
        gw, keys = self.start("redact")
        status, _, data = self.chat(gw, keys["open"], "How do I reach Bob?")
        self.assertEqual(status, 200, data)
        content = json.loads(data)["choices"][0]["message"]["content"]
        self.assertNotIn("416-555-0199", content)
        self.assertNotIn("bob.smith@example.org", content)
        self.assertIn("[REDACTED_PHONE_NUMBER]", content)
        self.assertIn("[REDACTED_EMAIL_ADDRESS]", content)


if __name__ == "__main__":
    unittest.main()
