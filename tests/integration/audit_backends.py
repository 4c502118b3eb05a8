"""The two store backends a gateway test can run on, as mixins for a
unittest.TestCase with `self.workdir` and `self.env`: `storage()` (the config's
storage part), `sql(query)` (raw SQL, first column of the first row) and
`tamper(statement)` (raw SQL as a database administrator would run it, with
the audit table's append-only triggers out of the way)."""
import os
import subprocess
import uuid

from test_postgres_store import base_dsn, psql

JOBS_KEY = "5f" * 32


class SqliteBackend:
    def use_sqlite(self):
        self.db = os.path.join(self.workdir, "aegis.db")

    def storage(self):
        return f"storage:\n  sqlite_path: {self.db}\n"

    def sql(self, query):
        r = subprocess.run(["sqlite3", "-cmd", ".timeout 5000", self.db, query], capture_output=True, text=True,
                           check=True)
        return r.stdout.strip()

    def tamper(self, statement):
        self.sql("DROP TRIGGER audit_no_update; " + statement)


class PostgresBackend:
    def use_postgres(self, prefix):
        """A schema of this test's own on the test server, dropped when it ends."""
        base = base_dsn()
        schema = prefix + "_" + uuid.uuid4().hex[:12]
        psql(base, f"CREATE SCHEMA {schema}")
        self.addCleanup(psql, base, f"DROP SCHEMA {schema} CASCADE")
        self.dsn = f"{base} options='-c search_path={schema}'"
        self.env["AEGIS_IT_PG_DSN"] = self.dsn
        self.env["AEGIS_IT_JOBS_KEY"] = JOBS_KEY

    def storage(self):
        return ("storage:\n  sqlite_path: " + os.path.join(self.workdir, "unused.db") +
                "\n  postgres_dsn: \"${AEGIS_IT_PG_DSN}\"\n"
                "jobs:\n  encryption:\n    active: k1\n    keys:\n      - {id: k1, env: AEGIS_IT_JOBS_KEY}\n")

    def sql(self, query):
        return psql(self.dsn, query)

    def tamper(self, statement):
        psql(self.dsn, "SET session_replication_role = replica; " + statement)
