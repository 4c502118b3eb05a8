"""Job content at rest (docs/JOBS.md "What is stored"): the real binary, then
the SQLite file read directly with Python's sqlite3 module.

- JobsAtRestDefault: no key configured; the gateway generates a 0600 key
  file beside the database. A job with a SIN, an e-mail address and a name
  succeeds; afterwards no column of the `jobs` table (nor the database and WAL
  files) holds them, and the job's request and vault are NULL.
- JobsAtRestConfigured: a key from the environment and keep_requests for
  one team: that team's request stays (sealed) until retention, another
  team's goes; no key file is generated.
- JobsAtRestWrongKey: rows written under one key, then a restart with
  another: GET is a 500 `internal_error` naming no secret, and the log says why.
- config check: a missing key variable is exit 2 with file:line:col.
"""
import json
import os
import sqlite3
import stat
import subprocess
import tempfile
import shutil
import time
import unittest
import uuid

from aegis_harness import AEGIS_BIN, DemoUpstreams, Gateway, GatewayTestCase

SIN = "046 454 286"
EMAIL = "jennifer.walsh@acme-mail.com"
NAME = "Jennifer Walsh"
TICKET = "T-at-rest-4242"
HAIKU = "claude-haiku-4-5"
SECRETS = (SIN, EMAIL, NAME, TICKET, "046454286", "jennifer.walsh")
KEY_A = "8f" * 32
KEY_B = "3c" * 32
RESILIENCE = """
resilience:
  failure_threshold: 1000
  health_check_interval_s: 0
"""


def as_bytes(value):
    if value is None:
        return b""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return str(value).encode()


class AtRestClient(DemoUpstreams):
    def make_team(self, name):
        status, body = self.gw.admin("POST", "/admin/v1/teams", {"name": name, "monthly_budget_usd": 50})
        self.assertEqual(status, 201, body)
        status, created = self.gw.admin("POST", "/admin/v1/keys", {"team": name})
        self.assertEqual(status, 201, created)
        return created["key"]

    def submit(self, key, text):
        body = {"task_type": "chat", "prompt": text, "max_tokens": 64, "model": HAIKU, "metadata": {"ticket": TICKET}}
        status, _, data = self.gw.request("POST", "/v1/jobs", body, {"authorization": f"Bearer {key}"}, timeout=30)
        reply = json.loads(data)
        self.assertEqual(status, 202, reply)
        return reply["id"]

    def get_raw(self, key, job_id, query=""):
        status, _, data = self.gw.request("GET", f"/v1/jobs/{job_id}{query}",
                                          headers={"authorization": f"Bearer {key}"}, timeout=30)
        return status, json.loads(data)

    def await_final(self, key, job_id, timeout=20):
        deadline = time.monotonic() + timeout
        while True:
            status, job = self.get_raw(key, job_id, "?wait=5")
            self.assertEqual(status, 200, job)
            if job["status"] in ("succeeded", "failed", "cancelled", "expired"):
                return job
            self.assertLess(time.monotonic(), deadline, job)

    def db_path(self):
        return os.path.join(self.gw.workdir, "data", "aegis.db")

    def rows(self, db_path=None):
        """Every column of every jobs row, plus typeof() of the content columns, by job id."""
        con = sqlite3.connect(db_path or self.db_path())
        try:
            con.row_factory = sqlite3.Row
            out = {}
            for row in con.execute("SELECT *, typeof(request_json) AS t_request, typeof(vault_json) AS t_vault, "
                                   "typeof(result_text) AS t_result, typeof(metadata_json) AS t_metadata FROM jobs"):
                out[row["id"]] = dict(row)
            return out
        finally:
            con.close()

    def assertNoPlaintext(self, rows):
        for job_id, row in rows.items():
            for column, value in row.items():
                for secret in SECRETS:
                    self.assertNotIn(secret.encode(), as_bytes(value), f"{secret!r} in jobs.{column} of {job_id}")


