"""Client logic without a gateway: parsing, error mapping, backoff, long-poll
bookkeeping. HTTP goes to a scripted in-process server; time is a fake clock,
so nothing here sleeps for real."""
import datetime as dt
import http.server
import json
import os
import socket
import sys
import threading
import unittest
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import aegis_client  # noqa: E402
from aegis_client import (AegisError, Answer, AuthError, Blocked, BudgetExceeded, Client, Conflict,  # noqa: E402
                          ConnectionFailed, Deletion, Document, DocumentChunk, InvalidRequest, Job, JobFailed,
                          JobPage, NotFound, QueryResult, RateLimited, RetrievedChunk, Route, Timeout, Unavailable)
from aegis_client.client import (backoff_delay, error_from_response, format_wait,  # noqa: E402
                                 parse_retry_after)
from aegis_client.models import parse_route_header, parse_time  # noqa: E402

UTC = dt.timezone.utc

FULL_JOB = {
    "id": "job_0192a",
    "status": "succeeded",
    "classification": "INTERNAL",
    "task_type": "summarize",
    "metadata": {"ticket": "T-1234"},
    "route": {"tier": "sonnet", "provider": "anthropic", "model": "claude-sonnet-4-5", "reason": "tier sonnet"},
    "result": {"text": "Echo: hi", "usage": {"input_tokens": 12, "output_tokens": 40}, "cost_usd": 0.000636},
    "error": None,
    "attempts": 1,
    "created_at": "2026-11-27T14:45:52.123Z",
    "started_at": "2026-11-27T14:45:52.200Z",
    "finished_at": "2026-11-27T14:45:53.001Z",
}


def job_json(status, id="job_1", error=None, **extra):
    out = {"id": id, "status": status, "classification": "INTERNAL", "created_at": "2026-11-27T14:45:52.123Z",
           "route": None, "result": None, "error": error, "attempts": 0, "started_at": None,
           "finished_at": None, "task_type": "t", "metadata": {}}
    out.update(extra)
    return out


def error_body(type_, message="nope", request_id="req_abc"):
    return {"error": {"type": type_, "message": message, "request_id": request_id}}


DROP = object()  # close the connection without an answer


class ScriptedServer:
    """Answers each request with the next scripted (status, headers, body) and records what came in."""

    def __init__(self):
        self.script = []
        self.requests = []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self):
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                parsed = urllib.parse.urlsplit(self.path)
                with outer.lock:
                    outer.requests.append({
                        "method": self.command, "path": parsed.path,
                        "query": dict(urllib.parse.parse_qsl(parsed.query)),
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": json.loads(body) if body else None,
                    })
                    step = outer.script.pop(0) if outer.script else (500, {}, {"error": {"type": "script_empty"}})
                if step is DROP:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                status, headers, payload = step
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _handle

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class FakeTime:
    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        assert seconds >= 0, seconds
        self.sleeps.append(seconds)
        self.now += seconds


