"""A stream cut short is billed for what it carried, and its audit row says
who was answering.

Two ways a stream ends early: the drain deadline of a SIGTERM passes while it
is still running (the gateway cuts it off, ends it with the protocol's error
event and books what was streamed), and the client hangs up mid-stream (the
gateway books what was streamed, not the worst-case reservation).

The upstream is a standalone `aegis sim` with a slow per-token pace, declared
as a cloud Anthropic provider, so a stream lasts far longer than the test.
"""
import json
import math
import os
import shutil
import signal
import socket
import tempfile
import unittest

from aegis_harness import Gateway, wait_until
from test_sim import Sim

PRICE_IN, PRICE_OUT = 3.0, 15.0  # USD per million tokens
MAX_TOKENS = 2000
WORDS = 400                      # the simulator echoes them, one token per word


def config(db_path, sim_port, drain_ms):
    return f"""
server:
  drain_timeout_ms: {drain_ms}
storage:
  sqlite_path: "{db_path}"
providers:
  - name: slowcloud
    type: anthropic
    base_url: http://127.0.0.1:{sim_port}
    api_key: test-key
    locality: cloud
    models: {{sonnet: claude-sonnet-4-5}}
    prices:
      claude-sonnet-4-5: {{input_per_mtok_usd: {PRICE_IN}, output_per_mtok_usd: {PRICE_OUT}}}
"""


def prompt():
    return " ".join(f"word{i}" for i in range(WORDS))


def worst_case_usd(body):
    """The preflight reservation: ceil(prompt bytes / 3) input tokens and max_tokens output, rounded up."""
    prompt_bytes = sum(len(m["content"].encode()) for m in body["messages"])
    input_tokens = math.ceil(prompt_bytes / 3)
    micros = math.ceil((input_tokens * PRICE_IN * 1e6 + body["max_tokens"] * PRICE_OUT * 1e6) / 1e6)
    return micros / 1e6