class JobsAtRestDefault(AtRestClient, GatewayTestCase):
    gateway_args = ("--demo",)
    config_text = RESILIENCE

    def test_a_finished_jobs_row_holds_no_plaintext_and_no_request_or_vault(self):
        key = self.make_team(f"rest-{uuid.uuid4().hex[:8]}")
        # A SIN makes the job RESTRICTED (runs on the local model with the original text);
        # a name and an e-mail address alone go to the cloud masked, through the stored vault.
        restricted_id = self.submit(key, f"Please write to {NAME} at {EMAIL}; her SIN is {SIN}.")
        masked_text = f"masked-at-rest: please write to {NAME} at {EMAIL}."
        job_id = self.submit(key, masked_text)
        self.assertEqual(self.await_final(key, restricted_id)["status"], "succeeded")
        job = self.await_final(key, job_id)
        self.assertEqual(job["status"], "succeeded", job)
        # The client still gets its result (with the PII restored) and its metadata.
        self.assertEqual(job["result"]["text"], "Echo: " + masked_text)
        self.assertEqual(job["metadata"], {"ticket": TICKET})
        sent = [r for r in self.upstream_log() if "masked-at-rest" in r["body"]]
        self.assertTrue(sent)
        self.assertNotIn(EMAIL, sent[0]["body"])  # the vault did its job before it was dropped

        rows = self.rows()
        self.assertIsNone(rows[restricted_id]["request_json"])
        self.assertIsNone(rows[restricted_id]["vault_json"])
        self.assertIn(job_id, rows)
        row = rows[job_id]
        self.assertIsNone(row["request_json"])
        self.assertIsNone(row["vault_json"])
        self.assertEqual(row["t_request"], "null")
        self.assertEqual(row["t_vault"], "null")
        self.assertEqual(row["t_result"], "blob")
        self.assertEqual(row["t_metadata"], "blob")
        self.assertNoPlaintext(rows)

        # Not in the files either (the WAL holds the latest pages until a checkpoint).
        for suffix in ("", "-wal"):
            path = self.db_path() + suffix
            if os.path.exists(path):
                with open(path, "rb") as f:
                    data = f.read()
                for secret in SECRETS:
                    self.assertNotIn(secret.encode(), data, f"{secret!r} in aegis.db{suffix}")

    def test_the_generated_key_file_is_private_and_announced_but_never_logged(self):
        path = self.db_path() + ".jobs-key"
        self.assertTrue(os.path.exists(path))
        mode = stat.S_IMODE(os.stat(path).st_mode)
        self.assertEqual(mode, 0o600, oct(mode))
        with open(path) as f:
            key_text = f.read().strip()
        self.assertRegex(key_text, r"^[0-9a-f]{64}$")
        log = self.gw.log()
        self.assertIn("jobs_key_generated", log)
        self.assertNotIn(key_text, log)
        for secret in SECRETS:
            self.assertNotIn(secret, log)


class JobsAtRestConfigured(AtRestClient, GatewayTestCase):
    gateway_args = ("--demo",)
    gateway_env = {"AEGIS_TEST_JOBS_KEY": KEY_A}
    config_text = RESILIENCE + """
jobs:
  keep_requests: {default: false, keepers: true}
  encryption:
    active: ka
    keys:
      - {id: ka, env: AEGIS_TEST_JOBS_KEY}
"""

    def test_keep_requests_keeps_that_teams_request_sealed_until_retention(self):
        keepers = self.make_team("keepers")
        others = self.make_team(f"others-{uuid.uuid4().hex[:8]}")
        kept = self.submit(keepers, f"Keep this: {EMAIL}, SIN {SIN}")
        dropped = self.submit(others, f"Drop this: {EMAIL}, SIN {SIN}")
        for key, job_id in ((keepers, kept), (others, dropped)):
            self.assertEqual(self.await_final(key, job_id)["status"], "succeeded")
        rows = self.rows()
        self.assertEqual(rows[kept]["t_request"], "blob")
        self.assertEqual(rows[kept]["t_vault"], "blob")
        self.assertEqual(rows[kept]["request_json"][:4], b"\x01\x02ka")  # format 1, the configured key id
        self.assertIsNone(rows[dropped]["request_json"])
        self.assertIsNone(rows[dropped]["vault_json"])
        self.assertNoPlaintext(rows)
        self.assertFalse(os.path.exists(self.db_path() + ".jobs-key"))