class ParsingTest(unittest.TestCase):
    def test_full_job(self):
        job = Job.from_json(FULL_JOB)
        self.assertEqual(job.id, "job_0192a")
        self.assertEqual(job.status, "succeeded")
        self.assertTrue(job.is_final)
        self.assertTrue(job.succeeded)
        self.assertEqual(job.route.provider, "anthropic")
        self.assertEqual(job.route.model, "claude-sonnet-4-5")
        self.assertEqual(job.result.text, "Echo: hi")
        self.assertEqual((job.result.input_tokens, job.result.output_tokens), (12, 40))
        self.assertAlmostEqual(job.result.cost_usd, 0.000636)
        self.assertIsNone(job.error)
        self.assertEqual(job.attempts, 1)
        self.assertEqual(job.metadata, {"ticket": "T-1234"})
        self.assertEqual(job.created_at, dt.datetime(2026, 11, 27, 14, 45, 52, 123000, tzinfo=UTC))
        self.assertEqual(job.finished_at.utcoffset(), dt.timedelta(0))
        self.assertIs(job.raw, FULL_JOB)

    def test_accepted_answer_has_defaults_for_what_it_lacks(self):
        job = Job.from_json({"id": "job_2", "status": "queued", "classification": "CONFIDENTIAL",
                             "created_at": "2026-11-27T14:45:52.000Z"})
        self.assertFalse(job.is_final)
        self.assertEqual(job.classification, "CONFIDENTIAL")
        self.assertIsNone(job.route)
        self.assertIsNone(job.result)
        self.assertIsNone(job.started_at)
        self.assertEqual(job.metadata, {})
        self.assertEqual(job.attempts, 0)

    def test_failed_job_error(self):
        job = Job.from_json(job_json("failed", error={"type": "upstream_timeout", "message": "slow"}))
        self.assertTrue(job.is_final)
        self.assertEqual(job.error.type, "upstream_timeout")
        self.assertEqual(job.error.message, "slow")

    def test_every_final_status(self):
        for status, final in [("queued", False), ("running", False), ("succeeded", True), ("failed", True),
                              ("cancelled", True), ("expired", True)]:
            self.assertEqual(Job.from_json(job_json(status)).is_final, final, status)

    def test_parse_time_is_utc(self):
        self.assertEqual(parse_time("2026-01-02T03:04:05.678Z"),
                         dt.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC))
        shifted = parse_time("2026-01-02T05:04:05+02:00")
        self.assertEqual(shifted, dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
        self.assertEqual(shifted.tzinfo, UTC)
        self.assertEqual(parse_time("2026-01-02T03:04:05").tzinfo, UTC)
        self.assertIsNone(parse_time(None))
        with self.assertRaises(ValueError):
            parse_time("yesterday")

    def test_not_a_job(self):
        for bad in [None, [], {"status": "queued"}, {"id": 5, "status": "queued"}]:
            with self.assertRaises(ValueError):
                Job.from_json(bad)

    def test_page(self):
        page = JobPage.from_json({"object": "list", "data": [job_json("queued", "a"), job_json("running", "b")],
                                  "has_more": True, "next_cursor": "c1"})
        self.assertEqual([j.id for j in page], ["a", "b"])
        self.assertEqual(len(page), 2)
        self.assertTrue(page.has_more)
        self.assertEqual(page.next_cursor, "c1")


class HelpersTest(unittest.TestCase):
    def test_format_wait(self):
        self.assertEqual(format_wait(0), "0")
        self.assertEqual(format_wait(0.5), "0.5")
        self.assertEqual(format_wait(12), "12")
        self.assertEqual(format_wait(1.23456), "1.235")
        self.assertEqual(format_wait(75), "60")
        self.assertEqual(format_wait(59.99996), "60")
        self.assertEqual(format_wait(-3), "0")
        self.assertEqual(format_wait(1e-5), "0")

    def test_backoff_doubles_to_five_seconds(self):
        caps = [backoff_delay(0.5, n, 0.999999) for n in range(1, 8)]
        for got, want in zip(caps, [0.5, 1, 2, 4, 5, 5, 5]):
            self.assertAlmostEqual(got, want, places=4)
        self.assertAlmostEqual(backoff_delay(0.5, 1, 0.0), 0.25)  # jitter spreads over [cap/2, cap)
        self.assertAlmostEqual(backoff_delay(2.0, 3, 0.0), 2.5)
        self.assertLessEqual(backoff_delay(0.5, 10_000, 0.999), 5.0)
        self.assertGreater(backoff_delay(0.0, 1, 0.0), 0.0)  # never a busy loop

    def test_retry_after(self):
        self.assertEqual(parse_retry_after("2"), 2.0)
        self.assertEqual(parse_retry_after(" 0.25 "), 0.25)
        self.assertEqual(parse_retry_after("-4"), 0.0)
        self.assertIsNone(parse_retry_after(None))
        self.assertIsNone(parse_retry_after(""))
        self.assertIsNone(parse_retry_after("soon"))
        self.assertIsNone(parse_retry_after("nan"))
        now = dt.datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC).timestamp()
        self.assertAlmostEqual(parse_retry_after("Fri, 27 Nov 2026 12:00:07 GMT", now=now), 7.0)
        self.assertEqual(parse_retry_after("Fri, 27 Nov 2026 11:00:00 GMT", now=now), 0.0)

    def test_error_mapping(self):
        cases = [(400, "invalid_request", InvalidRequest), (400, "invalid_json", InvalidRequest),
                 (401, "unauthorized", AuthError), (403, "forbidden", AuthError),
                 (402, "budget_exceeded", BudgetExceeded), (404, "not_found", NotFound),
                 (409, "conflict", Conflict), (422, "pii_blocked", Blocked), (429, "rate_limited", RateLimited),
                 (503, "unavailable", Unavailable), (500, "internal_error", AegisError)]
        for status, type_, cls in cases:
            err = error_from_response(status, {}, json.dumps(error_body(type_, "why", "req_9")).encode())
            self.assertIs(type(err), cls, status)
            self.assertIsInstance(err, AegisError)
            self.assertEqual((err.status, err.type, err.message, err.request_id), (status, type_, "why", "req_9"))
        self.assertIsNone(error_from_response(422, {}, json.dumps(error_body("pii_blocked")).encode()).job)

    def test_error_mapping_of_synchronous_calls(self):
        # /v1/rag: a body over the limit is the caller's mistake; a policy refusal is Blocked whatever its status.
        cases = [(413, "payload_too_large", InvalidRequest), (503, "no_local_provider", Blocked),
                 (500, "egress_blocked", Blocked), (422, "unprocessable", InvalidRequest),
                 (503, "unavailable", Unavailable), (502, "upstream_error", AegisError)]
        for status, type_, cls in cases:
            err = error_from_response(status, {}, json.dumps(error_body(type_, "why", "req_9")).encode())
            self.assertIs(type(err), cls, (status, type_))
            self.assertEqual((err.status, err.type), (status, type_))
        self.assertEqual(error_from_response(413, {}, b"").type, "payload_too_large")

    def test_error_mapping_without_json(self):
        err = error_from_response(429, {"Retry-After": "3", "X-Request-Id": "req_h"}, b"slow down")
        self.assertIsInstance(err, RateLimited)
        self.assertEqual(err.retry_after, 3.0)
        self.assertEqual(err.message, "slow down")
        self.assertEqual(err.request_id, "req_h")
        self.assertEqual(err.type, "rate_limited")
        self.assertIn("429", str(err))
        self.assertIn("req_h", str(err))
        self.assertEqual(error_from_response(502, {}, b"").message, "Bad Gateway")
        self.assertIsNone(error_from_response(429, {}, b"").retry_after)

    def test_every_exception_is_an_aegis_error(self):
        for name in aegis_client.__all__:
            obj = getattr(aegis_client, name)
            if isinstance(obj, type) and issubclass(obj, Exception):
                self.assertTrue(issubclass(obj, AegisError), name)


