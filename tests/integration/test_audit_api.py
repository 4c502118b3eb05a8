"""GET /admin/v1/audit and /admin/v1/audit/pipeda_violations against the real server.

Rows are inserted straight into the server's SQLite file (a second process, as
WAL allows), so the endpoint's rendering is checked independently of the
gateway that will write rows later.
"""
import json
import os
import sqlite3
import unittest
import urllib.parse

from aegis_harness import GatewayTestCase

COLUMNS = ("time_ms", "request_id", "team", "key_id", "surface", "task", "level", "entities", "placeholders",
           "tier", "provider", "model", "locality", "reason", "fallback_path", "status", "error_type",
           "input_tokens", "output_tokens", "cost_micros", "budget_period", "latency_us", "overhead_us",
           "invented_pii", "egress_blocked")

ROW_FIELDS = {"time", "time_ms", "request_id", "team", "key_id", "surface", "task", "classification", "entities",
              "placeholders", "tier", "provider", "model", "locality", "reason", "fallback_path", "status",
              "error_type", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "cost_usd",
              "budget_period", "latency_ms",
              "overhead_ms", "invented_pii", "egress_blocked", "egress_veto", "egress_rule", "cache_hit"}

# 2026-11-27T10:00:00Z
T0 = 1795773600000


def audit_row(request_id, team, time_ms, **overrides):
    row = {"time_ms": time_ms, "request_id": request_id, "team": team, "key_id": "4f9c0a1b2c3d4e5f",
           "surface": "openai.chat", "task": "general", "level": "INTERNAL", "entities": "{}", "placeholders": 0,
           "tier": "haiku", "provider": "ollama", "model": "llama3.2:3b", "locality": "local",
           "reason": "task general -> haiku", "fallback_path": '["ollama:ok"]', "status": 200, "error_type": "",
           "input_tokens": 10, "output_tokens": 20, "cost_micros": 0, "budget_period": "2026-11",
           "latency_us": 1500, "overhead_us": 250, "invented_pii": 0, "egress_blocked": 0}
    row.update(overrides)
    return row


