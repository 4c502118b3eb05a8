"""The async job API (docs/JOBS.md) against the real binary (`aegis serve --demo`).

A simulated provider told to `hang` by the demo fault API holds a job in
`running` for as long as a test needs it (the simulator releases a hang only
after an hour or at shutdown, so every test ends its hung jobs with DELETE).
With `jobs.workers: 1`, a hung job also keeps the jobs behind it `queued`.
What the providers really received is read back from
/admin/v1/demo/upstream-log.

Classes:
- JobsApi: one gateway with the default 64 workers for submit/get/list/
  cancel/idempotency/isolation/budget/validation/classification; the
  `test_zz_*` test checks the job gauges against everything the class did.
- JobsOneWorker: `workers: 1, max_queue_depth: 2` (queued cancel, long-poll
  wake-up, queue full).
- JobsExpire: `queue_ttl_s: 1` behind a hung job.
- JobsSurviveKill: SIGKILL and a restart on the same database file (a
  graceful SIGTERM hand-back is covered by test_drain.py).
"""
import calendar
import json
import os
import re
import shutil
import signal
import tempfile
import threading
import time
import unittest
import uuid

from aegis_harness import DemoUpstreams, Gateway, GatewayTestCase, parse_metrics, wait_until

# Breakers would open after the injected hangs and change later routes;
# background health checks could use up a one-shot fault meant for a job.
RESILIENCE = """
resilience:
  failure_threshold: 1000
  health_check_interval_s: 0
"""

SIN = "046 454 286"
NAME = "Jennifer Walsh"
EMAIL = "jennifer.walsh@acme-mail.com"
HAIKU = "claude-haiku-4-5"  # an explicit anthropic model: anthropic answers first
JOB_ID = re.compile(r"^job_[0-9a-f]{44}$")
RFC3339_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
JOB_FIELDS = {"id", "object", "status", "classification", "task_type", "metadata", "route", "result", "error",
              "attempts", "created_at", "started_at", "finished_at"}
FINAL = ("succeeded", "failed", "cancelled", "expired")
STATUSES = ("queued", "running") + FINAL




def metric(samples, name, **labels):
    """The sum of a metric's series with these labels (None when there is no such series)."""
    found = [v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= set(ls)]
    return sum(found) if found else None


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class JobClient(DemoUpstreams):
    """Helpers over /v1/jobs and the admin/demo API; `gw` is the gateway in use."""

    keys = None  # team -> key, for the tests that look at every job the class made
    cancel_leftovers = True  # a failed test must not leave a hung job holding a worker for the next one

    def tearDown(self):
        # A gateway that died mid-test is a server bug: say so with its log, not with connection errors.
        code = self.gw.proc.poll() if self.gw else None
        if code is not None and not self.gw._log.closed:  # closed: the test stopped it on purpose
            with open(self.gw.log_path, "rb") as f:
                tail = f.read()[-4000:].decode("utf-8", "replace")
            self.fail(f"the gateway exited with {code} during the test; log tail:\n{tail}")
        super().tearDown()

    def cancel_unfinished(self, key):
        status, page = self.list_raw(key, "?limit=1000")
        if status != 200:
            return
        for job in page["data"]:
            if job["status"] in ("queued", "running"):
                self.delete(key, job["id"])

    def make_team(self, name, budget=50):
        status, body = self.gw.admin("POST", "/admin/v1/teams", {"name": name, "monthly_budget_usd": budget})
        self.assertEqual(status, 201, body)
        status, created = self.gw.admin("POST", "/admin/v1/keys", {"team": name})
        self.assertEqual(status, 201, created)
        if self.keys is not None:
            self.keys[name] = created["key"]
        if self.cancel_leftovers:
            self.addCleanup(self.cancel_unfinished, created["key"])
        return created["key"]

    @staticmethod
    def auth(key, extra=None):
        headers = {"authorization": f"Bearer {key}"}
        headers.update(extra or {})
        return headers

    def submit_raw(self, key, body, headers=None):
        """(status, headers, parsed body) of POST /v1/jobs."""
        status, got, data = self.gw.request("POST", "/v1/jobs", body, self.auth(key, headers), timeout=30)
        return status, got, json.loads(data)

    def submit(self, key, body, headers=None):
        status, got, reply = self.submit_raw(key, body, headers)
        self.assertEqual(status, 202, reply)
        return reply["id"]

    def job_body(self, prompt, model=HAIKU, task="extraction", max_tokens=64, **extra):
        body = {"task_type": task, "prompt": prompt, "max_tokens": max_tokens, "model": model}
        body.update(extra)
        return body

    def get_raw(self, key, job_id, query="", timeout=30):
        status, _, data = self.gw.request("GET", f"/v1/jobs/{job_id}{query}", headers=self.auth(key), timeout=timeout)
        return status, json.loads(data)

    def get(self, key, job_id, query=""):
        status, job = self.get_raw(key, job_id, query)
        self.assertEqual(status, 200, job)
        self.assertEqual(set(job), JOB_FIELDS, job)
        return job

    def delete(self, key, job_id):
        status, _, data = self.gw.request("DELETE", f"/v1/jobs/{job_id}", headers=self.auth(key))
        return status, json.loads(data)

    def list_raw(self, key, query=""):
        status, _, data = self.gw.request("GET", f"/v1/jobs{query}", headers=self.auth(key))
        return status, json.loads(data)

    def list_all(self, key, status=None):
        query = "?limit=1000" + (f"&status={status}" if status else "")
        code, page = self.list_raw(key, query)
        self.assertEqual(code, 200, page)
        self.assertFalse(page["has_more"], "more than 1000 jobs in one test team")
        return page["data"]

    def await_status(self, key, job_id, want, timeout=20.0):
        """Long-polls until the job reaches one of `want` (a status or tuple); returns the job."""
        want = (want,) if isinstance(want, str) else want
        final_wanted = all(w in FINAL for w in want)
        deadline = time.monotonic() + timeout
        last = {}

        def reached():
            left = deadline - time.monotonic()
            query = f"?wait={min(max(left, 0), 10):.1f}" if final_wanted else ""
            job = last["job"] = self.get(key, job_id, query)
            if job["status"] in FINAL and job["status"] not in want:
                self.fail(f"job {job_id} is {job['status']}, wanted {want}: {job}")
            return job if job["status"] in want else None

        return wait_until(reached, timeout, lambda: f"job {job_id} to be {want}: {last.get('job')}", interval=0.02)

    def await_upstream(self, marker, timeout=10.0):
        """The upstream requests whose body holds `marker`, once there is at least one."""
        return wait_until(lambda: [r for r in self.upstream_log() if marker in r["body"]], timeout,
                          f"a provider to receive {marker!r}", interval=0.02)

    def hung_job(self, key, marker, **extra):
        """A job that is running with its anthropic call hung; the caller must cancel it."""
        self.fault("anthropic", "hang", 1)
        job_id = self.submit(key, self.job_body(f"{marker} please wait", **extra))
        self.await_status(key, job_id, "running")
        sent = self.await_upstream(marker)
        self.assertEqual([r["provider"] for r in sent], ["anthropic"], sent)
        return job_id

    def spend(self, team):
        status, body = self.gw.admin("GET", f"/admin/v1/teams/{team}/spend")
        self.assertEqual(status, 200, body)
        return body

    def await_reserved(self, team, want, timeout=5.0):
        last = {}

        def reserved():
            spend = last["spend"] = self.spend(team)
            return spend if spend["reserved_usd"] == want else None

        return wait_until(reserved, timeout, lambda: f"{team} to have {want} reserved: {last.get('spend')}")

    def audit_rows(self, team, request_ids, timeout=5.0):
        """The team's audit rows for these request ids, once there is one for each."""
        def rows():
            status, body = self.gw.admin("GET", f"/admin/v1/audit?team={team}&limit=1000")
            self.assertEqual(status, 200, body)
            found = {r["request_id"]: r for r in body["data"] if r["request_id"] in request_ids}
            return found if len(found) == len(set(request_ids)) else None

        return wait_until(rows, timeout, f"audit rows of {team} for {request_ids}")

    def waiting_long_polls(self):
        return metric(self.metrics(), "aegis_job_waiters")

    def metrics(self):
        status, _, data = self.gw.request("GET", "/metrics")
        self.assertEqual(status, 200)
        return parse_metrics(data.decode())

    def assertError(self, status, body, want_status, want_type):
        self.assertEqual(status, want_status, body)
        self.assertEqual(set(body), {"error"}, body)
        self.assertEqual(body["error"]["type"], want_type, body)
        self.assertTrue(body["error"]["message"], body)
        return body["error"]


