"""The PostgreSQL backend through the real binary: `aegis admin` and `aegis serve` on
storage.postgres_dsn (teams, keys, the audit trail, spend and the job queue in
PostgreSQL), two gateways sharing one database, the DSN read from the environment
and never printed. The server is the throwaway one ctest's postgres.start fixture
runs (scripts/postgres)."""
import json
import os
import subprocess
import tempfile
import time
import unittest
import uuid

from aegis_harness import AEGIS_BIN, Gateway, wait_until

JOBS_KEY = "5f" * 32
SCRIPTS = os.path.join(os.environ.get("AEGIS_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..")),
                       "scripts", "postgres")


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
        self.assertEqual(psql(dsn, "SELECT COUNT(*) = MAX(version) FROM schema_migrations"), "t")

    def test_serve_needs_configured_job_keys_on_postgres(self):
        # A generated key file is one machine's: replicas could not open each other's jobs.
        r = self.aegis("serve", "--config", self.config, "--listen", "127.0.0.1:0")
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("jobs.encryption.keys must be configured with storage.postgres_dsn", r.stderr)
        self.assertNotIn("pg-secret-7431", r.stderr + r.stdout)

    def gateway(self):
        config = ("storage:\n  postgres_dsn: \"${AEGIS_IT_PG_DSN}\"\n"
                  "jobs:\n  encryption:\n    active: k1\n    keys:\n      - {id: k1, env: AEGIS_IT_JOBS_KEY}\n")
        gw = Gateway(args=["--demo"], config_text=config,
                     env={"AEGIS_IT_PG_DSN": self.dsn, "AEGIS_IT_JOBS_KEY": JOBS_KEY})
        self.addCleanup(gw.cleanup)
        return gw

    def test_two_gateways_share_teams_keys_jobs_audit_and_spend(self):
        first, second = self.gateway(), self.gateway()
        status, _ = first.admin("POST", "/admin/v1/teams", {"name": "shared", "monthly_budget_usd": 10})
        self.assertEqual(status, 201)
        status, created = first.admin("POST", "/admin/v1/keys", {"team": "shared"})
        self.assertEqual(status, 201, created)
        auth = {"authorization": f"Bearer {created['key']}"}

        # A key made on one gateway works on the other; so does a chat through each.
        for gw, prompt in ((first, "hello from one"), (second, "hello from two")):
            status, _, data = gw.request("POST", "/v1/chat/completions",
                                         {"model": "auto", "messages": [{"role": "user", "content": prompt}]}, auth)
            self.assertEqual(status, 200, data)

        # A job submitted on the second gateway runs (on either) and is visible from the first.
        status, _, data = second.request("POST", "/v1/jobs", {"task_type": "extraction", "prompt": "ping INV-77",
                                                             "max_tokens": 16}, auth)
        self.assertEqual(status, 202, data)
        job_id = json.loads(data)["id"]

        def finished():
            status, _, body = first.request("GET", f"/v1/jobs/{job_id}?wait=2", headers=auth, timeout=10)
            self.assertEqual(status, 200, body)
            job = json.loads(body)
            return job if job["status"] in ("succeeded", "failed") else None
        job = wait_until(finished, 30, "the job to finish")
        self.assertEqual(job["status"], "succeeded", job)

        # Every request is one audit row, whichever gateway served it and whichever is asked.
        # A gateway's audit query flushes its own writer; a row the other gateway queued
        # (its intent already committed) lands within that writer's batching delay.
        for gw in (first, second):
            def rows():
                status, body = gw.admin("GET", "/admin/v1/audit?team=shared&limit=100")
                self.assertEqual(status, 200, body)
                return body["data"] if len(body["data"]) >= 3 else None
            data = wait_until(rows, 10, "three audit rows")
            self.assertEqual(sorted(r["surface"] for r in data), ["jobs", "openai.chat", "openai.chat"])
        self.assertEqual(psql(self.dsn, "SELECT COUNT(*) FROM audit WHERE team = 'shared'"), "3")
        self.assertEqual(psql(self.dsn, "SELECT requests FROM budget_spend WHERE team = 'shared'"), "3")
        # The job's content is sealed at rest, and its prompt went with the finished job.
        self.assertEqual(psql(self.dsn, "SELECT request_json IS NULL FROM jobs WHERE id = '%s'" % job_id), "t")
        self.assertNotIn("INV-77", psql(self.dsn, "SELECT encode(result_text, 'escape') FROM jobs"))
        self.assertEqual(psql(self.dsn, "SELECT COUNT(*) FROM audit_pending"), "0")
        for gw in (first, second):
            self.assertNotIn("pg-secret-7431", gw.log())
        # A key revoked through one gateway is refused by the other within a second, though
        # the other had it cached a moment ago (its cache TTL is 5 s): the revocation is pushed.
        status, _, data = second.request("GET", "/v1/whoami", headers=auth)
        self.assertEqual(status, 200, data)
        status, body = first.admin("DELETE", f"/admin/v1/keys/{created['id']}")
        self.assertEqual(status, 200, body)
        revoked_at = time.monotonic()
        wait_until(lambda: second.request("GET", "/v1/whoami", headers=auth)[0] == 401, 1.0,
                   "the second gateway to refuse the revoked key")
        self.assertLess(time.monotonic() - revoked_at, 1.0)

    def test_an_unreachable_database_fails_with_the_reason_and_without_the_password(self):
        env = dict(self.env, AEGIS_IT_PG_DSN="host=127.0.0.1 port=1 user=x password=pg-secret-7431 dbname=x")
        r = subprocess.run([AEGIS_BIN, "admin", "--config", self.config, "teams", "list"],
                           capture_output=True, text=True, timeout=30, env=env)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("cannot connect to PostgreSQL", r.stderr)
        self.assertNotIn("pg-secret-7431", r.stderr + r.stdout)