class StubbedClientTest(unittest.TestCase):
    def setUp(self):
        self.server = ScriptedServer()
        self.addCleanup(self.server.close)
        self.time = FakeTime()
        self.client = Client(self.server.url + "/", "sk-team", timeout=5)
        self.client._clock = self.time.clock
        self.client._sleep = self.time.sleep
        self.client._random = lambda: 0.0

    def script(self, *steps):
        self.server.script.extend(steps)

    def waits(self):
        return [r["query"].get("wait") for r in self.server.requests]

    def test_submit_sends_the_documented_body_and_headers(self):
        self.script((202, {}, {"id": "job_1", "status": "queued", "classification": "INTERNAL",
                               "created_at": "2026-11-27T14:45:52.123Z"}))
        job = self.client.submit("summarize", messages=[{"role": "user", "content": "hé"}], max_tokens=64,
                                 model="auto", metadata={"k": "v"}, classification="CONFIDENTIAL",
                                 idempotency_key="idem-1")
        self.assertEqual((job.id, job.status), ("job_1", "queued"))
        req = self.server.requests[0]
        self.assertEqual((req["method"], req["path"]), ("POST", "/v1/jobs"))
        self.assertEqual(req["headers"]["authorization"], "Bearer sk-team")
        self.assertEqual(req["headers"]["idempotency-key"], "idem-1")
        self.assertEqual(req["headers"]["content-type"], "application/json")
        self.assertEqual(req["body"], {"task_type": "summarize", "max_tokens": 64,
                                       "messages": [{"role": "user", "content": "hé"}], "model": "auto",
                                       "metadata": {"k": "v"}, "classification": "CONFIDENTIAL"})

    def test_submit_prompt_omits_unset_fields(self):
        self.script((202, {}, job_json("queued")))
        self.client.submit("t", prompt="hello")
        req = self.server.requests[0]
        self.assertEqual(req["body"], {"task_type": "t", "max_tokens": 1024, "prompt": "hello"})
        self.assertNotIn("idempotency-key", req["headers"])

    def test_submit_needs_exactly_one_of_messages_and_prompt(self):
        with self.assertRaises(ValueError):
            self.client.submit("t")
        with self.assertRaises(ValueError):
            self.client.submit("t", messages=[{"role": "user", "content": "a"}], prompt="b")
        self.assertEqual(self.server.requests, [])

    def test_submit_errors_are_typed(self):
        self.script((402, {}, error_body("budget_exceeded")), (422, {}, error_body("pii_blocked")),
                    (429, {"retry-after": "2"}, error_body("rate_limited")))
        with self.assertRaises(BudgetExceeded):
            self.client.submit("t", prompt="x")
        with self.assertRaises(Blocked):
            self.client.submit("t", prompt="x")
        with self.assertRaises(RateLimited) as ctx:
            self.client.submit("t", prompt="x")
        self.assertEqual(ctx.exception.retry_after, 2.0)
        self.assertEqual(len(self.server.requests), 3)  # submit is never retried behind the caller's back

    def test_get_quotes_the_id_and_sends_wait(self):
        self.script((200, {}, job_json("running", id="a/b")), (200, {}, job_json("running", id="a/b")))
        self.client.get("a/b")
        self.client.get("a/b", wait=2.5)
        self.assertEqual(self.server.requests[0]["path"], "/v1/jobs/a%2Fb")
        self.assertEqual(self.waits(), [None, "2.5"])

    def test_wait_long_polls_with_the_remaining_time(self):
        self.script((200, {}, job_json("running")), (200, {}, job_json("succeeded")))
        job = self.client.wait("job_1", timeout=100)
        self.assertEqual(job.status, "succeeded")
        # The fake clock does not move during a request, so the first answer looks
        # "too early" and the client pauses poll_interval before polling again.
        self.assertEqual(self.time.sleeps, [0.5])
        self.assertEqual(self.waits(), ["60", "60"])

    def test_wait_caps_each_poll_at_the_deadline(self):
        self.script(*[(200, {}, job_json("running"))] * 10)
        with self.assertRaises(Timeout) as ctx:
            self.client.wait("job_1", timeout=2, poll_interval=0.5)
        self.assertEqual(self.waits(), ["2", "1.5", "1", "0.5", "0"])
        self.assertEqual(ctx.exception.job_id, "job_1")
        self.assertEqual(ctx.exception.job.status, "running")
        self.assertIsNone(ctx.exception.status)
        self.assertEqual(ctx.exception.type, "timeout")

    def test_wait_with_zero_timeout_polls_once(self):
        self.script((200, {}, job_json("queued")))
        with self.assertRaises(Timeout):
            self.client.wait("job_1", timeout=0.0)
        self.assertEqual(self.waits(), ["0"])
        self.assertEqual(self.time.sleeps, [])

    def test_wait_with_zero_timeout_returns_a_finished_job(self):
        self.script((200, {}, job_json("expired", error={"type": "expired", "message": "ttl"})))
        self.assertEqual(self.client.wait("job_1", timeout=0.0).status, "expired")

    def test_wait_returns_any_final_status(self):
        for status in ("failed", "cancelled", "expired"):
            self.script((200, {}, job_json(status, error={"type": status, "message": "m"})))
            self.assertEqual(self.client.wait("job_1").status, status)

    def test_wait_retries_transient_errors_honouring_retry_after(self):
        self.script((503, {"retry-after": "0.25"}, error_body("unavailable")),
                    (429, {"retry-after": "1"}, error_body("rate_limited")),
                    DROP, DROP, DROP,
                    (200, {}, job_json("succeeded")))
        job = self.client.wait("job_1", timeout=100, poll_interval=0.5)
        self.assertEqual(job.status, "succeeded")
        # retry-after as given; then backoff doubling from poll_interval (random()=0 -> half the cap).
        # The 503 and 429 count as failures 1 and 2, so the drops are 3..5: caps 2, 4, 5 (not 8).
        self.assertEqual(self.time.sleeps, [0.25, 1.0, 1.0, 2.0, 2.5])

    def test_backoff_restarts_after_an_answer(self):
        self.script(DROP, DROP, (200, {}, job_json("running")), DROP, (200, {}, job_json("succeeded")))
        self.client.wait("job_1", timeout=100, poll_interval=0.5)
        # failures 1 and 2 (0.25, 0.5), a too-early answer (0.5), then failure 1 again (0.25).
        self.assertEqual(self.time.sleeps, [0.25, 0.5, 0.5, 0.25])

    def test_backoff_is_capped_at_five_seconds(self):
        self.client._random = lambda: 0.999999
        self.script(*[DROP] * 8, (200, {}, job_json("succeeded")))
        self.client.wait("job_1", timeout=1000, poll_interval=0.5)
        self.assertEqual(len(self.time.sleeps), 8)
        for got, want in zip(self.time.sleeps, [0.5, 1, 2, 4, 5, 5, 5, 5]):
            self.assertAlmostEqual(got, want, places=4)

    def test_transient_errors_until_the_deadline_time_out(self):
        self.script(*[(503, {"retry-after": "1"}, error_body("unavailable"))] * 10)
        with self.assertRaises(Timeout) as ctx:
            self.client.wait("job_1", timeout=2.5)
        self.assertIsInstance(ctx.exception.__cause__, Unavailable)
        self.assertIsNone(ctx.exception.job)
        self.assertEqual(self.time.sleeps, [1.0, 1.0, 0.5])  # the last sleep stops at the deadline

    def test_wait_does_not_retry_permanent_errors(self):
        self.script((404, {}, error_body("not_found")), (200, {}, job_json("succeeded")))
        with self.assertRaises(NotFound):
            self.client.wait("job_1")
        self.assertEqual(len(self.server.requests), 1)
        self.server.script.clear()
        self.script((401, {}, error_body("unauthorized")))
        with self.assertRaises(AuthError):
            self.client.wait("job_1")

    def test_run_returns_the_succeeded_job(self):
        self.script((202, {}, job_json("queued")), (200, {}, job_json("succeeded", result={
            "text": "Echo", "usage": {"input_tokens": 1, "output_tokens": 2}, "cost_usd": 0.5})))
        job = self.client.run("t", prompt="x")
        self.assertEqual(job.result.text, "Echo")
        self.assertEqual(self.server.requests[1]["path"], "/v1/jobs/job_1")

    def test_run_raises_job_failed(self):
        for status, err in [("failed", {"type": "upstream_error", "message": "boom"}),
                            ("cancelled", {"type": "cancelled", "message": "by the team"}),
                            ("expired", {"type": "expired", "message": "ttl"})]:
            self.script((202, {}, job_json("queued")), (200, {}, job_json(status, error=err)))
            with self.assertRaises(JobFailed) as ctx:
                self.client.run("t", prompt="x")
            self.assertEqual(ctx.exception.job.status, status)
            self.assertEqual(ctx.exception.type, err["type"])
            self.assertNotIsInstance(ctx.exception, Blocked)

    def test_run_raises_blocked_for_compliance_failures(self):
        for type_ in ("pii_blocked", "egress_blocked", "no_local_provider"):
            self.script((202, {}, job_json("queued")),
                        (200, {}, job_json("failed", error={"type": type_, "message": "policy"})))
            with self.assertRaises(Blocked) as ctx:
                self.client.run("t", prompt="x")
            self.assertEqual(ctx.exception.type, type_)
            self.assertEqual(ctx.exception.job.error.type, type_)

    def test_cancel(self):
        self.script((200, {}, job_json("cancelled", error={"type": "cancelled", "message": "m"})),
                    (409, {}, error_body("conflict")))
        self.assertEqual(self.client.cancel("job_1").status, "cancelled")
        with self.assertRaises(Conflict):
            self.client.cancel("job_1")
        self.assertEqual([r["method"] for r in self.server.requests], ["DELETE", "DELETE"])

    def test_list_and_iter_jobs_follow_the_cursor(self):
        page = lambda ids, more, cursor: (200, {}, {"object": "list", "data": [job_json("succeeded", i) for i in ids],  # noqa: E731
                                                    "has_more": more, "next_cursor": cursor})
        self.script(page(["a"], True, "c1"))
        first = self.client.list(status="succeeded", limit=1)
        self.assertEqual(self.server.requests[0]["query"], {"status": "succeeded", "limit": "1"})
        self.assertEqual(first.next_cursor, "c1")
        self.script(page(["a", "b"], True, "c 1&x"), page(["c"], True, "c2"), page([], False, None))
        self.assertEqual([j.id for j in self.client.iter_jobs(status="queued", page_size=2)], ["a", "b", "c"])
        queries = [r["query"] for r in self.server.requests[1:]]
        self.assertEqual(queries, [{"status": "queued", "limit": "2"},
                                   {"status": "queued", "limit": "2", "cursor": "c 1&x"},
                                   {"status": "queued", "limit": "2", "cursor": "c2"}])

    def test_list_without_parameters(self):
        self.script((200, {}, {"object": "list", "data": [], "has_more": False, "next_cursor": None}))
        self.assertEqual(len(self.client.list()), 0)
        self.assertEqual(self.server.requests[0]["query"], {})

    def test_non_json_success_is_an_error(self):
        self.script((200, {}, b"<html>"))
        with self.assertRaises(AegisError) as ctx:
            self.client.get("job_1")
        self.assertEqual(ctx.exception.type, "invalid_response")


