"""The SDK against a real gateway (`aegis serve --demo`): every call goes
through the HTTP API of docs/JOBS.md (and /v1/rag) to the simulated providers.

Needs AEGIS_BIN (the built binary) and AEGIS_SOURCE_DIR (for the shared
harness tests/integration/aegis_harness.py); CTest sets both. Without a
binary the tests are skipped, so `python3 -m unittest discover` works on a
machine that only has the SDK.
"""
import datetime as dt
import importlib.util
import os
import sys
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

from aegis_client import (AuthError, Blocked, BudgetExceeded, Client, Conflict, InvalidRequest,  # noqa: E402
                          JobFailed, NotFound, RateLimited, Timeout)
from aegis_client import Deletion, Document  # noqa: E402

SOURCE_DIR = os.environ.get("AEGIS_SOURCE_DIR") or os.path.join(HERE, "..", "..", "..")
HARNESS = os.path.join(SOURCE_DIR, "tests", "integration", "aegis_harness.py")
AEGIS_BIN = os.environ.get("AEGIS_BIN") or os.path.join(SOURCE_DIR, "build", "aegis")
# Under CTest a missing binary is a failure, not a skip.
REQUIRED = "AEGIS_BIN" in os.environ


def load_harness():
    spec = importlib.util.spec_from_file_location("aegis_harness", HARNESS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Breakers off (injected faults must only change the request they target);
# team "blocked" refuses e-mail addresses (422 pii_blocked at submit).
CONFIG = """
resilience:
  failure_threshold: 1000
pii:
  team_block_entities:
    blocked: [EMAIL_ADDRESS]
"""
PROVIDERS = ("anthropic", "azure", "ollama")
FINAL = {"succeeded", "failed", "cancelled", "expired"}
ADMIN_KEY = "sdk-test-admin-" + uuid.uuid4().hex[:8]


def new_key(gw, team, budget, clearance="RESTRICTED"):
    """Creates the team (clearance RESTRICTED unless told) and returns a new virtual key for it."""
    status, body = gw.admin("POST", "/admin/v1/teams",
                            {"name": team, "monthly_budget_usd": budget, "clearance": clearance})
    assert status == 201, (status, body)
    status, body = gw.admin("POST", "/admin/v1/keys", {"team": team})
    assert status == 201, (status, body)
    return body["key"]


def start_gateway(config_text):
    harness = load_harness()
    harness.AEGIS_BIN = AEGIS_BIN
    return harness.Gateway(["--demo"], config_text=config_text, admin_key=ADMIN_KEY)


@unittest.skipUnless(REQUIRED or os.path.exists(AEGIS_BIN), f"no aegis binary at {AEGIS_BIN}")
class ClientAgainstGateway(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.gw = start_gateway(CONFIG)
        try:
            cls.url = f"http://127.0.0.1:{cls.gw.port}"
            cls.clients = {}
            for team, budget in [("t1", 100), ("t2", 100), ("lister", 100), ("blocked", 100),
                                 ("tiny", 0.000001)]:
                cls.clients[team] = Client(cls.url, new_key(cls.gw, team, budget), timeout=30)
        except BaseException:
            cls.gw.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()

    @property
    def c1(self):
        return self.clients["t1"]

    def fault(self, mode, providers=PROVIDERS):
        for provider in providers:
            # rate 1.0: every request to the provider while the fault is set.
            body = {"provider": provider, "mode": mode} if mode == "none" else {
                "provider": provider, "mode": mode, "rate": 1.0}
            status, body = self.gw.admin("POST", "/admin/v1/demo/faults", body)
            self.assertEqual(status, 200, body)

    def faulty(self, mode, providers=PROVIDERS):
        """Sets the fault now and clears it (on every provider) when the test ends."""
        self.addCleanup(self.fault, "none")
        self.fault(mode, providers)

    def assertUtc(self, value):
        self.assertIsInstance(value, dt.datetime)
        self.assertEqual(value.utcoffset(), dt.timedelta(0))

    # ------------------------------------------------------------ success

    def test_submit_then_wait_succeeds(self):
        submitted = self.c1.submit("summarize",
                                   messages=[{"role": "system", "content": "Be brief."},
                                             {"role": "user", "content": "Summarize: the quick brown fox."}],
                                   max_tokens=64, metadata={"ticket": "T-1234"})
        self.assertEqual(submitted.status, "queued")
        self.assertTrue(submitted.id.startswith("job_"), submitted.id)
        self.assertIn(submitted.classification, ("PUBLIC", "INTERNAL", "CONFIDENTIAL", "RESTRICTED"))
        self.assertUtc(submitted.created_at)
        self.assertLess(abs((dt.datetime.now(dt.timezone.utc) - submitted.created_at).total_seconds()), 60)

        job = self.c1.wait(submitted.id, timeout=60)
        self.assertEqual(job.status, "succeeded", job.raw)
        self.assertEqual(job.id, submitted.id)
        self.assertTrue(job.result.text.strip())
        self.assertGreater(job.result.input_tokens, 0)
        self.assertGreater(job.result.output_tokens, 0)
        self.assertGreater(job.result.cost_usd, 0)
        self.assertIsNone(job.error)
        self.assertIn(job.route.provider, PROVIDERS)
        self.assertTrue(job.route.model)
        self.assertEqual(job.task_type, "summarize")
        self.assertEqual(job.metadata, {"ticket": "T-1234"})
        self.assertGreaterEqual(job.attempts, 1)
        for t in (job.created_at, job.started_at, job.finished_at):
            self.assertUtc(t)
        self.assertLessEqual(job.created_at, job.started_at)
        self.assertLessEqual(job.started_at, job.finished_at)
        self.assertEqual(self.c1.get(job.id).raw, job.raw)  # a finished job no longer changes

    def test_run_returns_the_succeeded_job(self):
        job = self.c1.run("qa", prompt="What is the capital of France?", max_tokens=32, timeout=60)
        self.assertEqual(job.status, "succeeded")
        self.assertTrue(job.result.text.strip())
        self.assertGreater(job.result.cost_usd, 0)

    def test_classification_is_a_floor(self):
        job = self.c1.submit("qa", prompt="Nothing sensitive here.", max_tokens=16, classification="CONFIDENTIAL")
        self.assertIn(job.classification, ("CONFIDENTIAL", "RESTRICTED"))
        self.assertEqual(self.c1.wait(job.id, timeout=60).classification, job.classification)

    def test_long_poll_answers_as_soon_as_the_job_finishes(self):
        job = self.c1.submit("qa", prompt="Long poll me.", max_tokens=16)
        started = time.monotonic()
        got = self.c1.get(job.id, wait=30)
        self.assertLess(time.monotonic() - started, 20)
        self.assertIn(got.status, FINAL, got.raw)

    # ------------------------------------------------------------ a job that cannot finish

    def test_hung_job_long_poll_timeout_and_cancel(self):
        # Every simulated provider hangs: the job stays queued/running until cancelled.
        self.faulty("hang")
        job = self.c1.submit("qa", prompt="This provider call will hang.", max_tokens=16)

        started = time.monotonic()
        polled = self.c1.get(job.id, wait=1.0)
        elapsed = time.monotonic() - started
        self.assertIn(polled.status, ("queued", "running"), polled.raw)
        self.assertGreaterEqual(elapsed, 0.9)  # the server held the answer for ?wait=1
        self.assertLess(elapsed, 10)

        # wait() long-polls: the server holds each GET, so a short poll_interval does not mean many requests.
        calls = []
        counting = Client(self.url, self.c1.api_key)
        plain_get = counting.get
        counting.get = lambda *a, **kw: calls.append(kw.get("wait")) or plain_get(*a, **kw)
        started = time.monotonic()
        with self.assertRaises(Timeout) as ctx:
            counting.wait(job.id, timeout=1.5, poll_interval=0.01)
        self.assertGreaterEqual(time.monotonic() - started, 1.4)
        self.assertLess(time.monotonic() - started, 10)
        self.assertLessEqual(len(calls), 3, calls)
        self.assertAlmostEqual(calls[0], 1.5, delta=0.1)
        self.assertEqual(ctx.exception.job_id, job.id)
        self.assertIn(ctx.exception.job.status, ("queued", "running"))

        with self.assertRaises(Timeout):
            self.c1.wait(job.id, timeout=0.0)

        cancelled = self.c1.cancel(job.id)
        self.assertEqual(cancelled.status, "cancelled", cancelled.raw)
        self.assertEqual(cancelled.error.type, "cancelled")
        self.assertUtc(cancelled.finished_at)
        with self.assertRaises(Conflict) as ctx:
            self.c1.cancel(job.id)
        self.assertEqual(ctx.exception.status, 409)
        self.assertEqual(self.c1.get(job.id).status, "cancelled")
        # wait() returns a final job whatever its status; run() would raise.
        self.assertEqual(self.c1.wait(job.id, timeout=5).status, "cancelled")

    def test_cancel_right_after_submit(self):
        self.faulty("hang")
        job = self.c1.submit("qa", prompt="Cancel me at once.", max_tokens=16)
        cancelled = self.c1.cancel(job.id)  # from queued or from running: both end cancelled
        self.assertEqual(cancelled.status, "cancelled", cancelled.raw)
        self.assertIsNone(cancelled.result)
        with self.assertRaises(Conflict):
            self.c1.cancel(job.id)

    def test_cancel_of_a_finished_job_is_a_conflict(self):
        job = self.c1.run("qa", prompt="Finish first.", max_tokens=16, timeout=60)
        with self.assertRaises(Conflict):
            self.c1.cancel(job.id)

    # ------------------------------------------------------------ failures

    def test_run_raises_job_failed_when_every_provider_fails(self):
        self.faulty("status_500")
        with self.assertRaises(JobFailed) as ctx:
            self.c1.run("qa", prompt="Every upstream answers 500.", max_tokens=16, timeout=120)
        self.assertNotIsInstance(ctx.exception, Blocked)
        job = ctx.exception.job
        self.assertEqual(job.status, "failed", job.raw)
        self.assertTrue(job.error.type)
        self.assertEqual(ctx.exception.type, job.error.type)
        self.assertIsNone(job.result)

    def test_run_raises_blocked_when_restricted_data_has_no_local_provider(self):
        self.faulty("status_500", providers=("ollama",))
        with self.assertRaises(Blocked) as ctx:
            self.c1.run("qa", prompt="Restricted content stays local.", max_tokens=16,
                        classification="RESTRICTED", timeout=120)
        self.assertEqual(ctx.exception.type, "no_local_provider")
        self.assertEqual(ctx.exception.job.status, "failed")
        self.assertIsNone(ctx.exception.status)

    def test_pii_blocked_at_submit(self):
        with self.assertRaises(Blocked) as ctx:
            self.clients["blocked"].submit("qa", prompt="Mail jennifer.walsh@acme-mail.com the report.",
                                           max_tokens=16)
        self.assertEqual((ctx.exception.status, ctx.exception.type), (422, "pii_blocked"))
        self.assertIsNone(ctx.exception.job)
        self.assertNotIn("jennifer.walsh", ctx.exception.message)
        self.assertTrue(ctx.exception.request_id)

    def test_budget_exceeded_at_submit(self):
        with self.assertRaises(BudgetExceeded) as ctx:
            self.clients["tiny"].submit("qa", prompt="Too expensive for this team.", max_tokens=256)
        self.assertEqual((ctx.exception.status, ctx.exception.type), (402, "budget_exceeded"))
        self.assertTrue(ctx.exception.request_id)
        self.assertEqual(len(self.clients["tiny"].list()), 0)  # nothing was queued

    def test_wrong_key_is_an_auth_error(self):
        bad = Client(self.url, "sk-aegis-not-a-real-key")
        with self.assertRaises(AuthError) as ctx:
            bad.submit("qa", prompt="hi")
        self.assertEqual(ctx.exception.status, 401)
        with self.assertRaises(AuthError):
            bad.list()
        with self.assertRaises(AuthError):
            bad.get("job_0000000000000000000000000000000000000000000")

    def test_another_teams_job_is_not_found(self):
        job = self.c1.submit("qa", prompt="Team one only.", max_tokens=16)
        other = self.clients["t2"]
        with self.assertRaises(NotFound) as theirs:
            other.get(job.id)
        with self.assertRaises(NotFound) as missing:
            other.get("job_" + "0" * 44)
        self.assertEqual(theirs.exception.status, 404)
        # No existence oracle: the message differs only by the id it names.
        self.assertEqual(theirs.exception.message.replace(job.id, "<id>"),
                         missing.exception.message.replace("job_" + "0" * 44, "<id>"))
        with self.assertRaises(NotFound):
            other.cancel(job.id)
        with self.assertRaises(NotFound):
            other.wait(job.id, timeout=5)
        self.assertNotIn(job.id, [j.id for j in other.iter_jobs()])
        self.assertEqual(self.c1.wait(job.id, timeout=60).status, "succeeded")  # untouched by t2's cancel

    def test_invalid_requests(self):
        with self.assertRaises(InvalidRequest) as ctx:
            self.c1.submit("not a task type!", prompt="hi")
        self.assertEqual((ctx.exception.status, ctx.exception.type), (400, "invalid_request"))
        with self.assertRaises(InvalidRequest):
            self.c1.submit("qa", prompt="hi", max_tokens=0)
        with self.assertRaises(InvalidRequest):
            self.c1.submit("qa", messages=[{"role": "wizard", "content": "hi"}])
        with self.assertRaises(InvalidRequest):
            self.c1.list(status="bogus")
        with self.assertRaises(InvalidRequest):
            self.c1.list(limit=0)

    # ------------------------------------------------------------ idempotency and listing

    def test_idempotency_key_returns_the_first_job(self):
        key = "sdk-" + uuid.uuid4().hex
        first = self.c1.submit("qa", prompt="Only once.", max_tokens=16, idempotency_key=key)
        again = self.c1.submit("qa", prompt="Only once.", max_tokens=16, idempotency_key=key)
        self.assertEqual(again.id, first.id)
        self.assertEqual(again.created_at, first.created_at)
        self.assertNotEqual(self.c1.submit("qa", prompt="Only once.", max_tokens=16,
                                           idempotency_key=key + "-2").id, first.id)
        # Keys are per team: the same key from another team is a new job.
        self.assertNotEqual(self.clients["t2"].submit("qa", prompt="Only once.", max_tokens=16,
                                                      idempotency_key=key).id, first.id)
        # The replay is marked on the wire (the SDK returns the same Job either way).
        status, headers, _ = self.gw.request(
            "POST", "/v1/jobs", {"task_type": "qa", "prompt": "Only once.", "max_tokens": 16},
            {"authorization": f"Bearer {self.c1.api_key}", "idempotency-key": key})
        self.assertEqual(status, 202)
        self.assertEqual(headers.get("idempotent-replayed"), "true")
        self.assertEqual(self.c1.wait(first.id, timeout=60).status, "succeeded")
        self.assertEqual(len([j for j in self.c1.iter_jobs() if j.id == first.id]), 1)

    def test_list_and_iter_jobs_paginate_oldest_first(self):
        client = self.clients["lister"]
        ids = []
        for i in range(5):
            ids.append(client.submit("qa", prompt=f"List item {i}.", max_tokens=16).id)
            time.sleep(0.002)  # distinct created_at milliseconds: "oldest first" is then one order
        for job_id in ids:
            self.assertEqual(client.wait(job_id, timeout=60).status, "succeeded")

        page = client.list(limit=2)
        self.assertEqual([j.id for j in page], ids[:2])
        self.assertTrue(page.has_more)
        self.assertTrue(page.next_cursor)
        page2 = client.list(limit=2, cursor=page.next_cursor)
        self.assertEqual([j.id for j in page2], ids[2:4])
        page3 = client.list(limit=2, cursor=page2.next_cursor)
        self.assertEqual([j.id for j in page3], ids[4:])
        self.assertFalse(page3.has_more)
        self.assertIsNone(page3.next_cursor)

        self.assertEqual([j.id for j in client.iter_jobs(page_size=2)], ids)
        self.assertEqual([j.id for j in client.iter_jobs(status="succeeded", page_size=3)], ids)
        self.assertEqual(list(client.iter_jobs(status="queued")), [])
        everything = client.list()
        self.assertEqual([j.id for j in everything], ids)
        self.assertFalse(everything.has_more)
        for job in everything:
            self.assertEqual(job.status, "succeeded")
            self.assertTrue(job.result.text)


@unittest.skipUnless(REQUIRED or os.path.exists(AEGIS_BIN), f"no aegis binary at {AEGIS_BIN}")
class QueueLimits(unittest.TestCase):
    """One worker and room for one queued job: with every provider hanging, the
    first job holds the worker, the second waits in the queue, a third is 429."""

    @classmethod
    def setUpClass(cls):
        cls.gw = start_gateway("jobs:\n  max_queue_depth: 1\n  workers: 1\n")
        try:
            cls.client = Client(f"http://127.0.0.1:{cls.gw.port}", new_key(cls.gw, "q", 100), timeout=30)
        except BaseException:
            cls.gw.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()

    def test_full_queue_is_rate_limited_and_a_queued_job_cancels_without_running(self):
        for provider in PROVIDERS:
            status, body = self.gw.admin("POST", "/admin/v1/demo/faults",
                                         {"provider": provider, "mode": "hang", "rate": 1.0})
            self.assertEqual(status, 200, body)
        running = self.client.submit("qa", prompt="Holds the only worker.", max_tokens=16)
        deadline = time.monotonic() + 10
        while self.client.get(running.id).status != "running":
            self.assertLess(time.monotonic(), deadline, "the first job never started")
            time.sleep(0.02)
        queued = self.client.submit("qa", prompt="Waits in the queue.", max_tokens=16)

        with self.assertRaises(RateLimited) as ctx:
            self.client.submit("qa", prompt="No room.", max_tokens=16)
        self.assertEqual((ctx.exception.status, ctx.exception.type), (429, "rate_limited"))
        self.assertIsNotNone(ctx.exception.retry_after)
        self.assertGreater(ctx.exception.retry_after, 0)

        with self.assertRaises(Timeout) as waited:
            self.client.wait(queued.id, timeout=0.3)
        self.assertEqual(waited.exception.job.status, "queued")

        cancelled = self.client.cancel(queued.id)
        self.assertEqual(cancelled.status, "cancelled")
        self.assertEqual(cancelled.attempts, 0)
        self.assertIsNone(cancelled.started_at)  # cancelled from the queue: it never ran
        self.assertEqual(self.client.cancel(running.id).status, "cancelled")
        # Both slots are free again.
        self.client.submit("qa", prompt="Room again.", max_tokens=16)
        self.assertEqual([j.id for j in self.client.iter_jobs(status="cancelled")], [running.id, queued.id])


# The demo's embeddings are feature-hashed bags of words: a query in a document's own words finds it first.
PAYROLL = "Payroll record: employee SIN 046 454 286 is paid on the fifteenth."
CAFETERIA = "The cafeteria serves lunch at noon on the third floor every weekday."
ROADMAP = "The roadmap for next quarter moves the billing service to the new cluster."


@unittest.skipUnless(REQUIRED or os.path.exists(AEGIS_BIN), f"no aegis binary at {AEGIS_BIN}")
class RagAgainstGateway(unittest.TestCase):
    """client.rag against the gateway's embedded store and simulated embedders."""

    @classmethod
    def setUpClass(cls):
        cls.gw = start_gateway(None)
        try:
            cls.url = f"http://127.0.0.1:{cls.gw.port}"
            cls.team_key = new_key(cls.gw, "rag", 100)
            cls.client = Client(cls.url, cls.team_key, timeout=30)
            cls.public = Client(cls.url, new_key(cls.gw, "rag-public", 100, clearance="PUBLIC"), timeout=30)
            cls.other = Client(cls.url, new_key(cls.gw, "rag-other", 100), timeout=30)
        except BaseException:
            cls.gw.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()

    def assertUtcNow(self, value):
        self.assertIsInstance(value, dt.datetime)
        self.assertEqual(value.utcoffset(), dt.timedelta(0))
        self.assertLess(abs((dt.datetime.now(dt.timezone.utc) - value).total_seconds()), 60)

    def seed(self, client, collection):
        """A RESTRICTED (Canadian SIN), a declared-PUBLIC and an INTERNAL document."""
        return (client.rag.ingest(collection, text=PAYROLL, source="payroll.txt", metadata={"owner": "hr"}),
                client.rag.ingest(collection, text=CAFETERIA, source="cafeteria.txt", classification="PUBLIC"),
                client.rag.ingest(collection, chunks=[ROADMAP]))

    def test_ingest_gives_each_chunk_a_level_and_query_finds_the_text(self):
        payroll, cafeteria, roadmap = self.seed(self.client, "handbook")
        for doc in (payroll, cafeteria, roadmap):
            self.assertIsInstance(doc, Document)
            self.assertTrue(doc.document_id.startswith("doc_"), doc.document_id)
        self.assertEqual(len({payroll.document_id, cafeteria.document_id, roadmap.document_id}), 3)
        self.assertEqual([(c.index, c.classification) for c in payroll.chunks], [(0, "RESTRICTED")])
        self.assertEqual(payroll.classification, "RESTRICTED")
        self.assertEqual([c.classification for c in cafeteria.chunks], ["PUBLIC"])
        self.assertEqual(cafeteria.classification, "PUBLIC")
        self.assertIn(roadmap.classification, ("PUBLIC", "INTERNAL"))

        # A declared level is a floor: it never lowers what the gateway finds.
        floored = self.client.rag.ingest("handbook-floor", chunks=[PAYROLL, "Nothing here."], classification="PUBLIC")
        self.assertEqual([c.classification for c in floored.chunks], ["RESTRICTED", "PUBLIC"])
        self.assertEqual(floored.classification, "RESTRICTED")

        result = self.client.rag.query("handbook", PAYROLL, top_k=1)
        self.assertEqual(len(result), 1)
        best = result.chunks[0]
        self.assertEqual((best.document_id, best.index, best.text), (payroll.document_id, 0, PAYROLL))
        self.assertEqual((best.classification, best.source), ("RESTRICTED", "payroll.txt"))
        self.assertTrue(best.id.startswith("chk_"), best.id)
        self.assertEqual(result.classification, "RESTRICTED")  # the query text holds the SIN too

        everything = self.client.rag.query("handbook", "cafeteria lunch noon", top_k=10)
        self.assertEqual(everything.chunks[0].document_id, cafeteria.document_id)
        self.assertEqual(everything.chunks[0].text, CAFETERIA)
        self.assertEqual(len(everything), 3)  # RESTRICTED clearance: every chunk of the collection
        scores = [c.score for c in everything]
        self.assertEqual(scores, sorted(scores, reverse=True))
        self.assertEqual(len(self.client.rag.query("handbook", "cafeteria")), 3)  # server default top_k is 5
        # A metadata filter: only the payroll document carries owner=hr.
        owned = self.client.rag.query("handbook", "cafeteria lunch noon", top_k=10, filter={"owner": ["hr", "it"]})
        self.assertEqual([c.document_id for c in owned], [payroll.document_id])

        got = self.client.rag.get(payroll.document_id)
        self.assertEqual((got.document_id, got.collection, got.source, got.classification),
                         (payroll.document_id, "handbook", "payroll.txt", "RESTRICTED"))
        self.assertEqual(got.metadata, {"owner": "hr"})
        self.assertEqual(got.chunks, payroll.chunks)
        self.assertUtcNow(got.created_at)
        listed = self.client.rag.list("handbook")
        self.assertEqual(sorted(d.document_id for d in listed),
                         sorted([payroll.document_id, cafeteria.document_id, roadmap.document_id]))
        self.assertNotIn(PAYROLL, repr([d.raw for d in listed]))  # listing never returns text
        self.assertEqual(self.client.rag.list("no-such-collection"), [])

    def test_a_public_clearance_never_sees_a_restricted_chunk(self):
        payroll, cafeteria, _ = self.seed(self.public, "public-handbook")
        self.assertEqual(payroll.classification, "RESTRICTED")  # stored, just never retrieved for this team
        for question in (PAYROLL, "payroll SIN employee fifteenth", "046 454 286", "cafeteria lunch"):
            result = self.public.rag.query("public-handbook", question, top_k=10)
            self.assertGreater(len(result), 0, question)
            for chunk in result:
                self.assertEqual(chunk.classification, "PUBLIC", question)
                self.assertNotEqual(chunk.document_id, payroll.document_id, question)
                self.assertNotIn("454", chunk.text)
        visible = {c.id for c in self.public.rag.query("public-handbook", "cafeteria", top_k=10)}
        answer = self.public.rag.answer("public-handbook", "When is the payroll SIN paid?", top_k=10, max_tokens=64)
        self.assertTrue(answer.chunk_ids)
        self.assertLessEqual(set(answer.chunk_ids), visible)
        self.assertNotIn("454", answer.answer)  # the demo model echoes its context: the SIN was never in it

        # A key narrowed to PUBLIC on a RESTRICTED team sees what a PUBLIC team would; the team key sees all.
        restricted, _, _ = self.seed(self.client, "narrowed")
        status, narrowed = self.gw.admin("POST", "/admin/v1/keys", {"team": "rag", "clearance": "PUBLIC"})
        self.assertEqual(status, 201, narrowed)
        narrow = Client(self.url, narrowed["key"])
        hits = narrow.rag.query("narrowed", PAYROLL, top_k=10)
        self.assertTrue(hits.chunks)
        self.assertEqual({c.classification for c in hits}, {"PUBLIC"})
        self.assertIn(restricted.document_id, [c.document_id for c in self.client.rag.query("narrowed", PAYROLL)])

    def test_answer_with_a_restricted_chunk_runs_on_the_local_model(self):
        payroll, _, _ = self.seed(self.client, "answers")
        top = self.client.rag.query("answers", "When is the payroll SIN paid?", top_k=2)
        answer = self.client.rag.answer("answers", "When is the payroll SIN paid?", top_k=2, max_tokens=64)
        self.assertTrue(answer.answer.strip())
        self.assertEqual(answer.chunk_ids, [c.id for c in top])
        self.assertIn(payroll.document_id, [c.document_id for c in top])
        self.assertEqual(answer.classification, "RESTRICTED")
        self.assertEqual(answer.provider, "ollama")
        self.assertTrue(answer.model)
        self.assertEqual((answer.route.provider, answer.route.model), (answer.provider, answer.model))
        self.assertIn("local", answer.route.reason)
        self.assertGreater(answer.input_tokens, 0)
        self.assertGreater(answer.output_tokens, 0)
        self.assertGreater(answer.cost_usd, 0)

    def test_a_streamed_answer_gives_its_chunks_then_the_text_then_done(self):
        self.seed(self.client, "streamed")
        whole = self.client.rag.answer("streamed", "When is the payroll SIN paid?", top_k=2, max_tokens=64)
        events = list(self.client.rag.answer_stream("streamed", "When is the payroll SIN paid?", top_k=2,
                                                    max_tokens=64))
        kinds = [e for e, _ in events]
        self.assertEqual(kinds[0], "chunks")
        self.assertEqual(kinds[-1], "done")
        self.assertEqual(set(kinds[1:-1]), {"delta"})
        self.assertEqual(events[0][1]["chunk_ids"], whole.chunk_ids)
        # The simulator answers the same prompt the same way: the deltas are the whole answer.
        self.assertEqual("".join(d["text"] for e, d in events if e == "delta"), whole.answer)
        self.assertEqual(events[-1][1]["provider"], "ollama")  # a RESTRICTED chunk in context stays local
        with self.assertRaises(InvalidRequest):
            list(self.client.rag.answer_stream("streamed", "", top_k=2))

    def test_delete_removes_the_document_from_queries_and_lookups(self):
        payroll, cafeteria, _ = self.seed(self.client, "erase")
        self.assertIn(payroll.document_id, [c.document_id for c in self.client.rag.query("erase", PAYROLL)])
        gone = self.client.rag.delete(payroll.document_id)
        self.assertIsInstance(gone, Deletion)
        self.assertEqual((gone.document_id, gone.deleted, gone.chunks_deleted), (payroll.document_id, True, 1))
        hits = self.client.rag.query("erase", PAYROLL, top_k=10)
        self.assertEqual(len(hits), 2)
        self.assertNotIn(payroll.document_id, [c.document_id for c in hits])
        self.assertNotIn(PAYROLL, [c.text for c in hits])
        with self.assertRaises(NotFound) as ctx:
            self.client.rag.get(payroll.document_id)
        self.assertEqual((ctx.exception.status, ctx.exception.type), (404, "not_found"))
        self.assertTrue(ctx.exception.request_id)
        with self.assertRaises(NotFound):
            self.client.rag.delete(payroll.document_id)
        self.assertNotIn(payroll.document_id, [d.document_id for d in self.client.rag.list("erase")])
        self.assertEqual(self.client.rag.get(cafeteria.document_id).document_id, cafeteria.document_id)

    def test_another_teams_documents_do_not_exist_for_it(self):
        payroll, cafeteria, _ = self.seed(self.client, "private")
        for doc_id in (payroll.document_id, cafeteria.document_id):
            with self.assertRaises(NotFound):
                self.other.rag.get(doc_id)
            with self.assertRaises(NotFound):
                self.other.rag.delete(doc_id)
        self.assertEqual(len(self.other.rag.query("private", CAFETERIA)), 0)
        self.assertEqual(self.other.rag.list("private"), [])
        self.assertEqual(self.client.rag.get(payroll.document_id).classification, "RESTRICTED")  # untouched

    def test_errors(self):
        with self.assertRaises(InvalidRequest) as ctx:
            self.client.rag.ingest("bad name!", text="x")
        self.assertEqual((ctx.exception.status, ctx.exception.type), (400, "invalid_request"))
        with self.assertRaises(InvalidRequest):
            self.client.rag.ingest("c", text="x", classification="SECRET")
        with self.assertRaises(InvalidRequest):
            self.client.rag.query("c", "x", top_k=0)
        with self.assertRaises(InvalidRequest):
            self.client.rag.answer("c", "")
        with self.assertRaises(InvalidRequest) as big:
            self.client.rag.ingest("c", text="word " * 300_000)
        self.assertEqual((big.exception.status, big.exception.type), (413, "payload_too_large"))
        self.assertEqual(self.client.rag.list("c"), [])
        with self.assertRaises(NotFound):
            self.client.rag.get("doc_000000000000000000000000")
        stranger = Client(self.url, "sk-aegis-not-a-real-key")
        with self.assertRaises(AuthError) as auth:
            stranger.rag.query("handbook", "x")
        self.assertEqual(auth.exception.status, 401)
        with self.assertRaises(AuthError):
            stranger.rag.ingest("handbook", text="x")


if __name__ == "__main__":
    unittest.main()
