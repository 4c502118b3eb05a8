"""Streamed answers (POST /v1/rag/answer with "stream": true; issue 17) through the real binary.

A `--demo` gateway (SQLite; local embedder ollama). The simulators answer
"Echo: <the prompt>", cut at max_tokens pieces, so an answer is a
deterministic function of its prompt: a streamed answer's deltas, joined,
must equal the complete answer to the same question. Checked: the events
(chunks first, deltas, done last; the same chunk ids everywhere), the
governance headers, a RESTRICTED chunk keeping the stream on the local
model, a key cleared for PUBLIC never receiving a RESTRICTED chunk's id or
text, masking restored in the deltas, JSON errors before the first byte and
an error event after it.
"""
import http.client
import json
import unittest

from aegis_harness import DemoUpstreams, GatewayTestCase
from test_rag import DOCS, LEVELS, holds_the_sin, route_provider


def parse_sse(data):
    """[(event, data object)] of an event stream; fails on anything else."""
    events = []
    text = data.decode()
    assert text.endswith("\n\n"), text[-200:]
    for block in text[:-2].split("\n\n"):
        lines = block.split("\n")
        assert len(lines) == 2 and lines[0].startswith("event: ") and lines[1].startswith("data: "), block
        events.append((lines[0][len("event: "):], json.loads(lines[1][len("data: "):])))
    return events