DOC = {"document_id": "doc_1", "chunks": [{"index": 0, "classification": "RESTRICTED"},
                                        {"index": 1, "classification": "PUBLIC"}]}
FULL_DOC = dict(DOC, collection="hr", source="payroll.txt", classification="RESTRICTED",
                created_at_ms=1796588475821, metadata={"author": "ops", "year": 2026})
HIT = {"id": "chk_1", "document_id": "doc_1", "index": 0, "text": "Payroll record.", "score": 0.39,
       "source": "payroll.txt", "classification": "RESTRICTED"}
ANSWER = {"answer": "Paid on the fifteenth [chk_1].", "chunk_ids": ["chk_1", "chk_2"], "model": "qwen2.5:14b",
          "provider": "ollama", "usage": {"input_tokens": 90, "output_tokens": 25}}
# As the gateway writes it: UTF-8 bytes, which HTTP libraries hand over as Latin-1.
ROUTE = "tier=sonnet; provider=ollama; model=qwen2.5:14b; reason=restricted→local-only; task=rag→sonnet; budget ok"
ROUTE_WIRE = ROUTE.encode("utf-8").decode("latin-1")


class RagParsingTest(unittest.TestCase):
    def test_ingest_answer(self):
        doc = Document.from_json(DOC, classification="RESTRICTED")
        self.assertEqual(doc.document_id, "doc_1")
        self.assertEqual(doc.chunks, [DocumentChunk(0, "RESTRICTED"), DocumentChunk(1, "PUBLIC")])
        self.assertEqual(doc.classification, "RESTRICTED")
        self.assertIsNone(doc.collection)
        self.assertIsNone(doc.created_at)
        self.assertEqual(doc.metadata, {})
        self.assertIs(doc.raw, DOC)

    def test_full_document(self):
        doc = Document.from_json(FULL_DOC, classification="PUBLIC")  # the body wins over a header
        self.assertEqual((doc.collection, doc.source, doc.classification), ("hr", "payroll.txt", "RESTRICTED"))
        self.assertEqual(doc.created_at, dt.datetime(2026, 12, 6, 20, 21, 15, 821000, tzinfo=UTC))
        self.assertEqual(doc.metadata, {"author": "ops", "year": 2026})

    def test_query_result(self):
        result = QueryResult.from_json({"chunks": [HIT, dict(HIT, id="chk_2", score=0.1)]}, classification="INTERNAL")
        self.assertEqual(len(result), 2)
        first = list(result)[0]
        self.assertEqual(first, RetrievedChunk("chk_1", "doc_1", 0, "Payroll record.", 0.39, "payroll.txt",
                                               "RESTRICTED"))
        self.assertEqual(result.classification, "INTERNAL")
        self.assertEqual(len(QueryResult.from_json({"chunks": []})), 0)

    def test_answer_with_governance_headers(self):
        answer = Answer.from_json(ANSWER, {"x-aegis-classification": "RESTRICTED", "x-aegis-route": ROUTE_WIRE,
                                           "x-aegis-cost-usd": "0.000645"})
        self.assertEqual(answer.answer, "Paid on the fifteenth [chk_1].")
        self.assertEqual(answer.chunk_ids, ["chk_1", "chk_2"])
        self.assertEqual((answer.model, answer.provider), ("qwen2.5:14b", "ollama"))
        self.assertEqual((answer.input_tokens, answer.output_tokens), (90, 25))
        self.assertEqual(answer.classification, "RESTRICTED")
        self.assertEqual(answer.route, Route("sonnet", "ollama", "qwen2.5:14b",
                                             "restricted→local-only; task=rag→sonnet; budget ok"))
        self.assertAlmostEqual(answer.cost_usd, 0.000645)
        bare = Answer.from_json(ANSWER)
        self.assertIsNone(bare.classification)
        self.assertIsNone(bare.route)
        self.assertIsNone(bare.cost_usd)

    def test_route_header(self):
        self.assertEqual(parse_route_header(ROUTE), parse_route_header(ROUTE_WIRE))
        self.assertEqual(parse_route_header("tier=none; provider=azure; model=m; reason=x"),
                         Route("none", "azure", "m", "x"))
        self.assertIsNone(parse_route_header(None))
        self.assertIsNone(parse_route_header(""))

    def test_deletion(self):
        gone = Deletion.from_json({"document_id": "doc_1", "deleted": True, "chunks_deleted": 2})
        self.assertEqual((gone.document_id, gone.deleted, gone.chunks_deleted), ("doc_1", True, 2))

    def test_not_rag_objects(self):
        for parse, bad in [(Document.from_json, {"chunks": []}), (QueryResult.from_json, {"hits": []}),
                           (Answer.from_json, {"text": "x"}), (Deletion.from_json, None),
                           (RetrievedChunk.from_json, {"text": "no id"})]:
            with self.assertRaises(ValueError):
                parse(bad)


