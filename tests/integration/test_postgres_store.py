"""The PostgreSQL store through the real binary: `aegis admin` on storage.postgres_dsn,
the DSN read from the environment and never printed, and `aegis serve` refusing a
PostgreSQL configuration until the job queue has a PostgreSQL backend.
The server is the throwaway one ctest's postgres.start fixture runs (scripts/postgres)."""
import json
import os
import subprocess
import tempfile
import unittest
import uuid

from aegis_harness import AEGIS_BIN


def base_dsn():
    path = os.environ.get("AEGIS_TEST_POSTGRES_DSN_FILE")
    if not path:
        return None
    with open(path) as f:
        return f.read().strip()


def psql(dsn, sql):
    r = subprocess.run(["psql", dsn, "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise AssertionError(r.stderr)
    return r.stdout.strip()


@unittest.skipUnless(base_dsn(), "no PostgreSQL test server in this run (ctest's postgres.start provides one)")
class PostgresStore(unittest.TestCase):
    def setUp(self):
        self.base = base_dsn()
        self.schema = "it_" + uuid.uuid4().hex[:12]
        psql(self.base, f"CREATE SCHEMA {self.schema}")
        # A password the server does not need (trust) but a careless log would show.
        self.dsn = f"{self.base} password=pg-secret-7431 options='-c search_path={self.schema}'"
        self.workdir = tempfile.mkdtemp(prefix="aegis-pg-")
        self.config = os.path.join(self.workdir, "pg.yaml")
        with open(self.config, "w") as f:
            f.write("storage:\n  sqlite_path: " + os.path.join(self.workdir, "unused.db") +
                    "\n  postgres_dsn: \"${AEGIS_IT_PG_DSN}\"\n")
        self.env = dict(os.environ, AEGIS_IT_PG_DSN=self.dsn)

    def tearDown(self):
        psql(self.base, f"DROP SCHEMA {self.schema} CASCADE")

    def aegis(self, *args, timeout=30):
        return subprocess.run([AEGIS_BIN, *args], capture_output=True, text=True, timeout=timeout, env=self.env)

    def test_admin_cli_keeps_teams_and_keys_in_postgres(self):
        r = self.aegis("admin", "--config", self.config, "--json", "teams", "create", "ops",
                       "--budget-usd", "12.5", "--clearance", "confidential")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["monthly_budget_usd"], 12.5)
        r = self.aegis("admin", "--config", self.config, "teams", "create", "ops", "--budget-usd", "1")
        self.assertEqual(r.returncode, 1)
        self.assertIn("already exists", r.stderr)
        r = self.aegis("admin", "--config", self.config, "--json", "keys", "create", "ops")
        self.assertEqual(r.returncode, 0, r.stderr)
        key = json.loads(r.stdout)
        dsn = self.dsn
        self.assertEqual(psql(dsn, "SELECT name || ':' || monthly_budget_micros || ':' || clearance FROM teams"),
                         "ops:12500000:CONFIDENTIAL")
        self.assertEqual(psql(dsn, "SELECT team FROM api_keys WHERE id = '%s'" % key["id"]), "ops")
        # The key itself is never stored, only its hash.
        self.assertEqual(psql(dsn, "SELECT COUNT(*) FROM api_keys WHERE secret_hash = '%s'" % key["key"]), "0")
        r = self.aegis("admin", "--config", self.config, "keys", "revoke", key["id"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotEqual(psql(dsn, "SELECT revoked_at_ms FROM api_keys WHERE id = '%s'" % key["id"]), "")
        self.assertEqual(psql(dsn, "SELECT MAX(version) FROM schema_migrations"), "1")

    def test_serve_refuses_postgres_until_the_job_queue_has_a_backend(self):
        r = self.aegis("serve", "--config", self.config, "--listen", "127.0.0.1:0")
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("the job queue has no PostgreSQL backend yet", r.stderr)
        self.assertNotIn("pg-secret-7431", r.stderr + r.stdout)

    def test_an_unreachable_database_fails_with_the_reason_and_without_the_password(self):
        env = dict(self.env, AEGIS_IT_PG_DSN="host=127.0.0.1 port=1 user=x password=pg-secret-7431 dbname=x")
        r = subprocess.run([AEGIS_BIN, "admin", "--config", self.config, "teams", "list"],
                           capture_output=True, text=True, timeout=30, env=env)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("cannot connect to PostgreSQL", r.stderr)
        self.assertNotIn("pg-secret-7431", r.stderr + r.stdout)


if __name__ == "__main__":
    unittest.main()
