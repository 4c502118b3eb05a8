"""The admin console's API (docs/ARCHITECTURE.md, "The admin console's API")
through a --demo gateway: each endpoint's figures checked against the traffic
the test drives."""
import base64
import unittest

from aegis_harness import DemoUpstreams, GatewayTestCase, wait_until

SIN = "046 454 286"


class AdminConsoleApi(DemoUpstreams, GatewayTestCase):
    gateway_args = ("--demo",)

    def chat(self, key, content, model="auto"):
        status, headers, body = self.call_json(key, "POST", "/v1/chat/completions",
                                               {"model": model, "messages": [{"role": "user", "content": content}]})
        return status, headers, body

    def overview(self, query=""):
        status, body = self.gw.admin("GET", "/admin/v1/overview" + query)
        self.assertEqual(status, 200, body)
        return body

    def provider(self, name):
        status, body = self.gw.admin("GET", "/admin/v1/providers")
        self.assertEqual(status, 200, body)
        return next(p for p in body["data"] if p["name"] == name)

    def inspect(self, body):
        status, reply = self.gw.admin("POST", "/admin/v1/inspect", body)
        self.assertEqual(status, 200, reply)
        return reply

    def test_overview_counts_the_traffic_and_its_levels(self):
        _, key = self.new_team("console", "RESTRICTED")
        before = self.overview()
        for _ in range(4):
            self.assertEqual(self.chat(key, "hello there")[0], 200)
        status, headers, _ = self.chat(key, f"my SIN is {SIN}")
        self.assertEqual(status, 200)
        self.assertEqual(headers["x-aegis-classification"], "RESTRICTED")
        after = self.overview()
        self.assertEqual(after["totals"]["requests"] - before["totals"]["requests"], 5)
        self.assertEqual(after["levels"]["RESTRICTED"] - before["levels"]["RESTRICTED"], 1)
        self.assertEqual(after["window_s"], 3600)
        self.assertEqual(after["step_s"], 60)
        self.assertEqual(len(after["series"]), 60)
        times = [p["t"] for p in after["series"]]
        self.assertEqual(times, sorted(times))
        self.assertTrue(all(b - a == 60_000 for a, b in zip(times, times[1:])))
        self.assertEqual(sum(p["requests"] for p in after["series"]), after["totals"]["requests"])
        self.assertGreater(after["series"][-1]["requests"] + after["series"][-2]["requests"], 0)
        self.assertEqual(set(after["compliance"]), {"violations", "egress_vetoes", "blocked_sends"})
        self.assertEqual(after["compliance"]["violations"], 0)
        short = self.overview("?window_s=600&step_s=10")
        self.assertEqual(len(short["series"]), 60)

    def test_bad_parameters_are_400_naming_the_parameter(self):
        for path, name in (("/admin/v1/overview?window_s=59", "window_s"),
                           ("/admin/v1/overview?window_s=604801", "window_s"),
                           ("/admin/v1/overview?step_s=9", "step_s"),
                           ("/admin/v1/overview?step_s=abc", "step_s"),
                           ("/admin/v1/overview?window_s=86400&step_s=10", "window_s"),
                           ("/admin/v1/overview?bogus=1", "bogus"),
                           ("/admin/v1/rag/documents", "team"),
                           ("/admin/v1/rag/documents?team=x&limit=0", "limit"),
                           ("/admin/v1/rag/documents?team=x&cursor=nope", "cursor"),
                           ("/admin/v1/audit/verify?since=yesterday", "since")):
            status, body = self.gw.admin("GET", path)
            self.assertEqual(status, 400, (path, body))
            self.assertIn(name, body["error"]["message"], path)
        status, body = self.gw.admin("POST", "/admin/v1/inspect", {"prompt": "x"})
        self.assertEqual(status, 400, body)
        self.assertIn("team", body["error"]["message"])
        status, body = self.gw.admin("POST", "/admin/v1/inspect", {"team": "no-such-team", "prompt": "x"})
        self.assertEqual(status, 404, body)
        # The same time rule as GET /admin/v1/audit: at most 15 digits of epoch milliseconds.
        status, body = self.gw.admin("GET", "/admin/v1/audit/verify?until=12345678901234567")
        self.assertEqual(status, 400, body)
        self.assertIn("until", body["error"]["message"])
        # Attachments are checked as a stored attachment is: fields, base64, bytes that match the type.
        team, _ = self.new_team("console")
        png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 32).decode()
        for attachment, needle in (({"media_type": "image/png"}, "data"),
                                   ({"media_type": "image/png", "data": "not base64!"}, "base64"),
                                   ({"media_type": "image/png", "data": png, "url": "http://x"}, "url"),
                                   ({"media_type": "image/jpeg", "data": png}, "attachments[0]"),
                                   ({"media_type": "application/pdf", "data": png}, "attachments[0]")):
            status, body = self.gw.admin("POST", "/admin/v1/inspect",
                                         {"team": team, "prompt": "x", "attachments": [attachment]})
            self.assertEqual(status, 400, (attachment.keys(), body))
            self.assertIn(needle, body["error"]["message"], attachment.keys())

    def test_providers_show_a_fault_as_errors_and_a_fallback(self):
        _, key = self.new_team("console")
        before = self.provider("azure")
        self.assertEqual(before["type"], "azure_openai")
        self.assertEqual(before["locality"], "cloud")
        self.assertIn(before["breaker"], ("closed", "open", "half_open"))
        self.fault("azure", "status_503", 1)
        status, headers, _ = self.chat(key, "hello", model="gpt-4o")
        self.assertEqual(status, 200)
        after = self.provider("azure")
        self.assertEqual(after["requests"] - before["requests"], 1)
        self.assertEqual(after["errors"] - before["errors"], 1)
        self.assertEqual(after["fallbacks"] - before["fallbacks"], 1)
        self.assertGreater(after["latency_ms"]["p99"], 0)
        ollama = self.provider("ollama")
        self.assertEqual(ollama["locality"], "local")
        self.assertIn("vision", ollama["capabilities"])

    def test_inspect_of_a_sin_is_restricted_local_and_calls_no_provider(self):
        team, _ = self.new_team("console", "RESTRICTED")
        prompt = f"Please file this. My SIN is {SIN}, thanks é"
        sent_before = len(self.upstream_log())
        reply = self.inspect({"team": team, "prompt": prompt})
        self.assertEqual(reply["level"], "RESTRICTED")
        sin = [f for f in reply["findings"] if f["type"] == "CA_SIN"]
        self.assertEqual(len(sin), 1, reply["findings"])
        at = prompt.index(SIN)
        self.assertLessEqual(sin[0]["start"], at)
        self.assertGreaterEqual(sin[0]["end"], at + len(SIN))
        self.assertEqual(sin[0]["message_index"], 0)
        self.assertEqual(sin[0]["level"], "RESTRICTED")
        self.assertIsNone(reply["masked"])
        self.assertTrue(reply["route"]["local"], reply["route"])
        self.assertIsNone(reply["response"])
        self.assertEqual(len(self.upstream_log()), sent_before)
        self.assertNotIn(SIN, self.gw.log())

    def test_inspect_of_an_email_masks_it(self):
        team, _ = self.new_team("console")
        email = "jane.doe@example.org"
        prompt = f"Write to {email} about the offsite"
        reply = self.inspect({"team": team, "messages": [{"role": "system", "content": "Be brief."},
                                                         {"role": "user", "content": prompt}]})
        self.assertIn(reply["level"], ("CONFIDENTIAL", "INTERNAL"))
        found = [f for f in reply["findings"] if "EMAIL" in f["type"]]
        self.assertEqual(len(found), 1, reply["findings"])
        self.assertEqual(found[0]["message_index"], 1)
        self.assertEqual(prompt[found[0]["start"]:found[0]["end"]], email)
        self.assertIsNotNone(reply["masked"])
        user = reply["masked"][1]
        self.assertEqual(user["role"], "user")
        self.assertNotIn(email, user["content"])
        self.assertIn("EMAIL", user["content"])
        self.assertEqual(reply["masked"][0], {"role": "system", "content": "Be brief."})

    def test_inspect_with_send_runs_the_request_as_the_team(self):
        team, _ = self.new_team("console")
        sent_before = len(self.upstream_log())
        reply = self.inspect({"team": team, "prompt": "hello from the console", "send": True})
        self.assertIsNotNone(reply["response"])
        self.assertTrue(reply["response"]["text"])
        self.assertIn("provider=", reply["response"]["route"])
        self.assertEqual(len(self.upstream_log()), sent_before + 1)
        status, rows = self.gw.admin("GET", f"/admin/v1/audit?team={team}")
        self.assertEqual(status, 200, rows)
        self.assertEqual([(r["key_id"], r["surface"]) for r in rows["data"]], [("console", "console.inspect")])

    def test_jobs_summary_uses_the_store_states(self):
        _, key = self.new_team("console")
        status, _, reply = self.call_json(key, "POST", "/v1/jobs", {"task_type": "chat", "prompt": "hi",
                                                                   "max_tokens": 16})
        self.assertEqual(status, 202, reply)

        def finished():
            status, _, job = self.call_json(key, "GET", f"/v1/jobs/{reply['id']}")
            return status == 200 and job["status"] == "succeeded"

        # Finished, so its audit row does not land in another test's window.
        wait_until(finished, 20, "the job to succeed")
        status, body = self.gw.admin("GET", "/admin/v1/jobs/summary")
        self.assertEqual(status, 200, body)
        self.assertEqual(set(body["by_state"]),
                         {"queued", "running", "succeeded", "failed", "cancelled", "expired"})
        self.assertGreaterEqual(body["by_state"]["succeeded"], 1)
        self.assertGreaterEqual(body["oldest_queued_age_s"], 0)
        self.assertIsInstance(body["recent_failures"], list)

    def test_rag_collections_documents_and_erasure(self):
        team, key = self.new_team("console", "RESTRICTED")
        ids = []
        for text in ("The handbook says hello.", "Travel policy: book early.", "Lunch is at noon."):
            status, _, doc = self.call_json(key, "POST", "/v1/rag/documents",
                                            {"collection": "handbook", "text": text, "source": "a.txt"})
            self.assertEqual(status, 201, doc)
            ids.append(doc["document_id"])
        status, body = self.gw.admin("GET", "/admin/v1/rag/collections")
        self.assertEqual(status, 200, body)
        mine = [c for c in body["data"] if c["team"] == team]
        self.assertEqual(len(mine), 1, body)
        self.assertEqual(mine[0]["collection"], "handbook")
        self.assertEqual(mine[0]["documents"], 3)
        self.assertEqual(sum(mine[0]["by_level"].values()), 3)
        seen = []
        cursor = None
        while True:
            query = f"/admin/v1/rag/documents?team={team}&limit=2" + (f"&cursor={cursor}" if cursor else "")
            status, page = self.gw.admin("GET", query)
            self.assertEqual(status, 200, page)
            for doc in page["data"]:
                self.assertEqual(set(doc), {"id", "collection", "level", "created_at", "chunks"})
            seen += [d["id"] for d in page["data"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        self.assertEqual(sorted(seen), sorted(ids))
        status, gone = self.gw.admin("DELETE", f"/admin/v1/rag/documents/{ids[0]}")
        self.assertEqual(status, 200, gone)
        self.assertTrue(gone["deleted"])
        status, _, _ = self.call_json(key, "GET", f"/v1/rag/documents/{ids[0]}")
        self.assertEqual(status, 404)
        status, again = self.gw.admin("DELETE", f"/admin/v1/rag/documents/{ids[0]}")
        self.assertEqual(status, 404, again)
        status, rows = self.gw.admin("GET", f"/admin/v1/audit?team={team}")
        self.assertIn(("admin", "rag.erase"), [(r["key_id"], r["surface"]) for r in rows["data"]])

    def test_audit_verify_walks_the_chains(self):
        _, key = self.new_team("console")
        self.assertEqual(self.chat(key, "hello")[0], 200)
        status, body = self.gw.admin("GET", "/admin/v1/audit/verify")
        self.assertEqual(status, 200, body)
        self.assertTrue(body["ok"], body)
        self.assertGreaterEqual(body["chains"], 1)
        self.assertGreaterEqual(body["rows"], 1)
        self.assertIsInstance(body["checkpoints"], int)
        self.assertTrue(all(set(p) >= {"chain", "kind", "message"} for p in body["problems"]))
        status, empty = self.gw.admin("GET", "/admin/v1/audit/verify?since=2000-01-01T00:00:00Z"
                                             "&until=2000-02-01T00:00:00Z")
        self.assertEqual(status, 200, empty)
        self.assertEqual(empty["rows"], 0)


if __name__ == "__main__":
    unittest.main()