class RagStubbedTest(unittest.TestCase):
    def setUp(self):
        self.server = ScriptedServer()
        self.addCleanup(self.server.close)
        self.client = Client(self.server.url + "/", "sk-team", timeout=5)

    def script(self, *steps):
        self.server.script.extend(steps)

    def test_ingest_text_sends_the_documented_body(self):
        self.script((201, {"x-aegis-classification": "RESTRICTED"}, DOC))
        doc = self.client.rag.ingest("hr", text="Payroll: SIN 046 454 286, h\u00e9.", source="payroll.txt",
                                     metadata={"year": 2026}, classification="INTERNAL")
        self.assertEqual(doc.document_id, "doc_1")
        self.assertEqual(doc.classification, "RESTRICTED")
        self.assertEqual([c.classification for c in doc.chunks], ["RESTRICTED", "PUBLIC"])
        req = self.server.requests[0]
        self.assertEqual((req["method"], req["path"]), ("POST", "/v1/rag/documents"))
        self.assertEqual(req["headers"]["authorization"], "Bearer sk-team")
        self.assertEqual(req["headers"]["content-type"], "application/json")
        self.assertEqual(req["body"], {"collection": "hr", "text": "Payroll: SIN 046 454 286, h\u00e9.",
                                       "source": "payroll.txt", "metadata": {"year": 2026},
                                       "classification": "INTERNAL"})

    def test_ingest_chunks_omits_unset_fields(self):
        self.script((201, {}, DOC))
        doc = self.client.rag.ingest("hr", chunks=("one", "two"))
        self.assertIsNone(doc.classification)  # no header: nothing invented
        self.assertEqual(self.server.requests[0]["body"], {"collection": "hr", "chunks": ["one", "two"]})

    def test_ingest_needs_exactly_one_of_text_and_chunks(self):
        with self.assertRaises(ValueError):
            self.client.rag.ingest("hr")
        with self.assertRaises(ValueError):
            self.client.rag.ingest("hr", text="a", chunks=["b"])
        with self.assertRaises(TypeError):
            self.client.rag.ingest("hr", chunks="one string")
        self.assertEqual(self.server.requests, [])

    def test_list_get_delete(self):
        self.script((200, {}, {"object": "list", "data": [FULL_DOC]}), (200, {}, FULL_DOC),
                    (200, {}, {"document_id": "a/b", "deleted": True, "chunks_deleted": 2}))
        docs = self.client.rag.list("hr & co")
        self.assertEqual([d.document_id for d in docs], ["doc_1"])
        self.assertEqual(self.client.rag.get("doc_1").source, "payroll.txt")
        gone = self.client.rag.delete("a/b")
        self.assertEqual((gone.document_id, gone.deleted, gone.chunks_deleted), ("a/b", True, 2))
        reqs = self.server.requests
        self.assertEqual([(r["method"], r["path"]) for r in reqs],
                         [("GET", "/v1/rag/documents"), ("GET", "/v1/rag/documents/doc_1"),
                          ("DELETE", "/v1/rag/documents/a%2Fb")])
        self.assertEqual(reqs[0]["query"], {"collection": "hr & co"})
        self.assertIsNone(reqs[2]["body"])
        with self.assertRaises(ValueError):
            self.client.rag.get("")

    def test_query_and_answer_bodies(self):
        self.script((200, {"x-aegis-classification": "INTERNAL"}, {"chunks": [HIT]}), (200, {}, {"chunks": []}),
                    (200, {"x-aegis-classification": "RESTRICTED", "x-aegis-route": ROUTE_WIRE,
                           "x-aegis-cost-usd": "0.000645"}, ANSWER),
                    (200, {}, ANSWER))
        result = self.client.rag.query("hr", "when is payroll", top_k=3)
        self.assertEqual([c.id for c in result], ["chk_1"])
        self.assertEqual(result.classification, "INTERNAL")
        self.client.rag.query("hr", "q")
        answer = self.client.rag.answer("hr", "When?", top_k=2, max_tokens=64)
        self.assertEqual(answer.route.provider, "ollama")
        self.assertEqual(answer.route.reason.split(";")[0], "restricted→local-only")
        self.client.rag.answer("hr", "When?")
        bodies = [(r["path"], r["body"]) for r in self.server.requests]
        self.assertEqual(bodies, [
            ("/v1/rag/query", {"collection": "hr", "query": "when is payroll", "top_k": 3}),
            ("/v1/rag/query", {"collection": "hr", "query": "q"}),
            ("/v1/rag/answer", {"collection": "hr", "question": "When?", "top_k": 2, "max_tokens": 64}),
            ("/v1/rag/answer", {"collection": "hr", "question": "When?"}),
        ])

    def test_errors_are_typed_and_never_retried(self):
        self.script((404, {}, error_body("not_found", "no such document")),
                    (413, {}, error_body("payload_too_large")),
                    (503, {"retry-after": "1"}, error_body("no_local_provider")),
                    (402, {}, error_body("budget_exceeded")),
                    (503, {"retry-after": "1"}, error_body("unavailable")),
                    (400, {}, error_body("invalid_request", "stream is not supported yet")))
        with self.assertRaises(NotFound) as missing:
            self.client.rag.get("doc_gone")
        self.assertEqual(missing.exception.message, "no such document")
        with self.assertRaises(InvalidRequest) as big:
            self.client.rag.ingest("hr", text="x")
        self.assertEqual((big.exception.status, big.exception.type), (413, "payload_too_large"))
        with self.assertRaises(Blocked) as blocked:
            self.client.rag.answer("hr", "q")
        self.assertEqual((blocked.exception.status, blocked.exception.type), (503, "no_local_provider"))
        self.assertIsNone(blocked.exception.job)
        with self.assertRaises(BudgetExceeded):
            self.client.rag.answer("hr", "q")
        with self.assertRaises(Unavailable) as down:
            self.client.rag.query("hr", "q")
        self.assertEqual(down.exception.retry_after, 1.0)
        with self.assertRaises(InvalidRequest):
            self.client.rag.list("hr")
        self.assertEqual(len(self.server.requests), 6)

    def test_rag_shares_the_client_settings(self):
        self.assertIn(self.server.url, repr(self.client.rag))
        self.assertNotIn("sk-team", repr(self.client.rag))


class NoServerTest(unittest.TestCase):
    def test_connection_refused(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        client = Client(f"http://127.0.0.1:{port}", "k", timeout=2)
        with self.assertRaises(ConnectionFailed) as ctx:
            client.get("job_1")
        self.assertIsNone(ctx.exception.status)

    def test_repr_hides_the_key(self):
        self.assertNotIn("sk-secret", repr(Client("http://h", "sk-secret")))


if __name__ == "__main__":
    unittest.main()