class StreamCutOff(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="aegis-cutoff-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self.sim = Sim("--per-token-ms", "100")
        self.addCleanup(self.sim.cleanup)
        self.gateways = []
        self.addCleanup(lambda: [gw.cleanup() for gw in self.gateways])

    def start(self, drain_ms=1500):
        gw = Gateway(config_text=config(os.path.join(self.dir, "aegis.db"), self.sim.port, drain_ms))
        self.gateways.append(gw)
        return gw

    def make_team(self, gw, name):
        status, body = gw.admin("POST", "/admin/v1/teams", {"name": name, "monthly_budget_usd": 50})
        self.assertEqual(status, 201, body)
        status, body = gw.admin("POST", "/admin/v1/keys", {"team": name})
        self.assertEqual(status, 201, body)
        return body["key"]

    def open_stream(self, gw, key, path, request_id):
        """Sends a streamed request on a raw socket; returns the socket and the body sent."""
        if path == "/v1/messages":
            body = {"model": "sonnet", "max_tokens": MAX_TOKENS, "stream": True,
                    "messages": [{"role": "user", "content": prompt()}]}
            auth = f"x-api-key: {key}\r\n"
        else:
            body = {"model": "sonnet", "max_tokens": MAX_TOKENS, "stream": True,
                    "messages": [{"role": "user", "content": prompt()}]}
            auth = f"authorization: Bearer {key}\r\n"
        data = json.dumps(body).encode()
        s = socket.create_connection(("127.0.0.1", gw.port), timeout=30)
        s.sendall((f"POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n{auth}"
                   f"x-request-id: {request_id}\r\ncontent-length: {len(data)}\r\n\r\n").encode() + data)
        return s, body

    @staticmethod
    def read_until(s, buffer, predicate):
        while not predicate(buffer):
            chunk = s.recv(65536)
            if not chunk:
                return buffer, True
            buffer += chunk
        return buffer, False

    @staticmethod
    def anthropic_text(raw):
        text = ""
        for line in raw.decode("utf-8", "replace").splitlines():
            if line.startswith("data: ") and '"text_delta"' in line:
                try:
                    text += json.loads(line[6:])["delta"]["text"]
                except (ValueError, KeyError):
                    pass  # a chunk-size line inside a split event: not counted
        return text

    def audit_row(self, gw, team, request_id, timeout=5.0):
        def rows():
            status, _, data = gw.request("GET", f"/admin/v1/audit?team={team}&limit=100",
                                         headers={"authorization": f"Bearer {gw.admin_key}"})
            self.assertEqual(status, 200, data)
            return [r for r in json.loads(data)["data"] if r["request_id"] == request_id]

        found = wait_until(rows, timeout, f"the audit row of {request_id}")
        self.assertEqual(len(found), 1, found)
        return found[0]

    def spend(self, gw, team):
        status, body = gw.admin("GET", f"/admin/v1/teams/{team}/spend")
        self.assertEqual(status, 200, body)
        return body

    def assert_route_fields(self, row, outcome):
        self.assertEqual(row["fallback_path"], [f"slowcloud:{outcome}"], row)
        self.assertEqual(row["provider"], "slowcloud", row)
        self.assertEqual(row["model"], "claude-sonnet-4-5", row)
        self.assertEqual(row["locality"], "cloud", row)
        self.assertRegex(row["budget_period"], r"^\d{4}-\d{2}$", row)

    def test_drain_deadline_ends_the_stream_with_an_error_event_and_bills_what_was_streamed(self):
        gw = self.start(drain_ms=1500)
        key = self.make_team(gw, "cutoff")
        request_id = "req_cutoff_drain_0001"
        s, body = self.open_stream(gw, key, "/v1/messages", request_id)
        try:
            # Some text has reached the client: the stream is well under way.
            raw, ended = self.read_until(s, b"", lambda b: b.count(b'"text_delta"') >= 5)
            self.assertFalse(ended, raw[-500:])
            gw.proc.send_signal(signal.SIGTERM)
            s.settimeout(15)
            raw, ended = self.read_until(s, raw, lambda b: False)
            self.assertTrue(ended)
        finally:
            s.close()
        self.assertEqual(gw.proc.wait(15), 0)
        self.assertIn('"event":"drained","clean":false', gw.log())

        text = raw.decode("utf-8", "replace")
        self.assertTrue(text.startswith("HTTP/1.1 200"), text[:300])
        # The last event is the protocol's error event, then the chunked body's end.
        events = [line for line in text.splitlines() if line.startswith("event: ")]
        self.assertEqual(events[-1], "event: error", events[-5:])
        error_line = [line for line in text.splitlines() if line.startswith("data: ")][-1]
        error = json.loads(error_line[6:])
        self.assertEqual(error["type"], "error", error)
        self.assertIn("shutting down", error["error"]["message"])
        self.assertTrue(text.endswith("0\r\n\r\n"), text[-200:])
        self.assertNotIn("message_stop", text)
        received = self.anthropic_text(raw)
        self.assertGreater(len(received), 0)

        again = self.start()
        row = self.audit_row(again, "cutoff", request_id)
        self.assertEqual(row["status"], 499, row)
        self.assertEqual(row["error_type"], "cancelled", row)
        self.assert_route_fields(row, "interrupted")
        self.assertGreater(row["cost_usd"], 0, row)
        self.assertLess(row["cost_usd"], worst_case_usd(body), row)
        # What the client received was counted (at least; the provider may have sent more).
        self.assertGreaterEqual(row["output_tokens"], math.ceil(len(received.encode()) / 3), row)
        self.assertGreater(row["input_tokens"], 0, row)
        spend = self.spend(again, "cutoff")
        self.assertEqual(round(spend["spent_usd"] * 1e6), round(row["cost_usd"] * 1e6), spend)
        self.assertEqual(spend["reserved_usd"], 0, spend)

    def test_client_that_hangs_up_mid_stream_is_billed_for_what_was_streamed(self):
        gw = self.start()
        key = self.make_team(gw, "hangup")
        for path in ("/v1/chat/completions", "/v1/messages"):
            with self.subTest(path=path):
                request_id = "req_hangup_" + path.replace("/", "_")
                s, body = self.open_stream(gw, key, path, request_id)
                try:
                    marker = b'"content"' if path == "/v1/chat/completions" else b'"text_delta"'
                    raw, ended = self.read_until(s, b"", lambda b: b.count(marker) >= 5)
                    self.assertFalse(ended, raw[-500:])
                finally:
                    s.close()
                row = self.audit_row(gw, "hangup", request_id, timeout=15)
                self.assertEqual(row["status"], 499, row)
                self.assert_route_fields(row, "client_gone")
                self.assertGreater(row["cost_usd"], 0, row)
                # What was relayed, far below the reservation for 2000 output tokens.
                self.assertLess(row["cost_usd"], worst_case_usd(body) / 2, row)
                self.assertGreater(row["output_tokens"], 0, row)
                self.assertLess(row["output_tokens"], MAX_TOKENS / 2, row)
        rows_cost = 0
        status, _, data = gw.request("GET", "/admin/v1/audit?team=hangup&limit=100",
                                     headers={"authorization": f"Bearer {gw.admin_key}"})
        for row in json.loads(data)["data"]:
            rows_cost += round(row["cost_usd"] * 1e6)
        spend = self.spend(gw, "hangup")
        self.assertEqual(round(spend["spent_usd"] * 1e6), rows_cost, spend)
        self.assertEqual(spend["reserved_usd"], 0, spend)


if __name__ == "__main__":
    unittest.main()