class AuditApi(GatewayTestCase):
    def get(self, path, **params):
        query = urllib.parse.urlencode(params)
        return self.gw.admin("GET", path + ("?" + query if query else ""))

    def assertBadRequest(self, path, want_in_message=None):
        status, body = self.gw.admin("GET", path)
        self.assertEqual(status, 400, (path, body))
        self.assertEqual(body["error"]["type"], "invalid_request")
        if want_in_message:
            self.assertIn(want_in_message, body["error"]["message"], path)
        return body

    def insert(self, *rows):
        db = sqlite3.connect(os.path.join(self.gw.workdir, "data", "aegis.db"), timeout=10)
        try:
            with db:
                for row in rows:
                    db.execute(f"INSERT INTO audit({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                               [row[c] for c in COLUMNS])
        finally:
            db.close()

    # Runs first (unittest sorts by name): nothing has been inserted yet.
    def test_0_empty_trail(self):
        status, body = self.gw.admin("GET", "/admin/v1/audit")
        self.assertEqual((status, body), (200, {"data": [], "count": 0}))
        status, body = self.gw.admin("GET", "/admin/v1/audit/pipeda_violations")
        self.assertEqual((status, body), (200, {"count": 0}))

    def test_admin_key_is_required(self):
        for path in ("/admin/v1/audit", "/admin/v1/audit?limit=5", "/admin/v1/audit/pipeda_violations"):
            status, _, data = self.gw.request("GET", path)
            self.assertError(status, data, 401, "authentication_error")
            status, _, data = self.gw.request("GET", path, headers={"authorization": "Bearer wrong"})
            self.assertError(status, data, 401, "authentication_error")
        # Validation happens after authentication: a bad query without a key is still 401.
        status, _, data = self.gw.request("GET", "/admin/v1/audit?limit=0")
        self.assertError(status, data, 401, "authentication_error")

    def test_bad_parameters_are_400(self):
        for limit in ("0", "1001", "-1", "ten", "", "1.5", "+5", " 5", "99999999999999999999"):
            self.assertBadRequest("/admin/v1/audit?limit=" + urllib.parse.quote(limit), "limit")
        for since in ("yesterday", "", "2026-11-27", "2026-11-27T10:00:00", "2026-13-01T00:00:00Z",
                      "2026-11-27T10:00:00 01:00",
                      "2026-11-27T10:00:00+0100", "-5", "1e12", "12345678901234567"):
            body = self.assertBadRequest("/admin/v1/audit?since=" + urllib.parse.quote(since), "since")
            self.assertIn("RFC 3339", body["error"]["message"])
        body = self.assertBadRequest("/admin/v1/audit?tema=payments", "tema")
        self.assertIn("team, since, until, limit, offset, classification, status", body["error"]["message"])
        for name, bad in (("until", "soon"), ("offset", "-1"), ("offset", "1000001"), ("classification", "SECRET"),
                          ("status", "fine"), ("status", "99"), ("status", "600")):
            self.assertBadRequest(f"/admin/v1/audit?{name}={bad}", name)
        self.assertBadRequest("/admin/v1/audit?limit=5&limit=6", "more than once")
        self.assertBadRequest("/admin/v1/audit/pipeda_violations?team=x", "unknown query parameter")
        self.assertBadRequest("/admin/v1/audit?team=%ZZ", "malformed")

    def test_valid_parameters_are_accepted(self):
        for query in ("limit=1", "limit=1000", "since=0", "since=1795773600000", "since=2026-11-27T10:00:00Z",
                      "since=2026-11-27T10%3A00%3A00.5%2B01%3A00", "since=2026-11-27T10:00:00.5+01:00",
                      "team=nobody&since=0&limit=7", "team=", "%6Cimit=5"):
            status, body = self.gw.admin("GET", "/admin/v1/audit?" + query)
            self.assertEqual(status, 200, (query, body))
            self.assertEqual(body["count"], len(body["data"]))

    def test_rows_filters_and_the_violation_count(self):
        self.insert(
            audit_row("req_a1", "alpha", T0 - 60_000),
            audit_row("req_a2", "alpha", T0, level="CONFIDENTIAL", entities='{"EMAIL":2,"PERSON":1}', placeholders=3,
                      tier="sonnet", provider="azure", model="gpt-4o", locality="cloud",
                      fallback_path='["anthropic:unavailable","azure:ok"]', cost_micros=123,
                      latency_us=812_345, overhead_us=345, invented_pii=1, input_tokens=1234, output_tokens=567),
            audit_row("req_b1", "beta", T0 + 1_000, level="RESTRICTED", locality="local"),
            audit_row("req_b2", "beta", T0 + 2_000, level="RESTRICTED", locality="", status=503,
                      error_type="no_local_provider", provider="", model="", fallback_path="[]", budget_period=""),
        )
        status, body = self.get("/admin/v1/audit", team="alpha")
        self.assertEqual(status, 200, body)
        self.assertEqual([r["request_id"] for r in body["data"]], ["req_a2", "req_a1"])  # newest first
        self.assertEqual(body["count"], 2)
        row = body["data"][0]
        self.assertEqual(set(row), ROW_FIELDS)
        self.assertEqual(row, {
            "time": "2026-11-27T10:00:00.000Z", "time_ms": T0, "request_id": "req_a2", "team": "alpha",
            "key_id": "4f9c0a1b2c3d4e5f", "surface": "openai.chat", "task": "general",
            "classification": "CONFIDENTIAL", "entities": {"EMAIL": 2, "PERSON": 1}, "placeholders": 3,
            "tier": "sonnet", "provider": "azure", "model": "gpt-4o", "locality": "cloud",
            "reason": "task general -> haiku", "fallback_path": ["anthropic:unavailable", "azure:ok"],
            "status": 200, "error_type": "", "input_tokens": 1234, "output_tokens": 567, "cache_read_tokens": 0,
            "cache_write_tokens": 0, "cost_usd": 0.000123,
            "budget_period": "2026-11", "latency_ms": 812.345, "overhead_ms": 0.345, "invented_pii": True,
            "egress_blocked": False, "egress_veto": False, "egress_rule": "", "cache_hit": False})

        # Only the CONFIDENTIAL cloud row left the network, so nothing violates yet.
        self.assertEqual(self.gw.admin("GET", "/admin/v1/audit/pipeda_violations"), (200, {"count": 0}))

        status, body = self.get("/admin/v1/audit", since="2026-11-27T10:00:00Z")
        self.assertEqual([r["request_id"] for r in body["data"]], ["req_b2", "req_b1", "req_a2"])
        status, body = self.get("/admin/v1/audit", since=str(T0 + 1))
        self.assertEqual([r["request_id"] for r in body["data"]], ["req_b2", "req_b1"])
        status, body = self.get("/admin/v1/audit", since="2026-11-27T11:00:00+01:00", team="beta", limit="1")
        self.assertEqual([r["request_id"] for r in body["data"]], ["req_b2"])
        self.assertEqual(body["data"][0]["classification"], "RESTRICTED")
        self.assertEqual(body["data"][0]["fallback_path"], [])
        self.assertEqual(body["data"][0]["locality"], "")

        self.insert(audit_row("req_violation", "beta", T0 + 3_000, level="RESTRICTED", locality="cloud"))
        self.assertEqual(self.gw.admin("GET", "/admin/v1/audit/pipeda_violations"), (200, {"count": 1}))

    def test_the_writer_exports_its_metrics(self):
        status, _, data = self.gw.request("GET", "/metrics")
        self.assertEqual(status, 200)
        lines = data.decode().splitlines()
        for name in ("aegis_audit_rows_written_total", "aegis_audit_rows_dropped_total",
                     "aegis_audit_write_errors_total", "aegis_audit_queue_depth"):
            self.assertTrue(any(line.startswith(name + " ") for line in lines), name)
        self.assertIn("aegis_audit_rows_dropped_total 0", lines)

    def test_audit_rows_cannot_be_changed(self):
        self.insert(audit_row("req_fixed", "gamma", T0 - 86_400_000))
        db = sqlite3.connect(os.path.join(self.gw.workdir, "data", "aegis.db"), timeout=10)
        try:
            with self.assertRaises(sqlite3.DatabaseError):
                with db:
                    db.execute("UPDATE audit SET level = 'PUBLIC' WHERE request_id = 'req_fixed'")
            with self.assertRaises(sqlite3.DatabaseError):
                with db:
                    db.execute("DELETE FROM audit WHERE request_id = 'req_fixed'")
        finally:
            db.close()
        status, body = self.get("/admin/v1/audit", team="gamma")
        self.assertEqual([r["classification"] for r in body["data"]], ["INTERNAL"])


class AuditPages(GatewayTestCase):
    """The console's listing: classification and status filters, and pages
    anchored with `until` so rows written meanwhile do not shift them."""

    get = AuditApi.get
    insert = AuditApi.insert

    def test_filters_and_anchored_pages(self):
        rows = [audit_row(f"req_p{i:02d}", "paging", T0 + i * 1_000,
                          level="RESTRICTED" if i % 3 == 0 else "INTERNAL",
                          status=402 if i % 4 == 0 else 200,
                          error_type="budget_exceeded" if i % 4 == 0 else "")
                for i in range(20)]
        self.insert(*rows)
        ids = lambda body: [r["request_id"] for r in body["data"]]
        status, body = self.get("/admin/v1/audit", team="paging", classification="RESTRICTED", limit="100")
        self.assertEqual(status, 200, body)
        self.assertEqual(ids(body), [f"req_p{i:02d}" for i in (18, 15, 12, 9, 6, 3, 0)])
        status, body = self.get("/admin/v1/audit", team="paging", status="402")
        self.assertEqual(ids(body), [f"req_p{i:02d}" for i in (16, 12, 8, 4, 0)])
        status, body = self.get("/admin/v1/audit", team="paging", status="error")
        self.assertEqual(ids(body), [f"req_p{i:02d}" for i in (16, 12, 8, 4, 0)])
        status, body = self.get("/admin/v1/audit", team="paging", status="ok", classification="RESTRICTED")
        self.assertEqual(ids(body), [f"req_p{i:02d}" for i in (18, 15, 9, 6, 3)])
        # Pages of 6 anchored at the newest row; a row written after the anchor does not shift them.
        anchor = str(T0 + 19_000)
        first = ids(self.get("/admin/v1/audit", team="paging", until=anchor, limit="6")[1])
        self.insert(audit_row("req_p_late", "paging", T0 + 60_000))
        second = ids(self.get("/admin/v1/audit", team="paging", until=anchor, limit="6", offset="6")[1])
        rest = ids(self.get("/admin/v1/audit", team="paging", until=anchor, limit="100", offset="12")[1])
        self.assertEqual(first + second + rest, [f"req_p{i:02d}" for i in range(19, -1, -1)])
        self.assertEqual(ids(self.get("/admin/v1/audit", team="paging", until=anchor, offset="20")[1]), [])


class AuditAfterAnswers(GatewayTestCase):
    """A request's row is in the audit trail as soon as its answer is back: the
    gateway queues a success's final row before the answer leaves and the audit
    routes flush that queue before they read (it is written ~20 ms later
    otherwise, so without the flush a query right after an answer misses it)."""

    gateway_args = ("--demo",)

    def test_every_answered_request_is_in_the_next_audit_query(self):
        status, body = self.gw.admin("POST", "/admin/v1/teams", {"name": "prompt", "monthly_budget_usd": 5})
        self.assertEqual(status, 201, body)
        status, created = self.gw.admin("POST", "/admin/v1/keys", {"team": "prompt"})
        self.assertEqual(status, 201, created)
        for i in range(12):
            stream = i % 2 == 1
            request_id = f"req_prompt_{i:02d}"
            body = {"model": "auto", "stream": stream, "messages": [{"role": "user", "content": f"hello {i}"}]}
            status, _, data = self.gw.request(
                "POST", "/v1/chat/completions", body,
                {"authorization": f"Bearer {created['key']}", "x-request-id": request_id}, timeout=30)
            self.assertEqual(status, 200, data)
            status, rows = self.gw.admin("GET", "/admin/v1/audit?team=prompt&limit=100")
            self.assertEqual(status, 200, rows)
            ids = [row["request_id"] for row in rows["data"]]
            self.assertIn(request_id, ids, f"request {i} (stream={stream}) answered but not in the audit trail")
            self.assertEqual(len(ids), i + 1, ids)


if __name__ == "__main__":
    unittest.main()