@unittest.skipUnless(base_dsn(), "no PostgreSQL test server in this run (ctest's postgres.start provides one)")
class PostgresOutage(unittest.TestCase):
    """A database of its own, stopped and started under a running gateway."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="aegis-pg-outage-")
        r = subprocess.run(["bash", SCRIPTS, "start", self.dir], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.dsn = r.stdout.strip()
        self.addCleanup(subprocess.run, ["bash", SCRIPTS, "stop", self.dir], capture_output=True, timeout=120)

    def server(self, action):
        r = subprocess.run(["bash", SCRIPTS, action, self.dir], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_an_outage_answers_503_and_service_returns_by_itself(self):
        config = ("storage:\n  postgres_dsn: \"${AEGIS_IT_PG_DSN}\"\n"
                  "jobs:\n  encryption:\n    active: k1\n    keys:\n      - {id: k1, env: AEGIS_IT_JOBS_KEY}\n")
        gw = Gateway(args=["--demo"], config_text=config,
                     env={"AEGIS_IT_PG_DSN": self.dsn, "AEGIS_IT_JOBS_KEY": JOBS_KEY})
        self.addCleanup(gw.cleanup)
        self.assertEqual(gw.admin("POST", "/admin/v1/teams", {"name": "ops", "monthly_budget_usd": 10})[0], 201)
        status, created = gw.admin("POST", "/admin/v1/keys", {"team": "ops"})
        self.assertEqual(status, 201, created)
        auth = {"authorization": f"Bearer {created['key']}"}
        body = {"model": "auto", "messages": [{"role": "user", "content": "status report"}]}
        answered = 0

        def chat():
            nonlocal answered
            status, _, data = gw.request("POST", "/v1/chat/completions", body, auth, timeout=30)
            if status == 200:
                answered += 1
            return status, data

        self.assertEqual(chat()[0], 200)
        self.server("stop-server")
        statuses = [chat() for _ in range(5)]
        for status, data in statuses:
            # Fail closed: nothing runs unaudited while the database is gone, and the answer says so.
            self.assertEqual(status, 503, data)
            self.assertNotIn(b"127.0.0.1", data)
        self.assertEqual(gw.request("GET", "/readyz")[0], 503)

        self.server("start-server")
        wait_until(lambda: gw.request("GET", "/readyz")[0] == 200, 30, "/readyz to recover")
        wait_until(lambda: chat()[0] == 200, 30, "a chat to succeed again")
        self.assertEqual(chat()[0], 200)
        # Every answered request has its row; none was dropped.
        def rows():
            n = int(psql(self.dsn, "SELECT COUNT(*) FROM audit WHERE team = 'ops' AND status = 200"))
            return n if n == answered else None
        wait_until(rows, 10, f"{answered} audit rows")
        samples = gw.metrics()
        self.assertIn(("aegis_audit_rows_dropped_total", frozenset()), samples)
        self.assertEqual(samples[("aegis_audit_rows_dropped_total", frozenset())], 0)


@unittest.skipUnless(base_dsn(), "no PostgreSQL test server in this run (ctest's postgres.start provides one)")
class SharedJobQueue(unittest.TestCase):
    """Three gateways, one database, one upstream: jobs run once each, and a replica
    killed mid-run leaves its jobs to the others."""

    def setUp(self):
        self.base = base_dsn()
        self.schema = "q_" + uuid.uuid4().hex[:12]
        psql(self.base, f"CREATE SCHEMA {self.schema}")
        self.addCleanup(psql, self.base, f"DROP SCHEMA {self.schema} CASCADE")
        self.dsn = f"{self.base} options='-c search_path={self.schema}'"
        # One upstream for all: each answer takes 400 ms, so a kill lands mid-run.
        self.sim_port = free_port()
        self.sim = subprocess.Popen([AEGIS_BIN, "sim", "--listen", f"127.0.0.1:{self.sim_port}", "--threads", "2",
                                     "--ttft-ms", "400", "--request-log", "1000", "--log-level", "warn"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(self.sim.wait)
        self.addCleanup(self.sim.kill)
        wait_until(lambda: sim_get(self.sim_port, "/_sim/health") is not None, 20, "the simulator to start")

    def gateway(self, workers=64):
        config = ("storage:\n  postgres_dsn: \"${AEGIS_IT_PG_DSN}\"\n"
                  f"jobs:\n  lease_s: 3\n  workers: {workers}\n  encryption:\n    active: k1\n    keys:\n"
                  "      - {id: k1, env: AEGIS_IT_JOBS_KEY}\n"
                  "providers:\n  - name: upstream\n    type: openai_compat\n"
                  f"    base_url: http://127.0.0.1:{self.sim_port}/v1\n    api_key: test\n    locality: local\n"
                  "    models: {haiku: sim-small, sonnet: sim-medium, opus: sim-large}\n")
        gw = Gateway(config_text=config, env={"AEGIS_IT_PG_DSN": self.dsn, "AEGIS_IT_JOBS_KEY": JOBS_KEY})
        self.addCleanup(gw.cleanup)
        return gw

    def test_every_job_runs_once_and_a_killed_replicas_jobs_finish_elsewhere(self):
        gateways = [self.gateway() for _ in range(3)]
        self.assertEqual(gateways[0].admin("POST", "/admin/v1/teams", {"name": "q", "monthly_budget_usd": 100})[0], 201)
        status, created = gateways[0].admin("POST", "/admin/v1/keys", {"team": "q"})
        self.assertEqual(status, 201, created)
        auth = {"authorization": f"Bearer {created['key']}"}
        ids = []
        for i in range(30):
            gw = gateways[i % 3]
            status, _, data = gw.request("POST", "/v1/jobs", {"task_type": "extraction", "prompt": f"job {i}",
                                                             "max_tokens": 16}, auth, timeout=30)
            self.assertEqual(status, 202, data)
            ids.append(json.loads(data)["id"])
        # Kill one replica while its claimed jobs wait on the upstream.
        time.sleep(0.2)
        gateways[2].proc.kill()
        gateways[2].proc.wait()
        survivor = gateways[0]

        def all_finished():
            jobs = []
            for job_id in ids:
                status, _, data = survivor.request("GET", f"/v1/jobs/{job_id}", headers=auth)
                self.assertEqual(status, 200, data)
                jobs.append(json.loads(data))
            return jobs if all(j["status"] in ("succeeded", "failed", "cancelled", "expired") for j in jobs) else None
        jobs = wait_until(all_finished, 60, "every job to finish", interval=0.5)
        self.assertEqual([j["status"] for j in jobs], ["succeeded"] * len(ids), jobs)
        retried = [j for j in jobs if j["attempts"] > 1]
        self.assertTrue(retried, "the killed replica held no running job: the kill came too late to test anything")

        # One audit row per job (its completion), whichever replica ran it.
        status, body = survivor.admin("GET", "/admin/v1/audit?team=q&limit=1000")
        self.assertEqual(status, 200, body)
        job_rows = [r["request_id"] for r in body["data"] if r["surface"] == "jobs"]
        self.assertEqual(sorted(job_rows), sorted(ids))
        # The upstream log agrees: a job that ran once was sent once; one the kill
        # interrupted was sent at most once per attempt (a claim may die before its send).
        upstream = [r["body"] for r in sim_get(self.sim_port, "/_sim/requests")["requests"]
                    if r["path"].endswith("/chat/completions")]
        for i, job in enumerate(jobs):
            sent = sum(1 for body in upstream if f'"job {i}"' in body)
            if job["attempts"] == 1:
                self.assertEqual(sent, 1, job)
            else:
                self.assertTrue(1 <= sent <= job["attempts"], (sent, job))


    def test_a_job_run_elsewhere_wakes_long_polls_and_frees_the_submitters_reservation(self):
        # One worker here, many there: most jobs submitted here run on the other gateway.
        here, there = self.gateway(workers=1), self.gateway()
        self.assertEqual(here.admin("POST", "/admin/v1/teams", {"name": "w", "monthly_budget_usd": 100})[0], 201)
        status, created = here.admin("POST", "/admin/v1/keys", {"team": "w"})
        self.assertEqual(status, 201, created)
        auth = {"authorization": f"Bearer {created['key']}"}
        ids = []
        for i in range(6):
            status, _, data = here.request("POST", "/v1/jobs", {"task_type": "extraction", "prompt": f"w {i}",
                                                               "max_tokens": 16}, auth, timeout=30)
            self.assertEqual(status, 202, data)
            ids.append(json.loads(data)["id"])
        # Each long-poll here returns when its job finishes, wherever it ran, not at its 20 s wait.
        started = time.monotonic()
        for job_id in ids:
            status, _, data = here.request("GET", f"/v1/jobs/{job_id}?wait=20", headers=auth, timeout=30)
            self.assertEqual(status, 200, data)
            self.assertEqual(json.loads(data)["status"], "succeeded", data)
        self.assertLess(time.monotonic() - started, 15)
        # Every reservation this gateway took at submit is gone, including those of the jobs run there.
        def nothing_reserved():
            status, body = here.admin("GET", "/admin/v1/teams/w/spend")
            self.assertEqual(status, 200, body)
            return body if body["reserved_usd"] == 0 else None
        wait_until(nothing_reserved, 5, "the submitting gateway to hold no reservation")


class SharedBudget(unittest.TestCase):
    """Three gateways, one database, one team with a small cap: however the requests
    spread over the replicas, together they never spend past the cap, every replica
    reports the same spend, and nothing stays reserved once they are idle."""

    def setUp(self):
        self.base = base_dsn()
        self.schema = "b_" + uuid.uuid4().hex[:12]
        psql(self.base, f"CREATE SCHEMA {self.schema}")
        self.addCleanup(psql, self.base, f"DROP SCHEMA {self.schema} CASCADE")
        self.dsn = f"{self.base} options='-c search_path={self.schema}'"
        self.sim_port = free_port()
        # 100 ms per answer, so the 300 requests overlap on every replica.
        self.sim = subprocess.Popen([AEGIS_BIN, "sim", "--listen", f"127.0.0.1:{self.sim_port}", "--threads", "2",
                                     "--ttft-ms", "100", "--log-level", "warn"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(self.sim.wait)
        self.addCleanup(self.sim.kill)
        wait_until(lambda: sim_get(self.sim_port, "/_sim/health") is not None, 20, "the simulator to start")

    def gateway(self):
        price = "{input_per_mtok_usd: 1000, output_per_mtok_usd: 1000}"
        config = ("storage:\n  postgres_dsn: \"${AEGIS_IT_PG_DSN}\"\n"
                  "jobs:\n  encryption:\n    active: k1\n    keys:\n      - {id: k1, env: AEGIS_IT_JOBS_KEY}\n"
                  "providers:\n  - name: upstream\n    type: openai_compat\n"
                  f"    base_url: http://127.0.0.1:{self.sim_port}/v1\n    api_key: test\n    locality: local\n"
                  "    max_concurrency: 512\n"
                  "    models: {haiku: sim-small, sonnet: sim-medium, opus: sim-large}\n"
                  f"    prices: {{sim-small: {price}, sim-medium: {price}, sim-large: {price}}}\n")
        gw = Gateway(config_text=config, env={"AEGIS_IT_PG_DSN": self.dsn, "AEGIS_IT_JOBS_KEY": JOBS_KEY})
        self.addCleanup(gw.cleanup)
        return gw

    def test_three_hundred_concurrent_requests_over_three_replicas_never_overspend(self):
        from concurrent.futures import ThreadPoolExecutor
        gateways = [self.gateway() for _ in range(3)]
        cap = 1.0
        self.assertEqual(gateways[0].admin("POST", "/admin/v1/teams", {"name": "small", "monthly_budget_usd": cap})[0],
                         201)
        status, created = gateways[0].admin("POST", "/admin/v1/keys", {"team": "small"})
        self.assertEqual(status, 201, created)
        auth = {"authorization": f"Bearer {created['key']}"}

        def chat(i):
            body = {"model": "auto", "max_tokens": 16, "messages": [{"role": "user", "content": f"request {i}"}]}
            status, _, data = gateways[i % 3].request("POST", "/v1/chat/completions", body, auth, timeout=60)
            return status, data

        with ThreadPoolExecutor(max_workers=300) as pool:
            results = list(pool.map(chat, range(300)))
        statuses = [s for s, _ in results]
        for status, data in results:
            self.assertIn(status, (200, 402), data)
        answered = statuses.count(200)
        # Each request prices at a few cents: the cap admits some, not all.
        self.assertGreater(answered, 5, statuses)
        self.assertGreater(statuses.count(402), 0, "the cap was never reached: the test proves nothing")

        # Every replica reports the same spend once the slices have gone back (idle 2 s).
        def settled():
            views = [gw.admin("GET", "/admin/v1/teams/small/spend") for gw in gateways]
            for status, body in views:
                self.assertEqual(status, 200, body)
            bodies = [b for _, b in views]
            if any(b["reserved_usd"] != 0 for b in bodies) or any(b != bodies[0] for b in bodies):
                return None
            return bodies[0]
        spend = wait_until(settled, 15, "every replica to report the same spend and nothing reserved", interval=0.5)
        self.assertLessEqual(spend["spent_usd"], cap)
        self.assertEqual(spend["requests"], answered)
        # The audit trail agrees: one row per request, the answered ones' costs are the spend.
        def rows():
            n = int(psql(self.dsn, "SELECT COUNT(*) FROM audit WHERE team = 'small'"))
            return n if n == 300 else None
        wait_until(rows, 10, "300 audit rows")
        audited = int(psql(self.dsn, "SELECT COALESCE(SUM(cost_micros), 0) FROM audit WHERE team = 'small'"))
        self.assertEqual(audited, round(spend["spent_usd"] * 1_000_000))
        self.assertEqual(int(psql(self.dsn, "SELECT COUNT(*) FROM audit WHERE team = 'small' AND status = 402")),
                         statuses.count(402))
        # The pool holds exactly what was spent: no slice is left out.
        self.assertEqual(int(psql(self.dsn, "SELECT granted_micros FROM budget_pool WHERE team = 'small'")), audited)


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sim_get(port, path):
    import http.client
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", path)
        response = conn.getresponse()
        data = response.read()
        return json.loads(data) if response.status == 200 else None
    except OSError:
        return None


if __name__ == "__main__":
    unittest.main()
