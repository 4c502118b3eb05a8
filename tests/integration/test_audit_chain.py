"""The tamper-evident audit trail through the real binary, on SQLite and on
PostgreSQL: a gateway's requests and a job's run are chained and sealed (at an
interval and at shutdown), the public key is served, the checkpoint file holds
what the database holds, and `aegis audit verify` exits 0 on the untouched
trail, 1 with the finding named after a database administrator edits a row
or deletes the newest rows together with their checkpoints (seen against the
checkpoint file), and 1 for checkpoints signed by a key it was not given."""
import json
import os
import subprocess
import tempfile
import time
import unittest

from aegis_harness import AEGIS_BIN, Gateway, wait_until
from audit_backends import PostgresBackend, SqliteBackend
from test_postgres_store import base_dsn

SIN = "046 454 286"


def openssl_key(path):
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", path], check=True, capture_output=True)
    os.chmod(path, 0o600)


class ChainChecks:
    """The scenario; a subclass provides the backend (config, raw SQL)."""

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="aegis-chain-")
        self.checkpoints = os.path.join(self.workdir, "checkpoints.jsonl")
        self.env = dict(os.environ)

    def write_config(self, storage):
        self.config = os.path.join(self.workdir, "aegis.yaml")
        with open(self.config, "w") as f:
            f.write(storage + "audit:\n  checkpoint_interval_s: 1\n  checkpoint_file: " + self.checkpoints + "\n" +
                    self.audit_extra())

    def audit_extra(self):
        return ""

    def aegis(self, *args):
        return subprocess.run([AEGIS_BIN, *args], capture_output=True, text=True, timeout=120, env=self.env)

    def verify(self, *extra):
        r = self.aegis("audit", "verify", "--config", self.config, *extra)
        return r.returncode, r.stdout, r.stderr

    def run_traffic(self):
        gw = Gateway(("--demo", "--config", self.config), env=self.env)
        try:
            status, team = gw.admin("POST", "/admin/v1/teams", {"name": "chain", "monthly_budget_usd": 50,
                                                                "clearance": "RESTRICTED"})
            self.assertEqual(status, 201, team)
            status, key = gw.admin("POST", "/admin/v1/keys", {"team": "chain"})
            self.assertEqual(status, 201, key)
            auth = {"authorization": f"Bearer {key['key']}"}
            for content in ("hello", f"my SIN is {SIN}", "Email jane.doe@example.com about it"):
                status, _, data = gw.request("POST", "/v1/chat/completions",
                                             {"model": "auto", "messages": [{"role": "user", "content": content}]},
                                             auth)
                self.assertEqual(status, 200, data)
            status, _, data = gw.request("POST", "/v1/jobs", {"task_type": "extraction", "prompt": "summarise this",
                                                              "max_tokens": 32}, auth)
            self.assertEqual(status, 202, data)
            job_id = json.loads(data)["id"]
            status, _, data = gw.request("GET", f"/v1/jobs/{job_id}?wait=30", headers=auth, timeout=40)
            self.assertEqual(json.loads(data)["status"], "succeeded", data)
            # The interval's checkpoint, while the gateway runs.
            wait_until(lambda: os.path.exists(self.checkpoints) and os.path.getsize(self.checkpoints) > 0, 10,
                       "a checkpoint while the gateway runs")
            status, published = gw.admin("GET", "/admin/v1/audit/public-key")
            self.assertEqual(status, 200, published)
            status, _, data = gw.request("GET", "/admin/v1/audit/public-key")
            self.assertEqual(status, 401, data)
        finally:
            gw.stop()
            gw.cleanup()
        return published

    def test_a_trail_verifies_until_an_administrator_edits_it(self):
        published = self.run_traffic()
        self.assertEqual(published["algorithm"], "Ed25519")
        public_pem = os.path.join(self.workdir, "public.pem")
        with open(public_pem, "w") as f:
            f.write(published["public_key_pem"])

        code, out, err = self.verify("--json")
        self.assertEqual(code, 0, out + err)
        report = json.loads(out)
        self.assertTrue(report["intact"])
        self.assertEqual(report["findings"], [])
        # The requests' chain and the job run's chain.
        self.assertGreaterEqual(report["chains"], 2, report)
        self.assertEqual(report["rows"], int(self.sql("SELECT COUNT(*) FROM audit")))
        self.assertGreaterEqual(report["rows"], 4)
        # The shutdown seal covers every row: the file and the table hold the same checkpoints.
        with open(self.checkpoints) as f:
            lines = [json.loads(line) for line in f if line.strip()]
        self.assertEqual(sorted(c["id"] for c in lines), sorted(report["checkpoint_ids"]))
        self.assertTrue(all(c["key_id"] == published["key_id"] for c in lines), lines)
        self.assertEqual(self.sql("SELECT COUNT(*) FROM audit_checkpoints"), str(len(lines)))

        # A window with none of the rows walks no chain; one around them walks them all.
        code, out, err = self.verify("--since", "2000-01-01", "--until", "2000-01-02", "--json")
        self.assertEqual(code, 0, out + err)
        self.assertEqual((json.loads(out)["chains"], json.loads(out)["rows"]), (0, 0))
        yesterday = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86400))
        code, out, err = self.verify("--since", yesterday, "--json")
        self.assertEqual(code, 0, out + err)
        self.assertEqual(json.loads(out)["rows"], report["rows"])

        # With the key the auditor keeps, and with a key that did not sign them.
        code, out, err = self.verify("--public-key", public_pem)
        self.assertEqual(code, 0, out + err)
        self.assertIn("intact:", out)
        other = os.path.join(self.workdir, "other.pem")
        openssl_key(other)
        code, out, err = self.verify("--public-key", other)
        self.assertEqual(code, 1, out + err)
        self.assertIn("which this verifier does not trust", out)

        # A RESTRICTED row relabelled PUBLIC.
        self.tamper("UPDATE audit SET level = 'PUBLIC' WHERE level = 'RESTRICTED'")
        code, out, err = self.verify()
        self.assertEqual(code, 1, out + err)
        self.assertIn("FAILED:", out)
        self.assertIn("its content no longer matches its hash (edited after it was written)", out)
        self.assertIn("TAMPERED:", out)

    def test_rows_deleted_with_their_checkpoints_show_against_the_checkpoint_file(self):
        self.run_traffic()
        code, out, err = self.verify()
        self.assertEqual(code, 0, out + err)
        self.assertIn("in the outside copy", out)
        # The newest row of the longest chain goes, with every checkpoint that sealed it.
        chain = self.sql("SELECT chain_id FROM audit WHERE chain_id <> '' GROUP BY chain_id "
                         "ORDER BY MAX(chain_seq) DESC LIMIT 1")
        last = int(self.sql(f"SELECT MAX(chain_seq) FROM audit WHERE chain_id = '{chain}'"))
        removal = (f"DELETE FROM audit WHERE chain_id = '{chain}' AND chain_seq = {last}; "
                   f"DELETE FROM audit_checkpoints WHERE chain_id = '{chain}' AND seq >= {last}")
        if isinstance(self, SqliteBackend):
            removal = "DROP TRIGGER audit_no_delete; DROP TRIGGER audit_checkpoints_no_delete; " + removal
        self.tamper(removal)

        # The database alone shows nothing wrong: the shortened chain is whole.
        hidden = self.checkpoints + ".away"
        os.rename(self.checkpoints, hidden)
        code, out, err = self.verify()
        self.assertIn(code, (0, 3), out + err)
        self.assertNotIn("TAMPERED", out)
        os.rename(hidden, self.checkpoints)

        # The copy outside it (audit.checkpoint_file, read by default) does.
        code, out, err = self.verify()
        self.assertEqual(code, 1, out + err)
        self.assertIn("is in the outside copy but not in the store", out)
        self.assertIn(f"row {last} is missing", out)
        # Named explicitly, and an unreadable one is a usage error.
        code, out, err = self.verify("--checkpoint-file", self.checkpoints, "--json")
        self.assertEqual(code, 1, out + err)
        kinds = {f["kind"] for f in json.loads(out)["findings"]}
        self.assertIn("missing_checkpoint", kinds)
        self.assertIn("truncated", kinds)
        code, _, err = self.verify("--checkpoint-file", os.path.join(self.workdir, "nope.jsonl"))
        self.assertEqual(code, 2)
        self.assertIn("cannot read the checkpoint file", err)

    def test_verify_refuses_a_bad_time_and_an_unreadable_key(self):
        self.write_config(self.storage())
        code, _, err = self.verify("--since", "last tuesday")
        self.assertEqual(code, 2)
        self.assertIn("--since expects RFC 3339 or YYYY-MM-DD", err)
        missing = os.path.join(self.workdir, "nope.pem")
        code, _, err = self.verify("--public-key", missing)
        self.assertEqual(code, 2)
        self.assertIn("not a readable PEM Ed25519 key", err)


class SqliteChain(SqliteBackend, ChainChecks, unittest.TestCase):
    def setUp(self):
        super().setUp()
        self.use_sqlite()
        self.write_config(self.storage())

    def test_the_generated_key_is_private_to_the_gateway(self):
        self.run_traffic()
        mode = os.stat(self.db + ".audit-key").st_mode & 0o777
        self.assertEqual(mode, 0o600)


@unittest.skipUnless(base_dsn(), "no PostgreSQL test server in this run (ctest's postgres.start provides one)")
class PostgresChain(PostgresBackend, ChainChecks, unittest.TestCase):
    def setUp(self):
        super().setUp()
        self.use_postgres("chain")
        # Replicas share one configured key.
        self.key_file = os.path.join(self.workdir, "audit-key.pem")
        openssl_key(self.key_file)
        self.write_config(self.storage())

    def audit_extra(self):
        return "  signing_key_file: " + self.key_file + "\n"


if __name__ == "__main__":
    unittest.main()