class RagStream(DemoUpstreams, GatewayTestCase):
    gateway_args = ("--demo",)

    def make_team(self, clearance="RESTRICTED", budget=50):
        return self.new_team("stream", clearance, budget)

    def call(self, key, method, path, body=None):
        return self.call_json(key, method, path, body, timeout=30)

    def seed(self, key, collection="handbook"):
        docs = {}
        for level in LEVELS:
            word, text = DOCS[level]
            body = {"collection": collection, "text": text, "source": f"{word}.txt"}
            if level in ("PUBLIC", "CONFIDENTIAL"):
                body["classification"] = level
            status, _, doc = self.call(key, "POST", "/v1/rag/documents", body)
            self.assertEqual(status, 201, doc)
            docs[level] = doc
        return docs

    def chunk_ids(self, key, collection):
        """{level: [chunk ids]} of the collection, as a key cleared for everything sees it."""
        status, _, body = self.call(key, "POST", "/v1/rag/query",
                                    {"collection": collection, "query": "anything at all", "top_k": 50})
        self.assertEqual(status, 200, body)
        out = {}
        for chunk in body["chunks"]:
            out.setdefault(chunk["classification"], []).append(chunk["id"])
        return out

    def stream(self, key, body):
        """(status, headers, raw body) of a streamed answer."""
        return self.gw.request("POST", "/v1/rag/answer", dict(body, stream=True),
                               {"authorization": f"Bearer {key}"}, timeout=30)

    def answer(self, key, body):
        status, headers, data = self.gw.request("POST", "/v1/rag/answer", body, {"authorization": f"Bearer {key}"},
                                                timeout=30)
        self.assertEqual(status, 200, data)
        return headers, json.loads(data)

    def assert_well_formed(self, events):
        names = [name for name, _ in events]
        self.assertEqual(names[0], "chunks", names)
        self.assertEqual(names[-1], "done", names)
        self.assertEqual(names.count("chunks"), 1, names)
        self.assertEqual(names.count("done"), 1, names)
        self.assertNotIn("error", names)
        self.assertTrue(set(names[1:-1]) <= {"delta"}, names)
        self.assertGreaterEqual(names.count("delta"), 1, names)
        done = events[-1][1]
        self.assertEqual(set(done), {"chunk_ids", "model", "provider", "usage"}, done)
        self.assertEqual(set(done["usage"]), {"input_tokens", "output_tokens"}, done)
        self.assertEqual(done["chunk_ids"], events[0][1]["chunk_ids"])
        return "".join(data["text"] for name, data in events if name == "delta"), done

    def test_the_events_come_in_order_and_the_deltas_join_to_the_complete_answer(self):
        team, key = self.make_team()
        self.seed(key)
        for clearance, question in (("INTERNAL", "What does the roadmap move to the new cluster?"),
                                    ("RESTRICTED", "When is the payroll SIN paid?")):
            status, body = self.gw.admin("PATCH", f"/admin/v1/teams/{team}", {"clearance": clearance})
            self.assertEqual(status, 200, body)
            ask = {"collection": "handbook", "question": question, "top_k": 2, "max_tokens": 300}
            headers, complete = self.answer(key, ask)
            # The simulator is deterministic: the same question answers the same.
            self.assertEqual(self.answer(key, ask)[1]["answer"], complete["answer"])

            status, stream_headers, data = self.stream(key, ask)
            self.assertEqual(status, 200, data)
            self.assertEqual(stream_headers["content-type"], "text/event-stream")
            self.assertEqual(stream_headers.get("cache-control"), "no-cache")
            for name in ("x-aegis-classification", "x-aegis-route", "x-aegis-masked"):
                self.assertEqual(stream_headers.get(name), headers.get(name), (clearance, name))
            events = parse_sse(data)
            text, done = self.assert_well_formed(events)
            self.assertEqual(events[0][1]["chunk_ids"], complete["chunk_ids"], clearance)
            self.assertEqual(len(complete["chunk_ids"]), 2)
            self.assertEqual(text, complete["answer"], clearance)
            self.assertTrue(text.startswith("Echo: "), text)
            self.assertEqual((done["model"], done["provider"]), (complete["model"], complete["provider"]), clearance)
            self.assertEqual(done["usage"], complete["usage"], clearance)
            self.assertEqual(done["provider"], route_provider(stream_headers), clearance)

    def test_a_restricted_chunk_in_the_context_keeps_the_stream_on_the_local_model(self):
        _, key = self.make_team()
        self.seed(key)
        status, headers, data = self.stream(key, {"collection": "handbook", "question": "When is the payroll SIN paid?",
                                                  "top_k": 2, "max_tokens": 300})
        self.assertEqual(status, 200, data)
        self.assertEqual(headers.get("x-aegis-classification"), "RESTRICTED")
        self.assertEqual(route_provider(headers), "ollama")
        text, done = self.assert_well_formed(parse_sse(data))
        self.assertEqual(done["provider"], "ollama")
        self.assertIn("046 454 286", text)  # the local model had the chunk
        cloud_chats = [r["body"] for r in self.upstream_log()
                       if r["locality"] == "cloud" and "embeddings" not in r["path"]]
        self.assertFalse(any(holds_the_sin(b) for b in cloud_chats))

    def test_a_key_cleared_for_public_never_streams_a_restricted_chunk(self):
        team, key = self.make_team()
        self.seed(key, "keyed")
        ids = self.chunk_ids(key, "keyed")
        status, narrowed = self.gw.admin("POST", "/admin/v1/keys", {"team": team, "clearance": "PUBLIC"})
        self.assertEqual(status, 201, narrowed)
        for question in ("When is the payroll SIN paid?", "Who approved the acquisition price?", "cafeteria lunch"):
            status, headers, data = self.stream(narrowed["key"], {"collection": "keyed", "question": question,
                                                                  "top_k": 10, "max_tokens": 400})
            self.assertEqual(status, 200, data)
            raw = data.decode()
            text, done = self.assert_well_formed(parse_sse(data))
            self.assertEqual(done["chunk_ids"], ids["PUBLIC"], question)
            for level in ("INTERNAL", "CONFIDENTIAL", "RESTRICTED"):
                for chunk_id in ids[level]:
                    self.assertNotIn(chunk_id, raw, (question, level))
                self.assertNotIn(DOCS[level][1], raw, (question, level))
            self.assertFalse(holds_the_sin(raw))
            self.assertIn(DOCS["PUBLIC"][1], text)  # the echo of the context it was given
            self.assertNotEqual(headers.get("x-aegis-classification"), "RESTRICTED")

    def test_placeholders_sent_to_a_cloud_model_are_restored_in_the_deltas(self):
        team, key = self.make_team("INTERNAL")
        address = f"jane.doe.{team.split('-')[1]}@example.com"
        status, _, doc = self.call(key, "POST", "/v1/rag/documents",
                                   {"collection": "mail", "text": f"Send the roadmap draft to {address} by Friday."})
        self.assertEqual(status, 201, doc)
        status, headers, data = self.stream(key, {"collection": "mail", "question": "Who gets the roadmap draft?",
                                                  "top_k": 1, "max_tokens": 300})
        self.assertEqual(status, 200, data)
        self.assertNotEqual(route_provider(headers), "ollama")
        self.assertGreaterEqual(int(headers["x-aegis-masked"]), 1)
        text, _ = self.assert_well_formed(parse_sse(data))
        self.assertIn(address, text)
        cloud = " ".join(r["body"] for r in self.upstream_log() if r["locality"] == "cloud")
        self.assertNotIn(address, cloud)

    def test_errors_before_the_first_byte_are_plain_json_responses(self):
        _, key = self.make_team()
        for body, want in (({"collection": "handbook", "question": "q", "top_k": 0}, 400),
                           ({"collection": "handbook", "question": "q", "top_k": 51}, 400),
                           ({"collection": "handbook", "question": ""}, 400),
                           ({"collection": "handbook", "question": "q", "colour": "red"}, 400)):
            status, headers, data = self.stream(key, body)
            self.assertEqual(status, want, (body, data))
            self.assertTrue(headers["content-type"].startswith("application/json"), headers)
            self.assertError(status, data, want, "invalid_request")
        status, headers, data = self.gw.request("POST", "/v1/rag/answer",
                                                {"collection": "c", "question": "q", "stream": "yes"},
                                                {"authorization": f"Bearer {key}"})
        self.assertError(status, data, 400, "invalid_request")

        # A budget too small for the answer: 402 before any byte of the stream, with the classification.
        _, poor = self.make_team("INTERNAL", budget=0.000001)
        status, _, doc = self.call(poor, "POST", "/v1/rag/documents",
                                   {"collection": "poor", "text": DOCS["INTERNAL"][1]})
        self.assertEqual(status, 201, doc)
        status, headers, data = self.stream(poor, {"collection": "poor", "question": "What does the roadmap move?",
                                                   "max_tokens": 4000})
        self.assertError(status, data, 402, "budget_exceeded")
        self.assertTrue(headers["content-type"].startswith("application/json"), headers)
        self.assertIn(headers.get("x-aegis-classification"), ("PUBLIC", "INTERNAL"))

    def test_a_failure_after_the_first_byte_ends_the_stream_with_an_error_event(self):
        team, key = self.make_team("INTERNAL")
        self.seed(key, "cut")
        ask = {"collection": "cut", "question": "What does the roadmap move to the new cluster?", "top_k": 2,
               "max_tokens": 300}
        headers, complete = self.answer(key, ask)
        provider = route_provider(headers)
        self.assertNotEqual(provider, "ollama")
        self.fault(provider, "truncate", count=1)  # some of the answer, then the connection is cut
        try:
            status, stream_headers, data = self.stream(key, ask)
        finally:
            self.fault(provider, "none")
        self.assertEqual(status, 200, data)
        events = parse_sse(data)
        names = [name for name, _ in events]
        self.assertEqual(names[0], "chunks")
        self.assertEqual(names[-1], "error", names)
        self.assertNotIn("done", names)
        self.assertGreaterEqual(names.count("delta"), 1, names)
        error = events[-1][1]
        self.assertEqual(set(error), {"error"}, error)
        self.assertTrue(error["error"]["type"] and error["error"]["message"], error)
        self.assertTrue(error["error"]["request_id"], error)
        self.assertEqual(events[0][1]["chunk_ids"], complete["chunk_ids"])
        # What it did carry was part of the answer.
        partial = "".join(data["text"] for name, data in events if name == "delta")
        self.assertTrue(complete["answer"].startswith(partial), (partial, complete["answer"]))
        self.assertLess(len(partial), len(complete["answer"]))

    def test_a_client_that_leaves_mid_stream_is_audited_and_the_gateway_carries_on(self):
        team, key = self.make_team()
        self.seed(key, "leave")
        conn = http.client.HTTPConnection("127.0.0.1", self.gw.port, timeout=30)
        try:
            body = json.dumps({"collection": "leave", "question": "When is the payroll SIN paid?", "top_k": 2,
                               "max_tokens": 300, "stream": True})
            conn.request("POST", "/v1/rag/answer", body=body,
                         headers={"authorization": f"Bearer {key}", "content-type": "application/json"})
            resp = conn.getresponse()
            self.assertEqual(resp.status, 200)
            first = resp.read1(64)
            self.assertTrue(first.startswith(b"event: chunks"), first)
        finally:
            conn.close()
        # The gateway still answers, and the stream's call is on record as rag.answer.
        _, answered = self.answer(key, {"collection": "leave", "question": "When is the payroll SIN paid?"})
        self.assertTrue(answered["answer"])

        def rows():
            status, audit = self.gw.admin("GET", f"/admin/v1/audit?team={team}&limit=200")
            self.assertEqual(status, 200, audit)
            chats = [r for r in audit["data"] if r["surface"] == "rag.answer" and r["task"] == "rag"]
            return chats if len(chats) >= 2 else None
        from aegis_harness import wait_until
        chats = wait_until(rows, 10, "two rag.answer rows")
        for row in chats:
            self.assertEqual(row["classification"], "RESTRICTED")
            self.assertEqual(row["locality"], "local")


if __name__ == "__main__":
    unittest.main()