class JobsApi(JobClient, GatewayTestCase):
    gateway_args = ("--demo",)
    config_text = RESILIENCE + """
pii:
  team_block_entities:
    pii-blocked: [EMAIL_ADDRESS]
routing:
  team_models:
    models-limited: [haiku]
"""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.keys = {}

    def tearDown(self):
        super().tearDown()
        self.fault("anthropic", "none")
        self.fault("ollama", "none")

    # ---- 1. submit -> 202 -> succeeded, with route, result, cost, audit row -----------------------------

    def test_submit_runs_to_success_with_result_route_cost_and_audit_row(self):
        team = unique("happy")
        key = self.make_team(team)
        prompt = "Extract the invoice number from: invoice INV-2291 is due."
        before = time.time()
        status, headers, reply = self.submit_raw(
            key, {"task_type": "extraction", "prompt": prompt, "max_tokens": 64, "metadata": {"ticket": "T-1234"}})
        self.assertEqual(status, 202, reply)
        self.assertEqual(set(reply), {"id", "object", "status", "classification", "created_at"}, reply)
        self.assertRegex(reply["id"], JOB_ID)
        self.assertEqual((reply["object"], reply["status"]), ("job", "queued"))
        self.assertIn(reply["classification"], ("PUBLIC", "INTERNAL"))
        self.assertRegex(reply["created_at"], RFC3339_MS)
        self.assertEqual(headers.get("location"), f"/v1/jobs/{reply['id']}")
        self.assertNotIn("idempotent-replayed", headers)

        job = self.await_status(key, reply["id"], FINAL)
        self.assertEqual(job["status"], "succeeded", job)
        self.assertEqual(job["id"], reply["id"])
        self.assertEqual(job["created_at"], reply["created_at"])
        self.assertEqual(job["classification"], reply["classification"])
        self.assertEqual(job["task_type"], "extraction")
        self.assertEqual(job["metadata"], {"ticket": "T-1234"})
        self.assertIsNone(job["error"])
        self.assertEqual(job["attempts"], 1)
        # extraction -> haiku tier; anthropic is first in the demo chain.
        self.assertEqual({k: job["route"][k] for k in ("tier", "provider", "model")},
                         {"tier": "haiku", "provider": "anthropic", "model": HAIKU}, job["route"])
        self.assertTrue(job["route"]["reason"], job["route"])
        result = job["result"]
        self.assertEqual(result["text"], "Echo: " + prompt)
        usage = result["usage"]
        self.assertGreater(usage["input_tokens"], 0)
        self.assertGreater(usage["output_tokens"], 0)
        # Demo haiku prices: $1 / $5 per million tokens, i.e. 1 and 5 micro-dollars a token.
        self.assertGreater(result["cost_usd"], 0)
        self.assertEqual(round(result["cost_usd"] * 1_000_000), usage["input_tokens"] + 5 * usage["output_tokens"])
        for field in ("created_at", "started_at", "finished_at"):
            self.assertRegex(job[field], RFC3339_MS)
        self.assertLessEqual(job["created_at"], job["started_at"])
        self.assertLessEqual(job["started_at"], job["finished_at"])
        created = calendar.timegm(time.strptime(job["created_at"][:19], "%Y-%m-%dT%H:%M:%S"))
        self.assertLessEqual(abs(created - before), 5, job["created_at"])

        spend = self.await_reserved(team, 0)
        self.assertEqual(round(spend["spent_usd"] * 1_000_000), round(result["cost_usd"] * 1_000_000), spend)
        self.assertEqual(spend["requests"], 1, spend)

        row = self.audit_rows(team, [job["id"]])[job["id"]]
        self.assertEqual(row["surface"], "jobs", row)
        self.assertEqual((row["team"], row["status"], row["task"]), (team, 200, "extraction"), row)
        self.assertEqual((row["provider"], row["model"], row["tier"]), ("anthropic", HAIKU, "haiku"), row)
        self.assertEqual((row["input_tokens"], row["output_tokens"]), (usage["input_tokens"], usage["output_tokens"]))
        self.assertAlmostEqual(row["cost_usd"], result["cost_usd"], places=9)
        self.assertNotIn("INV-2291", json.dumps(row), "the prompt leaked into the audit trail")

    def test_messages_with_system_and_history_are_sent_and_metadata_returned(self):
        key = self.make_team(unique("messages"))
        metadata = {f"k{i}": "v" * 512 for i in range(16)}
        job_id = self.submit(key, {"task_type": "chat", "model": HAIKU, "max_tokens": 50, "metadata": metadata,
                                   "messages": [{"role": "system", "content": "sysmark-7781 be brief"},
                                                {"role": "user", "content": "first question"},
                                                {"role": "assistant", "content": "first answer"},
                                                {"role": "user", "content": "msgmark-5531 second question"}]})
        job = self.await_status(key, job_id, FINAL)
        self.assertEqual(job["status"], "succeeded", job)
        self.assertEqual(job["result"]["text"], "Echo: msgmark-5531 second question")
        self.assertEqual(job["metadata"], metadata)
        sent = self.await_upstream("msgmark-5531")
        self.assertEqual(len(sent), 1, sent)
        self.assertIn("sysmark-7781", sent[0]["body"])
        self.assertIn("first answer", sent[0]["body"])

    # ---- 2. long-poll -----------------------------------------------------------------------------------

    def test_long_poll_returns_after_the_wait_with_the_current_state(self):
        key = self.make_team(unique("poll"))
        job_id = self.hung_job(key, "pollmark-1")
        try:
            for wait, low in (("1", 0.9), ("0.5", 0.45)):
                with self.subTest(wait=wait):
                    started = time.monotonic()
                    job = self.get(key, job_id, f"?wait={wait}")
                    elapsed = time.monotonic() - started
                    self.assertEqual(job["status"], "running", job)
                    self.assertGreaterEqual(elapsed, low)
                    self.assertLess(elapsed, 5)
                    self.assertRegex(job["started_at"], RFC3339_MS)
                    self.assertIsNone(job["finished_at"])
                    self.assertIsNone(job["result"])
            started = time.monotonic()
            self.assertEqual(self.get(key, job_id, "?wait=0")["status"], "running")
            self.assertLess(time.monotonic() - started, 0.5)
        finally:
            self.delete(key, job_id)

    def test_long_poll_wakes_when_the_job_is_cancelled(self):
        key = self.make_team(unique("wake"))
        job_id = self.hung_job(key, "wakemark-1")
        got = {}

        def poll():
            started = time.monotonic()
            got["job"] = self.get_raw(key, job_id, "?wait=30", timeout=40)
            got["elapsed"] = time.monotonic() - started

        waiter = threading.Thread(target=poll)
        waiter.start()
        wait_until(lambda: self.waiting_long_polls() == 1, 10, "the GET to be waiting (aegis_job_waiters 1)")
        status, cancelled = self.delete(key, job_id)
        self.assertEqual(status, 200, cancelled)
        waiter.join(40)
        self.assertFalse(waiter.is_alive())
        self.assertEqual(got["job"][0], 200, got)
        # Answered with the cancel, so it waited for it.
        self.assertEqual(got["job"][1]["status"], "cancelled", got)
        self.assertLess(got["elapsed"], 5, "the waiting GET was not woken by the cancel")
        self.assertEqual(self.waiting_long_polls(), 0)

    def test_a_finished_job_answers_a_long_poll_at_once(self):
        key = self.make_team(unique("done"))
        job_id = self.submit(key, self.job_body("quick one"))
        self.await_status(key, job_id, "succeeded")
        started = time.monotonic()
        self.assertEqual(self.get(key, job_id, "?wait=30")["status"], "succeeded")
        self.assertLess(time.monotonic() - started, 2)

    def test_bad_wait_and_unknown_query_parameters_are_400(self):
        key = self.make_team(unique("badwait"))
        job_id = self.submit(key, self.job_body("for bad waits"))
        for query in ("?wait=61", "?wait=-1", "?wait=abc", "?wait=", "?wait=inf", "?wait=nan", "?wait=1s",
                      "?wait=1e1", "?wait=0x10", "?wait=+1", "?wait=1&wait=2", "?timeout=1", "?wait=1&x=2"):
            with self.subTest(query=query):
                status, body = self.get_raw(key, job_id, query)
                self.assertError(status, body, 400, "invalid_request")
        self.assertEqual(self.get(key, job_id, "?wait=60")["id"], job_id)  # the upper bound itself is valid

    # ---- 3. cancel --------------------------------------------------------------------------------------

    def test_cancel_a_running_job_releases_the_reservation_and_it_stays_cancelled(self):
        team = unique("cancel")
        key = self.make_team(team)
        job_id = self.hung_job(key, "cancelmark-1")
        self.assertGreater(self.spend(team)["reserved_usd"], 0, "a running job holds its reservation")
        status, job = self.delete(key, job_id)
        self.assertEqual(status, 200, job)
        self.assertEqual(set(job), JOB_FIELDS, job)
        self.assertEqual(job["status"], "cancelled", job)
        self.assertEqual(job["error"]["type"], "cancelled", job)
        self.assertTrue(job["error"]["message"], job)
        self.assertIsNone(job["result"])
        self.assertRegex(job["finished_at"], RFC3339_MS)
        spend = self.await_reserved(team, 0)
        self.assertEqual((spend["spent_usd"], spend["requests"]), (0, 0), spend)

        # The aborted call's audit row is written as its run ends: nothing of the run is left to change the job.
        row = self.audit_rows(team, [job_id])[job_id]
        self.assertEqual(row["fallback_path"], ["anthropic:cancelled"], row)
        job = self.get(key, job_id)
        self.assertEqual(job["status"], "cancelled", job)
        self.assertEqual(job["error"]["type"], "cancelled", job)
        self.assertEqual(job["attempts"], 1, job)
        self.assertEqual(self.spend(team)["reserved_usd"], 0)

        status, body = self.delete(key, job_id)
        self.assertError(status, body, 409, "conflict")
        status, body = self.delete(key, "job_" + "0" * 44)
        self.assertError(status, body, 404, "not_found")
        # A finished job cannot be cancelled either, and stays as it was.
        done = self.submit(key, self.job_body("finishes first"))
        self.await_status(key, done, "succeeded")
        status, body = self.delete(key, done)
        self.assertError(status, body, 409, "conflict")
        self.assertEqual(self.get(key, done)["status"], "succeeded")

    # ---- 4. list ----------------------------------------------------------------------------------------

    def test_list_pages_oldest_first_and_filters_by_status(self):
        key = self.make_team(unique("list"))
        ids = []
        for i in range(5):
            ids.append(self.submit(key, self.job_body(f"list job {i}")))
            time.sleep(0.005)  # distinct created_at milliseconds: the order is by creation time
        for job_id in ids:
            self.await_status(key, job_id, "succeeded")
        cancelled = self.hung_job(key, "listmark-1")
        self.assertEqual(self.delete(key, cancelled)[0], 200)

        seen, cursor, pages = [], None, 0
        while True:
            query = "?limit=2&status=succeeded" + (f"&cursor={cursor}" if cursor else "")
            status, page = self.list_raw(key, query)
            self.assertEqual(status, 200, page)
            self.assertEqual(set(page), {"object", "data", "has_more", "next_cursor"}, page)
            self.assertEqual(page["object"], "list")
            pages += 1
            self.assertLessEqual(len(page["data"]), 2)
            for job in page["data"]:
                self.assertEqual(set(job), JOB_FIELDS, job)
            seen += [j["id"] for j in page["data"]]
            self.assertEqual(page["has_more"], page["next_cursor"] is not None, page)
            if not page["has_more"]:
                break
            cursor = page["next_cursor"]
            self.assertLess(pages, 10)
        self.assertEqual((pages, seen), (3, ids))

        everything = self.list_all(key)
        self.assertEqual([j["id"] for j in everything], ids + [cancelled])
        self.assertEqual([j["status"] for j in everything], ["succeeded"] * 5 + ["cancelled"])
        self.assertEqual([j["id"] for j in self.list_all(key, "cancelled")], [cancelled])
        self.assertEqual(self.list_all(key, "queued"), [])
        self.assertEqual(self.list_all(key, "failed"), [])
        # has_more is exact at the boundary.
        status, page = self.list_raw(key, "?limit=6")
        self.assertEqual((status, len(page["data"]), page["has_more"], page["next_cursor"]), (200, 6, False, None))
        status, page = self.list_raw(key, "?limit=5")
        self.assertEqual((status, len(page["data"]), page["has_more"]), (200, 5, True))
        status, page = self.list_raw(key, "?cursor=" + page["next_cursor"])
        self.assertEqual([j["id"] for j in page["data"]], [cancelled])

        for query in ("?status=bogus", "?status=SUCCEEDED", "?limit=0", "?limit=1001", "?limit=abc", "?limit=2.5",
                      "?limit=", "?cursor=garbage", "?cursor=:", "?page=2", "?status=queued&status=running"):
            with self.subTest(query=query):
                status, body = self.list_raw(key, query)
                self.assertError(status, body, 400, "invalid_request")

    # ---- 5. idempotency ---------------------------------------------------------------------------------

    def test_idempotency_key_returns_the_first_job_per_team(self):
        key_a = self.make_team(unique("idem-a"))
        key_b = self.make_team(unique("idem-b"))
        idem = {"Idempotency-Key": "order-7781-" + uuid.uuid4().hex}
        status, headers, first = self.submit_raw(key_a, self.job_body("idempotent one"), idem)
        self.assertEqual(status, 202, first)
        self.assertNotIn("idempotent-replayed", headers)
        self.await_status(key_a, first["id"], "succeeded")
        # Even a different body gets the first job back: the key names the operation.
        status, headers, again = self.submit_raw(key_a, self.job_body("another body", max_tokens=5), idem)
        self.assertEqual(status, 202, again)
        self.assertEqual(headers.get("idempotent-replayed"), "true")
        self.assertEqual({k: again[k] for k in ("id", "object", "classification", "created_at")},
                         {k: first[k] for k in ("id", "object", "classification", "created_at")})
        self.assertIn(again["status"], STATUSES)
        self.assertEqual(headers.get("location"), f"/v1/jobs/{first['id']}")
        self.assertEqual(len(self.list_all(key_a)), 1)

        status, headers, other = self.submit_raw(key_b, self.job_body("idempotent one"), idem)
        self.assertEqual(status, 202, other)
        self.assertNotIn("idempotent-replayed", headers)
        self.assertNotEqual(other["id"], first["id"])
        self.assertEqual(self.await_status(key_b, other["id"], FINAL)["status"], "succeeded")

        for bad in ("k" * 256, "has space", "tab\tkey", "caf\u00e9"):
            with self.subTest(key=bad[:20]):
                try:
                    status, _, body = self.submit_raw(key_a, self.job_body("bad key"), {"Idempotency-Key": bad})
                except UnicodeEncodeError:
                    continue  # http.client refuses to send it at all
                self.assertError(status, body, 400, "invalid_request")
        status, headers, ok = self.submit_raw(key_a, self.job_body("longest key"), {"Idempotency-Key": "k" * 255})
        self.assertEqual(status, 202, ok)
        self.assertEqual(len(self.list_all(key_a)), 2, "a rejected key must not store a job")

    def test_concurrent_submits_with_one_idempotency_key_store_one_job(self):
        team = unique("idem-race")
        key = self.make_team(team)
        idem = {"Idempotency-Key": "race-" + uuid.uuid4().hex}
        barrier = threading.Barrier(8)
        results = [None] * 8

        def client(i):
            barrier.wait(10)
            try:
                results[i] = self.submit_raw(key, self.job_body("racemark one operation"), idem)
            except Exception as e:  # noqa: BLE001 - reported below
                results[i] = (None, {}, repr(e))

        threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual([r[0] for r in results], [202] * 8, results)
        self.assertEqual(len({r[2]["id"] for r in results}), 1, results)
        self.assertEqual(sum(1 for r in results if r[1].get("idempotent-replayed") != "true"), 1,
                         "exactly one submit created the job")
        self.assertEqual(len(self.list_all(key)), 1)
        self.assertEqual(self.await_status(key, results[0][2]["id"], FINAL)["status"], "succeeded")
        # The losers' reservations were given back.
        spend = self.await_reserved(team, 0)
        self.assertEqual(spend["requests"], 1, spend)

    def test_many_concurrent_submits_all_get_distinct_durable_jobs(self):
        key = self.make_team(unique("burst"))
        ids = [None] * 40

        def client(i):
            try:
                status, _, reply = self.submit_raw(key, self.job_body(f"burstmark {i}"))
                ids[i] = reply["id"] if status == 202 else (status, reply)
            except Exception as e:  # noqa: BLE001 - reported below
                ids[i] = repr(e)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(40)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertTrue(all(isinstance(i, str) and JOB_ID.match(i) for i in ids), ids)
        self.assertEqual(len(set(ids)), 40)
        self.assertEqual(sorted(j["id"] for j in self.list_all(key)), sorted(ids))
        for n, job_id in enumerate(ids):
            job = self.await_status(key, job_id, FINAL)
            self.assertEqual((job["status"], job["result"]["text"]), ("succeeded", f"Echo: burstmark {n}"), job)

    def test_idempotent_replay_answers_the_first_job_as_it_is_now(self):
        key = self.make_team(unique("idem-body"))
        idem = {"Idempotency-Key": "same-body-" + uuid.uuid4().hex}
        status, _, first = self.submit_raw(key, self.job_body("replay body"), idem)
        self.assertEqual(status, 202, first)
        self.await_status(key, first["id"], "succeeded")
        status, headers, again = self.submit_raw(key, self.job_body("replay body"), idem)
        self.assertEqual((status, headers.get("idempotent-replayed")), (202, "true"))
        # docs/JOBS.md: the same job, in its current state (a retrying client learns it already ran).
        self.assertEqual({k: again[k] for k in ("id", "classification", "created_at")},
                         {k: first[k] for k in ("id", "classification", "created_at")})
        self.assertEqual(again["status"], "succeeded")

    # ---- 6. team isolation ------------------------------------------------------------------------------

    def test_another_teams_job_is_404_like_an_unknown_id_and_not_listed(self):
        key_a = self.make_team(unique("iso-a"))
        key_b = self.make_team(unique("iso-b"))
        job_a = self.hung_job(key_a, "isomark-1")
        try:
            job_b = self.submit(key_b, self.job_body("b's own"))
            unknown = "job_" + "0123456789ab" + "f" * 32

            def shape(status, body, job_id):
                self.assertError(status, body, 404, "not_found")
                return body["error"]["type"], body["error"]["message"].replace(job_id, "<id>")

            for method in ("GET", "DELETE"):
                with self.subTest(method=method):
                    if method == "GET":
                        theirs = shape(*self.get_raw(key_b, job_a, "?wait=5"), job_a)
                        missing = shape(*self.get_raw(key_b, unknown), unknown)
                    else:
                        theirs = shape(*self.delete(key_b, job_a), job_a)
                        missing = shape(*self.delete(key_b, unknown), unknown)
                    self.assertEqual(theirs, missing)
            # B's DELETE did not touch A's job.
            self.assertEqual(self.get(key_a, job_a)["status"], "running")
            self.assertEqual([j["id"] for j in self.list_all(key_b)], [job_b])
            self.assertEqual([j["id"] for j in self.list_all(key_a)], [job_a])
        finally:
            self.delete(key_a, job_a)

    # ---- 7. budgets at submit ---------------------------------------------------------------------------

    def test_submit_over_budget_is_402_and_stores_nothing(self):
        team = unique("broke")
        key = self.make_team(team, 0.000001)
        before = len(self.upstream_log())
        status, _, body = self.submit_raw(key, self.job_body("too expensive"))
        self.assertError(status, body, 402, "budget_exceeded")
        self.assertEqual(self.list_all(key), [])
        spend = self.spend(team)
        self.assertEqual((spend["reserved_usd"], spend["spent_usd"], spend["requests"]), (0, 0, 0), spend)
        # The refusal is in the audit log like a refused synchronous call: no provider, no content.
        audit = wait_until(lambda: self.gw.admin("GET", f"/admin/v1/audit?team={team}&limit=10")[1]["data"], 5,
                           f"the refusal's audit row ({team})")
        self.assertEqual(len(audit), 1, audit)
        row = audit[0]
        self.assertEqual((row["status"], row["surface"], row["error_type"]), (402, "jobs", "budget_exceeded"), row)
        self.assertNotIn("too expensive", json.dumps(row))
        # Nothing was stored (above), so nothing can have been sent since.
        self.assertEqual(len(self.upstream_log()), before)

    def test_a_queued_or_running_job_holds_its_reservation(self):
        # The reservation of this body, measured on a team with room to spare (hung_job sends the same body).
        body = self.job_body("probemark-1 please wait", max_tokens=100_000)
        probe_team = unique("probe")
        probe_key = self.make_team(probe_team)
        probe = self.hung_job(probe_key, "probemark-1", max_tokens=100_000)
        reservation = self.spend(probe_team)["reserved_usd"]
        self.assertEqual(self.delete(probe_key, probe)[0], 200)
        # At least the output tokens at the $5/M haiku output price.
        self.assertGreaterEqual(reservation, 0.5)

        team = unique("reserve")
        key = self.make_team(team, round(reservation * 1.5, 6))
        idem = {"Idempotency-Key": "reserve-" + uuid.uuid4().hex}
        self.fault("anthropic", "hang", 1)
        first = self.submit(key, body, idem)
        self.await_status(key, first, "running")
        self.assertAlmostEqual(self.spend(team)["reserved_usd"], reservation, places=6)
        status, _, refused = self.submit_raw(key, body)
        self.assertError(status, refused, 402, "budget_exceeded")
        self.assertEqual([j["id"] for j in self.list_all(key)], [first])
        # A replay answers from the store before any budget check, so it is not refused.
        status, headers, replay = self.submit_raw(key, body, idem)
        self.assertEqual(status, 202, replay)
        self.assertEqual((replay["id"], headers.get("idempotent-replayed")), (first, "true"))

        self.assertEqual(self.delete(key, first)[0], 200)
        self.await_reserved(team, 0)
        second = self.submit(key, body)  # the cancelled job's reservation is free again
        job = self.await_status(key, second, FINAL)
        self.assertEqual(job["status"], "succeeded", job)
        self.await_reserved(team, 0)

    # ---- 9. validation ----------------------------------------------------------------------------------

    def test_invalid_submits_are_400_and_store_nothing(self):
        key = self.make_team(unique("invalid"))
        good = {"task_type": "summarize", "prompt": "hello", "max_tokens": 10}
        user = {"role": "user", "content": "hi"}
        cases = [
            ("unknown field", dict(good, temperature=0.5)),
            ("both messages and prompt", dict(good, messages=[user])),
            ("neither messages nor prompt", {"task_type": "summarize", "max_tokens": 10}),
            ("empty prompt", dict(good, prompt="")),
            ("prompt not a string", dict(good, prompt=["hello"])),
            ("empty messages", {"task_type": "summarize", "max_tokens": 10, "messages": []}),
            ("no user message", {"task_type": "summarize", "max_tokens": 10,
                                 "messages": [{"role": "system", "content": "x"},
                                              {"role": "assistant", "content": "y"}]}),
            ("bad role", {"task_type": "summarize", "max_tokens": 10, "messages": [{"role": "tool", "content": "x"}]}),
            ("content not a string", {"task_type": "summarize", "max_tokens": 10,
                                      "messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}]}),
            ("unknown message field", {"task_type": "summarize", "max_tokens": 10,
                                       "messages": [dict(user, name="bob")]}),
            ("max_tokens missing", {"task_type": "summarize", "prompt": "hello"}),
            ("max_tokens 0", dict(good, max_tokens=0)),
            ("max_tokens negative", dict(good, max_tokens=-5)),
            ("max_tokens too big", dict(good, max_tokens=1_000_001)),
            ("max_tokens beyond int64", dict(good, max_tokens=2 ** 64 - 1)),
            ("max_tokens string", dict(good, max_tokens="10")),
            ("max_tokens float", dict(good, max_tokens=10.5)),
            ("max_tokens bool", dict(good, max_tokens=True)),
            ("task_type missing", {"prompt": "hello", "max_tokens": 10}),
            ("task_type bad chars", dict(good, task_type="sum marize")),
            ("task_type too long", dict(good, task_type="t" * 65)),
            ("task_type empty", dict(good, task_type="")),
            ("classification unknown", dict(good, classification="SECRET")),
            ("classification number", dict(good, classification=3)),
            ("metadata non-string", dict(good, metadata={"n": 1})),
            ("metadata not an object", dict(good, metadata=["a"])),
            ("metadata 17 entries", dict(good, metadata={f"k{i}": "v" for i in range(17)})),
            ("metadata key too long", dict(good, metadata={"k" * 65: "v"})),
            ("metadata value too long", dict(good, metadata={"k": "v" * 513})),
            ("model empty", dict(good, model="")),
            ("model not a string", dict(good, model=5)),
        ]
        for label, body in cases:
            with self.subTest(label):
                status, _, reply = self.submit_raw(key, body)
                self.assertError(status, reply, 400, "invalid_request")
        raw_cases = [
            ("malformed JSON", b'{"task_type": "summarize", "prompt": ', "application/json", 400, "invalid_json"),
            ("array body", b'[]', "application/json", 400, "invalid_request"),
            ("invalid UTF-8", b'{"task_type": "summarize", "prompt": "\xff\xfe", "max_tokens": 10}',
             "application/json", 400, "invalid_json"),
            ("text/plain", json.dumps(good).encode(), "text/plain", 415, "unsupported_media_type"),
            ("no content-type", json.dumps(good).encode(), None, 415, "unsupported_media_type"),
        ]
        for label, data, content_type, want_status, want_type in raw_cases:
            with self.subTest(label):
                headers = self.auth(key, {"content-type": content_type} if content_type else {})
                status, _, reply = self.gw.request("POST", "/v1/jobs", data, headers)
                self.assertError(status, json.loads(reply), want_status, want_type)
        self.assertEqual(self.list_all(key), [])
        # The same body with every field valid is accepted (the cases above fail for their one reason).
        self.assertEqual(self.submit_raw(key, dict(good, classification="INTERNAL", metadata={"a": "b"}))[0], 202)

    def test_no_or_wrong_key_is_401_on_every_route(self):
        some_id = "job_" + "0" * 44
        body = json.dumps({"task_type": "summarize", "prompt": "x", "max_tokens": 5}).encode()
        routes = (("POST", "/v1/jobs", body), ("GET", "/v1/jobs", None), ("GET", f"/v1/jobs/{some_id}", None),
                  ("DELETE", f"/v1/jobs/{some_id}", None))
        for headers in ({}, {"authorization": "Bearer sk-aegis-not-a-real-key"}, {"x-api-key": "nope"}):
            for method, path, data in routes:
                with self.subTest(method=method, path=path, headers=list(headers)):
                    hdrs = dict(headers, **{"content-type": "application/json"})
                    status, _, reply = self.gw.request(method, path, data, hdrs)
                    self.assertError(status, json.loads(reply), 401, "authentication_error")

    # ---- 10. classification and PII ---------------------------------------------------------------------

    def test_restricted_jobs_run_on_ollama_only(self):
        key = self.make_team(unique("restricted"))
        cases = [
            ("SIN in the prompt", {"prompt": f"restmark-1 my SIN is {SIN}, file my taxes"}, "restmark-1"),
            ("SIN with a lower floor", {"prompt": f"restmark-2 SIN {SIN}", "classification": "INTERNAL"},
             "restmark-2"),
            ("declared RESTRICTED", {"prompt": "restmark-3 the weather is nice", "classification": "RESTRICTED"},
             "restmark-3"),
            ("SIN in a system message", {"messages": [{"role": "system", "content": f"Customer SIN: {SIN}"},
                                                       {"role": "user", "content": "restmark-4 summarise"}]},
             "restmark-4"),
        ]
        for label, fields, marker in cases:
            with self.subTest(label):
                cloud_before = len([r for r in self.upstream_log() if r["locality"] == "cloud"])
                body = {"task_type": "summarization", "max_tokens": 64, "model": "auto"}
                body.update(fields)
                status, _, reply = self.submit_raw(key, body)
                self.assertEqual(status, 202, reply)
                self.assertEqual(reply["classification"], "RESTRICTED")
                job = self.await_status(key, reply["id"], FINAL)
                self.assertEqual(job["status"], "succeeded", job)
                self.assertEqual(job["classification"], "RESTRICTED")
                self.assertEqual(job["route"]["provider"], "ollama", job["route"])
                self.assertIn("restricted", job["route"]["reason"].lower(), job["route"])
                sent = self.await_upstream(marker)
                self.assertEqual([r["provider"] for r in sent], ["ollama"], sent)
                cloud = [r for r in self.upstream_log() if r["locality"] == "cloud"]
                self.assertEqual(len(cloud), cloud_before, "a RESTRICTED job reached a cloud provider")
                for r in cloud:
                    self.assertNotIn("046454286", re.sub(r"\D", "", r["body"]))
        # An explicit cloud model does not move RESTRICTED data to the cloud either.
        job_id = self.submit(key, self.job_body(f"restmark-5 SIN {SIN}", model=HAIKU))
        job = self.await_status(key, job_id, FINAL)
        self.assertEqual((job["status"], job["classification"], job["route"]["provider"]),
                         ("succeeded", "RESTRICTED", "ollama"), job)
        self.assertEqual([r["provider"] for r in self.upstream_log() if "restmark-5" in r["body"]], ["ollama"])

    def test_pii_reaches_the_cloud_as_placeholders_and_the_result_is_restored(self):
        key = self.make_team(unique("pii"))
        text = f"piimark-1 Please write to {NAME} at {EMAIL} about the renewal."
        status, _, reply = self.submit_raw(key, self.job_body(text, task="chat"))
        self.assertEqual(status, 202, reply)
        self.assertIn(reply["classification"], ("INTERNAL", "CONFIDENTIAL"))
        job = self.await_status(key, reply["id"], FINAL)
        self.assertEqual(job["status"], "succeeded", job)
        self.assertEqual(job["route"]["provider"], "anthropic", job["route"])
        sent = self.await_upstream("piimark-1")
        self.assertEqual([r["provider"] for r in sent], ["anthropic"], sent)
        for value in (EMAIL, "acme-mail.com", "Walsh"):
            self.assertNotIn(value, sent[0]["body"])
        self.assertRegex(sent[0]["body"], r"EMAIL\w*_\d+")
        self.assertEqual(job["result"]["text"], "Echo: " + text)

    def test_classification_floor_raises_the_level(self):
        key = self.make_team(unique("floor"))
        for floor in ("INTERNAL", "CONFIDENTIAL"):
            with self.subTest(floor=floor):
                status, _, reply = self.submit_raw(key, self.job_body("nothing sensitive here", classification=floor))
                self.assertEqual((status, reply["classification"]), (202, floor), reply)
                job = self.await_status(key, reply["id"], FINAL)
                self.assertEqual((job["status"], job["classification"]), ("succeeded", floor), job)

    # ---- submit-time refusals and failed jobs ----------------------------------------------------------

    def test_pii_block_policy_is_422_at_submit_and_stores_nothing(self):
        team = "pii-blocked"
        key = self.make_team(team)
        before = len(self.upstream_log())
        status, _, body = self.submit_raw(key, self.job_body(f"blockmark-1 write to {EMAIL}"))
        error = self.assertError(status, body, 422, "pii_blocked")
        self.assertNotIn(EMAIL, json.dumps(error))
        self.assertEqual(self.list_all(key), [])
        self.assertEqual(self.spend(team)["reserved_usd"], 0)
        self.assertEqual(len(self.upstream_log()), before)
        job_id = self.submit(key, self.job_body("blockmark-2 nothing to block"))
        self.assertEqual(self.await_status(key, job_id, FINAL)["status"], "succeeded")

    def test_models_a_team_may_not_use_are_refused_at_submit(self):
        limited = self.make_team("models-limited")
        for model in ("opus", "claude-opus-4-1", "azure/gpt-4o"):
            with self.subTest(model=model):
                status, _, body = self.submit_raw(limited, self.job_body("modelmark", model=model))
                self.assertError(status, body, 400, "invalid_request")
        other = self.make_team(unique("models-any"))
        status, _, body = self.submit_raw(other, self.job_body("modelmark", model="no-such-model-9"))
        self.assertError(status, body, 400, "invalid_request")
        self.assertEqual(self.list_all(limited) + self.list_all(other), [])
        job_id = self.submit(limited, self.job_body("modelmark allowed", model="haiku"))
        job = self.await_status(limited, job_id, FINAL)
        self.assertEqual((job["status"], job["route"]["tier"]), ("succeeded", "haiku"), job)

    def test_x_api_key_header_works_like_bearer(self):
        key = self.make_team(unique("xapikey"))
        status, _, data = self.gw.request("POST", "/v1/jobs", self.job_body("xkeymark"), {"x-api-key": key})
        self.assertEqual(status, 202, data)
        job_id = json.loads(data)["id"]
        status, _, data = self.gw.request("GET", f"/v1/jobs/{job_id}?wait=10", headers={"x-api-key": key})
        self.assertEqual((status, json.loads(data)["status"]), (200, "succeeded"), data)

    def test_a_job_no_provider_can_run_fails_with_the_gateway_error(self):
        team = unique("failing")
        key = self.make_team(team)
        cloud_before = len([r for r in self.upstream_log() if r["locality"] == "cloud"])
        self.fault("ollama", "status_503", 1000)
        job_id = self.submit(key, self.job_body(f"failmark-1 SIN {SIN}", model="auto", task="summarization"))
        job = self.await_status(key, job_id, FINAL)
        self.fault("ollama", "none")
        self.assertEqual(job["status"], "failed", job)
        self.assertEqual(job["error"]["type"], "no_local_provider", job)
        self.assertTrue(job["error"]["message"], job)
        self.assertNotIn("046", job["error"]["message"])
        self.assertIsNone(job["result"])
        self.assertEqual(job["attempts"], 1, "a failed call is an outcome, not a lost worker: no retry")
        self.assertRegex(job["finished_at"], RFC3339_MS)
        self.assertEqual(len([r for r in self.upstream_log() if r["locality"] == "cloud"]), cloud_before)
        self.assertTrue([r for r in self.upstream_log() if "failmark-1" in r["body"]], "ollama was never tried")
        spend = self.await_reserved(team, 0)
        self.assertEqual((spend["spent_usd"], spend["requests"]), (0, 0), spend)
        status, body = self.delete(key, job_id)
        self.assertError(status, body, 409, "conflict")
        self.assertEqual(self.get(key, job_id)["status"], "failed")

    # ---- 12. metrics --------------------------------------------------------------------------------------

    def test_zz_job_gauges_match_the_store_and_histograms_count_runs(self):
        key = self.make_team(unique("metrics"))
        for i in range(3):
            self.await_status(key, self.submit(key, self.job_body(f"metrics job {i}")), "succeeded")
        by_status = {s: 0 for s in STATUSES}
        claims = 0
        for team_key in self.keys.values():
            for job in self.list_all(team_key):
                by_status[job["status"]] += 1
                claims += job["attempts"]
        self.assertGreaterEqual(by_status["succeeded"], 3)
        self.assertEqual((by_status["queued"], by_status["running"]), (0, 0), by_status)
        # The gauges are refreshed from the store once a second.
        last = {}

        def refreshed():
            samples = last["samples"] = self.metrics()
            return {s: metric(samples, "aegis_jobs", status=s) for s in STATUSES} == by_status

        wait_until(refreshed, 5, lambda: f"aegis_jobs to read {by_status}", interval=0.2)
        samples = last["samples"]
        # One observation per claim.
        self.assertGreaterEqual(claims, 3)
        self.assertEqual(metric(samples, "aegis_job_queue_wait_seconds_count"), claims)
        self.assertEqual(metric(samples, "aegis_job_run_seconds_count"), claims)
        self.assertEqual(metric(samples, "aegis_job_retries_total"), 0)


class JobsOneWorker(JobClient, GatewayTestCase):
    gateway_args = ("--demo",)
    config_text = RESILIENCE + """
jobs:
  workers: 1
  max_queue_depth: 2
"""

    def tearDown(self):
        super().tearDown()
        self.fault("anthropic", "none")

    # ---- 3b. a queued job that is cancelled never runs -----------------------------------------------

    def test_cancel_a_queued_job_and_it_never_reaches_a_provider(self):
        team = unique("queued-cancel")
        key = self.make_team(team)
        running = self.hung_job(key, "qcmark-running")
        queued = self.submit(key, self.job_body("qcmark-queued must never be sent"))
        # The submit woke the dispatcher at once; the gauges, read from the store
        # up to a second later, still count the job queued: the only worker is busy.
        wait_until(lambda: metric(self.metrics(), "aegis_jobs", status="queued") == 1, 5, "aegis_jobs{queued} 1")
        self.assertEqual(metric(self.metrics(), "aegis_jobs", status="running"), 1)
        self.assertEqual(self.get(key, queued)["status"], "queued")
        status, job = self.delete(key, queued)
        self.assertEqual(status, 200, job)
        self.assertEqual((job["status"], job["error"]["type"], job["attempts"]), ("cancelled", "cancelled", 0), job)
        self.assertIsNone(job["started_at"])
        self.assertRegex(job["finished_at"], RFC3339_MS)

        # Free the worker; a follow-up job proves the worker claims again and skipped the cancelled one.
        self.assertEqual(self.delete(key, running)[0], 200)
        after = self.submit(key, self.job_body("qcmark-after"))
        self.assertEqual(self.await_status(key, after, FINAL)["status"], "succeeded")
        self.await_upstream("qcmark-after")
        self.assertEqual([r for r in self.upstream_log() if "qcmark-queued" in r["body"]], [])
        job = self.get(key, queued)
        self.assertEqual((job["status"], job["attempts"], job["started_at"], job["route"]),
                         ("cancelled", 0, None, None), job)
        self.await_reserved(team, 0)

    # ---- 2b. a finish wakes a long-poll -------------------------------------------------------------------

    def test_long_poll_is_woken_when_the_job_succeeds(self):
        key = self.make_team(unique("wake-ok"))
        blocker = self.hung_job(key, "wakeok-blocker")
        job_id = self.submit(key, self.job_body("wakeok-job"))
        got = {}

        def poll():
            started = time.monotonic()
            got["job"] = self.get_raw(key, job_id, "?wait=30", timeout=40)
            got["done"] = time.monotonic()
            got["elapsed"] = got["done"] - started

        waiter = threading.Thread(target=poll)
        waiter.start()
        wait_until(lambda: self.waiting_long_polls() == 1, 10, "the GET to be waiting (aegis_job_waiters 1)")
        self.assertTrue(waiter.is_alive(), f"the GET returned while the job was queued: {got}")
        released = time.monotonic()
        self.assertEqual(self.delete(key, blocker)[0], 200)  # the worker now runs the waiting job
        waiter.join(40)
        self.assertFalse(waiter.is_alive())
        status, job = got["job"]
        self.assertEqual(status, 200, job)
        self.assertEqual(job["status"], "succeeded", job)
        self.assertEqual(job["result"]["text"], "Echo: wakeok-job")
        self.assertLess(got["done"] - released, 5, "the waiting GET was not woken when the job finished")

    # ---- 8. queue full ----------------------------------------------------------------------------------

    def test_full_queue_is_429_with_retry_after_and_frees_up(self):
        team = unique("full")
        key = self.make_team(team)
        running = self.hung_job(key, "fullmark-running")
        idem_b = {"Idempotency-Key": "full-b-" + uuid.uuid4().hex}
        b = self.submit(key, self.job_body("fullmark-b"), idem_b)
        c = self.submit(key, self.job_body("fullmark-c"))
        for label, headers in (("plain", None), ("new idempotency key", {"Idempotency-Key": "full-d"})):
            with self.subTest(label):
                status, got, body = self.submit_raw(key, self.job_body("fullmark-d"), headers)
                self.assertError(status, body, 429, "rate_limited")
                self.assertIn("retry-after", got)
                self.assertGreaterEqual(int(got["retry-after"]), 1)
        # A replay of a stored job is answered even when the queue is full.
        status, got, replay = self.submit_raw(key, self.job_body("fullmark-b"), idem_b)
        self.assertEqual((status, replay["id"], got.get("idempotent-replayed")), (202, b, "true"), replay)
        # Sorted: two submits in the same millisecond are listed in id order, not submission order.
        self.assertEqual(sorted(j["id"] for j in self.list_all(key)), sorted([running, b, c]))

        self.assertEqual(self.delete(key, b)[0], 200)
        d = self.submit(key, self.job_body("fullmark-d"), {"Idempotency-Key": "full-d"})
        self.assertEqual(self.delete(key, running)[0], 200)
        for job_id in (c, d):
            self.assertEqual(self.await_status(key, job_id, FINAL)["status"], "succeeded")
        # The refused submits held no reservation.
        spend = self.await_reserved(team, 0)
        self.assertEqual(spend["requests"], 2, spend)


class JobsExpire(JobClient, GatewayTestCase):
    gateway_args = ("--demo",)
    config_text = RESILIENCE + """
jobs:
  workers: 1
  queue_ttl_s: 1
"""

    def test_a_job_queued_past_its_ttl_expires_wakes_its_waiter_and_never_runs(self):
        team = unique("expire")
        key = self.make_team(team)
        blocker = self.hung_job(key, "expmark-blocker")
        blocker_reservation = self.spend(team)["reserved_usd"]
        self.assertGreater(blocker_reservation, 0)
        submitted = time.monotonic()
        job_id = self.submit(key, self.job_body("expmark-queued never sent"))
        self.assertGreater(self.spend(team)["reserved_usd"], blocker_reservation)
        # The expiry sweep runs every few seconds; the waiting GET is answered when it does.
        job = self.get(key, job_id, "?wait=20")
        waited = time.monotonic() - submitted
        self.assertEqual(job["status"], "expired", job)
        self.assertEqual(job["error"]["type"], "expired", job)
        self.assertGreaterEqual(waited, 1.0, "expired before its queue_ttl")
        self.assertLess(waited, 15)
        self.assertEqual((job["attempts"], job["started_at"], job["result"]), (0, None, None), job)
        self.assertRegex(job["finished_at"], RFC3339_MS)
        self.assertAlmostEqual(self.spend(team)["reserved_usd"], blocker_reservation, places=6)
        status, body = self.delete(key, job_id)
        self.assertError(status, body, 409, "conflict")

        self.assertEqual(self.delete(key, blocker)[0], 200)
        after = self.submit(key, self.job_body("expmark-after"))
        self.assertEqual(self.await_status(key, after, FINAL)["status"], "succeeded")
        self.assertEqual([r for r in self.upstream_log() if "expmark-queued" in r["body"]], [])
        self.assertEqual(self.get(key, job_id)["status"], "expired")
        self.await_reserved(team, 0)


class JobsCancelIsNotAProviderFailure(JobClient, unittest.TestCase):
    """The default breaker threshold (3): cancelling jobs must not count against the provider.

    A gateway per test, so one test's cancels cannot hide the other's."""

    def setUp(self):
        self.gw = Gateway(("--demo",), None, "resilience:\n  health_check_interval_s: 0\n")
        self.addCleanup(self.gw.cleanup)
    # DELETE of a running job aborts its provider call: the provider did nothing wrong, so
    # its breaker must not count it and the audit row must name only that provider.

    def cancel_three_running_jobs(self, team):
        key = self.make_team(team)
        ids = []
        for i in range(3):
            job_id = self.hung_job(key, f"{team}-cancelled-{i}")
            status, job = self.delete(key, job_id)
            self.assertEqual((status, job["status"]), (200, "cancelled"), job)
            ids.append(job_id)
        return key, ids

    def test_cancelled_jobs_do_not_open_the_providers_breaker(self):
        key, _ = self.cancel_three_running_jobs("breaker-cancel")
        # Each aborted call has been judged (as cancelled, not as a failure) before the breaker is read.
        wait_until(lambda: metric(self.metrics(), "aegis_provider_attempts_total", provider="anthropic",
                                  outcome="cancelled") == 3, 5, "three cancelled anthropic attempts")
        self.assertEqual(metric(self.metrics(), "aegis_circuit_state", provider="anthropic"), 0)
        job_id = self.submit(key, self.job_body("breakermark after the cancels"))
        job = self.await_status(key, job_id, FINAL)
        self.assertEqual((job["status"], job["route"]["provider"]), ("succeeded", "anthropic"), job)

    def test_a_cancelled_jobs_audit_row_names_only_the_provider_it_reached(self):
        _, ids = self.cancel_three_running_jobs("audit-cancel")
        rows = self.audit_rows("audit-cancel", ids)
        self.assertEqual(set(rows), set(ids))
        for row in rows.values():
            self.assertEqual(row["provider"], "anthropic", row)
            self.assertEqual([step.split(":")[0] for step in row["fallback_path"]], ["anthropic"], row)
            self.assertNotIn("anthropic:upstream_error", row["fallback_path"], row)
        self.assertEqual([r["provider"] for r in self.upstream_log()], ["anthropic"] * 3)


class JobsSurviveKill(JobClient, unittest.TestCase):
    """A gateway killed with SIGKILL; a new one on the same database finishes the work."""

    cancel_leftovers = False

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="aegis-jobs-db-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self.gw = None

    def start(self, jobs_config):
        config = RESILIENCE + f"storage:\n  sqlite_path: {os.path.join(self.dir, 'aegis.db')}\n" + jobs_config
        self.gw = Gateway(("--demo",), None, config)
        gw = self.gw
        self.addCleanup(gw.cleanup)

    def kill(self):
        self.assertEqual(self.gw.stop(sig=signal.SIGKILL), -signal.SIGKILL)

    def test_jobs_survive_sigkill_and_running_ones_run_again(self):
        jobs = "jobs:\n  workers: 2\n"
        self.start(jobs)
        key = self.make_team("crash")
        self.fault("anthropic", "hang", 1000)
        ids = [self.submit(key, self.job_body(f"crashmark-{i}")) for i in range(20)]
        def two_running():
            running = self.list_all(key, "running")
            return running if len(running) == 2 else None

        running = [j["id"] for j in wait_until(two_running, 10, "two workers to be running a hung job each",
                                               interval=0.02)]
        self.assertEqual(len(self.list_all(key, "queued")), 18)
        self.kill()

        self.start(jobs)  # the new demo providers have no faults
        finished = {}
        deadline = time.monotonic() + 30
        for job_id in ids:
            job = self.await_status(key, job_id, FINAL, timeout=max(deadline - time.monotonic(), 1))
            finished[job_id] = job
        self.assertEqual({j["status"] for j in finished.values()}, {"succeeded"},
                         {i: (j["status"], j["error"]) for i, j in finished.items() if j["status"] != "succeeded"})
        for job_id, job in finished.items():
            with self.subTest(job=job_id):
                self.assertEqual(job["attempts"], 2 if job_id in running else 1, job)
                n = ids.index(job_id)
                self.assertEqual(job["result"]["text"], f"Echo: crashmark-{n}")
        samples = self.metrics()
        self.assertEqual(metric(samples, "aegis_job_retries_total"), 2)
        self.assertGreaterEqual(metric(samples, "aegis_job_run_seconds_count"), 20)
        self.assertIsNotNone(metric(samples, "aegis_job_queue_wait_seconds_count"))

    def test_running_job_fails_with_worker_lost_when_attempts_are_used_up(self):
        jobs = "jobs:\n  workers: 1\n  max_attempts: 1\n"
        self.start(jobs)
        key = self.make_team("lost")
        lost = self.hung_job(key, "lostmark-1")
        waiting = self.submit(key, self.job_body("lostmark-2"))
        self.kill()

        self.start(jobs)
        job = self.await_status(key, lost, FINAL, timeout=10)
        self.assertEqual((job["status"], job["error"]["type"], job["attempts"]), ("failed", "worker_lost", 1), job)
        self.assertIsNone(job["result"])
        self.assertRegex(job["finished_at"], RFC3339_MS)
        # The queued job had not been claimed yet: it runs normally on the new process.
        job = self.await_status(key, waiting, FINAL, timeout=10)
        self.assertEqual((job["status"], job["attempts"]), ("succeeded", 1), job)
        self.assertEqual(metric(self.metrics(), "aegis_job_retries_total"), 0)


if __name__ == "__main__":
    unittest.main()