class JobsAtRestWrongKey(AtRestClient, unittest.TestCase):
    gw = None

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="aegis-at-rest-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.shared_db = os.path.join(self.dir, "aegis.db")

    def start(self, key_id, key_hex):
        config = RESILIENCE + f"""
storage:
  sqlite_path: {self.shared_db}
jobs:
  encryption:
    active: {key_id}
    keys:
      - {{id: {key_id}, env: AEGIS_TEST_JOBS_KEY}}
"""
        self.gw = Gateway(("--demo",), {"AEGIS_TEST_JOBS_KEY": key_hex}, config)
        self.addCleanup(self.gw.cleanup)

    def test_rows_under_a_key_that_is_no_longer_configured_are_a_clear_500(self):
        self.start("ka", KEY_A)
        key = self.make_team("wrongkey")
        job_id = self.submit(key, f"Remember {EMAIL}")
        self.assertEqual(self.await_final(key, job_id)["status"], "succeeded")
        self.gw.stop()

        self.start("kb", KEY_B)  # ka is gone from the config
        status, body = self.get_raw(key, job_id)
        self.assertEqual(status, 500, body)
        self.assertEqual(body["error"]["type"], "internal_error")
        message = body["error"]["message"]
        self.assertIn("could not be decrypted", message)
        for leaked in (EMAIL, KEY_A, KEY_B):
            self.assertNotIn(leaked, message)
        # Listing still works and marks the job.
        status, _, data = self.gw.request("GET", "/v1/jobs", headers={"authorization": f"Bearer {key}"})
        page = json.loads(data)
        self.assertEqual(status, 200, page)
        self.assertEqual(page["data"][0]["error"]["type"], "internal_error")
        self.assertIsNone(page["data"][0]["result"])
        log = self.gw.wait_for_log("job_content_unreadable")
        self.assertIn("'ka'", log)
        for leaked in (EMAIL, KEY_A, KEY_B):
            self.assertNotIn(leaked, log)
        # A new job under the new key runs normally.
        fresh = self.submit(key, "hello again")
        self.assertEqual(self.await_final(key, fresh)["status"], "succeeded")


class JobsAtRestConfigCheck(unittest.TestCase):
    def test_a_missing_key_variable_is_exit_2_with_its_position(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "aegis.yaml")
            with open(path, "w") as f:
                f.write("jobs:\n  encryption:\n    active: k2\n    keys:\n      - id: k2\n"
                        "        env: AEGIS_TEST_UNSET_JOBS_KEY\n")
            env = dict(os.environ)
            env.pop("AEGIS_TEST_UNSET_JOBS_KEY", None)
            r = subprocess.run([AEGIS_BIN, "config", "check", path], capture_output=True, text=True, env=env,
                               timeout=30)
            self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
            self.assertIn(f"{path}:6:14: jobs.encryption.keys[0].env: environment variable "
                          "AEGIS_TEST_UNSET_JOBS_KEY is not set", r.stderr)

            with open(path, "w") as f:
                f.write("jobs:\n  encryption:\n    active: k2\n    keys:\n      - {id: k2, env: SHORT_KEY}\n")
            env["SHORT_KEY"] = "abcd"
            r = subprocess.run([AEGIS_BIN, "config", "check", path], capture_output=True, text=True, env=env,
                               timeout=30)
            self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
            self.assertIn("does not hold a 256-bit key", r.stderr)
            self.assertNotIn("abcd", r.stderr)


if __name__ == "__main__":
    unittest.main()
