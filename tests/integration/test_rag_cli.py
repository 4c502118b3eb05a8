"""`aegis rag ingest FILE…|list|get|query|answer|rm`: the command-line client of /v1/rag.

Against `aegis serve --demo`: files become documents with their levels, a
query shows only what the key's clearance allows, an answer with a
RESTRICTED chunk in context names the local provider, rm erases, and
failures have the documented exit codes (1: the gateway said no; 2: usage).
"""
import json
import os
import re
import subprocess
import tempfile
import unittest

from aegis_harness import AEGIS_BIN, GatewayTestCase

DOC_ID = re.compile(r"^(doc_[0-9a-f]+)\s+(\w+)\s+(\d+)\s+(\S+)$")
PAYROLL = "Payroll record: employee SIN 046 454 286 is paid on the fifteenth of each month."
CAFETERIA = "The cafeteria serves lunch at noon on the third floor every weekday."


def run_cli(args, url, key, stdin=None):
    env = {k: v for k, v in os.environ.items() if k not in ("AEGIS_API_KEY", "AEGIS_URL")}
    if url is not None:
        env["AEGIS_URL"] = url
    if key is not None:
        env["AEGIS_API_KEY"] = key
    return subprocess.run([AEGIS_BIN, "rag", *args], capture_output=True, text=True, timeout=60, env=env,
                          input=stdin)


class RagCli(GatewayTestCase):
    gateway_args = ("--demo",)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.url = f"http://127.0.0.1:{cls.gw.port}"
        status, body = cls.gw.admin("POST", "/admin/v1/teams",
                                    {"name": "rag-cli", "monthly_budget_usd": 50, "clearance": "RESTRICTED"})
        assert status == 201, body
        status, created = cls.gw.admin("POST", "/admin/v1/keys", {"team": "rag-cli"})
        assert status == 201, created
        cls.key = created["key"]
        status, created = cls.gw.admin("POST", "/admin/v1/keys", {"team": "rag-cli", "clearance": "PUBLIC"})
        assert status == 201, created
        cls.public_key = created["key"]
        cls.dir = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()
        super().tearDownClass()

    def rag(self, *args, key=None, stdin=None):
        return run_cli(args, self.url, key or self.key, stdin)

    def ok(self, *args, **kw):
        r = self.rag(*args, **kw)
        self.assertEqual(r.returncode, 0, (args, r.stdout, r.stderr))
        return r.stdout

    def write(self, name, text):
        path = os.path.join(self.dir.name, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def ingest(self, collection, *paths):
        out = self.ok("ingest", "-c", collection, *paths)
        rows = [DOC_ID.match(line) for line in out.splitlines()[1:]]
        self.assertTrue(all(rows), out)
        return {m.group(4): (m.group(1), m.group(2), int(m.group(3))) for m in rows}

    def test_ingest_reports_each_files_document_and_level(self):
        docs = self.ingest("levels", self.write("payroll.txt", PAYROLL), self.write("cafeteria.txt", CAFETERIA))
        self.assertEqual(docs["payroll.txt"][1], "RESTRICTED")
        self.assertEqual(docs["cafeteria.txt"][1], "INTERNAL")
        listed = self.ok("list", "-c", "levels")
        for doc_id, level, _ in docs.values():
            self.assertRegex(listed, rf"{doc_id}\s+{level}\s+1\s+")
        shown = self.ok("get", docs["payroll.txt"][0])
        self.assertIn("RESTRICTED", shown)
        self.assertIn("levels/payroll.txt", shown)
        # --json prints the gateway's document as it came.
        r = json.loads(self.ok("ingest", "-c", "levels", "--classification", "PUBLIC", "--source", "menu",
                               "--json", "-", stdin=CAFETERIA))
        self.assertEqual([c["classification"] for c in r["chunks"]], ["PUBLIC"])

    def test_query_shows_only_what_the_keys_clearance_allows(self):
        self.ingest("clearance", self.write("payroll.txt", PAYROLL), self.write("menu.txt", CAFETERIA))
        self.ok("ingest", "-c", "clearance", "--classification", "PUBLIC",
                self.write("notice.txt", "Payroll questions go to the help desk."))
        full = self.ok("query", "-c", "clearance", "-k", "5", "payroll", "SIN", "fifteenth")
        first = full.splitlines()[0].split()
        self.assertEqual(first[1:3], ["RESTRICTED", "payroll.txt#0"], full)
        self.assertIn("046 454 286", full)
        # The PUBLIC key's clearance is below the team's: nothing of the payroll record, not even its source.
        public = self.ok("query", "-c", "clearance", "payroll", "SIN", "fifteenth", key=self.public_key)
        self.assertNotIn("046 454 286", public)
        self.assertNotIn("payroll.txt", public)
        self.assertNotIn("RESTRICTED", public)
        self.assertEqual(public.splitlines()[0].split()[1:3], ["PUBLIC", "notice.txt#0"], public)

    def test_answer_with_a_restricted_chunk_runs_locally(self):
        self.ingest("answers", self.write("payroll.txt", PAYROLL))
        out = self.ok("answer", "-c", "answers", "--max-tokens", "64", "When", "is", "the", "payroll", "paid?")
        last = out.splitlines()[-1]
        self.assertRegex(last, r"^-- chunks: chk_\S+  route: ollama/")
        doc = json.loads(self.ok("answer", "-c", "answers", "--json", "payroll"))
        self.assertEqual(doc["provider"], "ollama")

    def test_rm_erases_and_a_second_rm_fails(self):
        docs = self.ingest("erase", self.write("payroll.txt", PAYROLL))
        doc_id = docs["payroll.txt"][0]
        self.assertRegex(self.ok("rm", doc_id), rf"^deleted {doc_id} \(1 chunks\)$")
        self.assertNotIn(doc_id, self.ok("query", "-c", "erase", "payroll"))
        r = self.rag("rm", doc_id)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("not_found", r.stderr)
        self.assertIn("HTTP 404", r.stderr)

    def test_usage_errors_exit_2_and_send_nothing(self):
        for args in (["ingest", "-c", "x"], ["query", "q"], ["query", "-c", "x", "-k", "0", "q"],
                     ["ingest", "-c", "x", os.path.join(self.dir.name, "missing.txt")],
                     ["ingest", "-c", "x", "--metadata", "novalue", "-"]):
            r = self.rag(*args, stdin="")
            self.assertEqual(r.returncode, 2, (args, r.stdout, r.stderr))
        r = run_cli(["list", "-c", "x"], self.url, None)
        self.assertEqual(r.returncode, 2)
        self.assertIn("AEGIS_API_KEY", r.stderr)

    def test_a_wrong_key_is_exit_1_with_the_gateways_reason(self):
        r = self.rag("list", "-c", "x", key="sk-aegis-wrong")
        self.assertEqual(r.returncode, 1)
        self.assertIn("HTTP 401", r.stderr)
        self.assertIn("check AEGIS_API_KEY", r.stderr)
        self.assertNotIn("sk-aegis-wrong", r.stderr)


if __name__ == "__main__":
    unittest.main()
