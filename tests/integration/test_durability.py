"""Crash durability (issue 11): nothing a client saw succeed is missing from the record.

Mixed load against `aegis serve --demo` on a SQLite file: synchronous chat
completions and embeddings, OpenAI and Anthropic streams, and async jobs. The
gateway is killed with SIGKILL in the middle of it and restarted on the same
database. Then every 200 a client received in full (a stream only with its
end: `[DONE]` / `message_stop`) and every job that reads `succeeded` must have
its audit row, and each team's committed spend must equal the sum of its
audited costs. Before the fix the audit writer's last batch (up to 20 ms of
rows, queued in memory) died with the process, and a finished job's row and
spend with it.
"""
import http.client
import json
import os
import shutil
import signal
import tempfile
import threading
import time
import unittest
import uuid

from aegis_harness import Gateway, wait_until

CONFIG = """
resilience:
  failure_threshold: 1000
  health_check_interval_s: 0
jobs:
  workers: 16
"""
HAIKU = "claude-haiku-4-5"
FINAL = ("succeeded", "failed", "cancelled", "expired")
PER_THREAD = 300  # three clients per team stay under the audit API's 1000-row page


def micros(usd):
    return round(usd * 1_000_000)


class Client(threading.Thread):
    """One keep-alive connection sending one kind of request until told to stop."""

    def __init__(self, port, key, kind, stop):
        super().__init__(daemon=True)
        self.port, self.key, self.kind, self.stop = port, key, kind, stop
        self.ok = []  # request ids (job ids for jobs) of answers received in full
        self.sent = 0

    def body(self):
        text = f"durability {self.kind} {self.sent} {uuid.uuid4().hex[:6]}"
        messages = [{"role": "user", "content": text}]
        if self.kind == "chat":
            return "/v1/chat/completions", {"model": HAIKU, "max_tokens": 16, "messages": messages}
        if self.kind == "stream":
            return "/v1/chat/completions", {"model": HAIKU, "max_tokens": 16, "stream": True, "messages": messages}
        if self.kind == "messages_stream":
            return "/v1/messages", {"model": HAIKU, "max_tokens": 16, "stream": True, "messages": messages}
        if self.kind == "embeddings":
            return "/v1/embeddings", {"model": "text-embedding-3-small", "input": [text]}
        return "/v1/jobs", {"task_type": "extraction", "prompt": text, "max_tokens": 16, "model": HAIKU}

    def complete(self, status, data):
        if self.kind == "jobs":
            return status == 202
        if status != 200:
            return False
        if self.kind == "stream":
            return data.rstrip().endswith(b"data: [DONE]")
        if self.kind == "messages_stream":
            return b"event: message_stop" in data
        json.loads(data)  # the whole body arrived
        return True

    def run(self):
        conn = None
        while not self.stop.is_set() and self.sent < PER_THREAD:
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                path, body = self.body()
                self.sent += 1
                conn.request("POST", path, body=json.dumps(body),
                             headers={"authorization": f"Bearer {self.key}", "content-type": "application/json"})
                resp = conn.getresponse()
                data = resp.read()  # raises if the stream was cut off
                if self.complete(resp.status, data):
                    self.ok.append(json.loads(data)["id"] if self.kind == "jobs" else resp.getheader("x-request-id"))
            except (OSError, http.client.HTTPException, ValueError):
                if conn is not None:
                    conn.close()
                conn = None
                # Pacing, not waiting: a load client reconnecting after a cut-off exchange.
                time.sleep(0.005)
        if conn is not None:
            conn.close()


class SigkillDurability(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="aegis-durability-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self.config = CONFIG + f"storage:\n  sqlite_path: {os.path.join(self.dir, 'aegis.db')}\n"

    def start(self):
        gw = Gateway(("--demo",), None, self.config)
        self.addCleanup(gw.cleanup)
        return gw

    def make_team(self, gw, name):
        status, body = gw.admin("POST", "/admin/v1/teams", {"name": name, "monthly_budget_usd": 100000})
        self.assertEqual(status, 201, body)
        status, created = gw.admin("POST", "/admin/v1/keys", {"team": name})
        self.assertEqual(status, 201, created)
        return created["key"]

    def audit_rows(self, gw, team):
        status, body = gw.admin("GET", f"/admin/v1/audit?team={team}&limit=1000")
        self.assertEqual(status, 200, body)
        self.assertLess(len(body["data"]), 1000, "the test must stay within one audit page per team")
        return body["data"]

    def jobs_of(self, gw, key):
        status, _, data = gw.request("GET", "/v1/jobs?limit=1000", headers={"authorization": f"Bearer {key}"})
        self.assertEqual(status, 200, data)
        page = json.loads(data)
        self.assertFalse(page["has_more"])
        return page["data"]

    def test_every_success_a_client_saw_is_audited_and_billed_after_sigkill(self):
        gw = self.start()
        keys = {team: self.make_team(gw, team) for team in ("dur-sync", "dur-stream", "dur-jobs")}
        stop = threading.Event()
        kinds = [("dur-sync", "chat"), ("dur-sync", "chat"), ("dur-sync", "embeddings"),
                 ("dur-stream", "stream"), ("dur-stream", "stream"), ("dur-stream", "messages_stream"),
                 ("dur-jobs", "jobs"), ("dur-jobs", "jobs")]
        clients = [Client(gw.port, keys[team], kind, stop) for team, kind in kinds]
        for c in clients:
            c.start()
        # Kill while every kind is busy and has already succeeded a few times.
        wait_until(lambda: min(len(c.ok) for c in clients) >= 15, 20,
                   lambda: f"the load to get going: {[len(c.ok) for c in clients]} successes", interval=0.01)
        self.assertEqual(gw.stop(sig=signal.SIGKILL), -signal.SIGKILL)
        stop.set()
        for c in clients:
            c.join(15)

        gw = self.start()  # the same database file
        # Jobs left queued or running are finished by the new process.
        last = {}

        def all_finished():
            jobs = last["jobs"] = self.jobs_of(gw, keys["dur-jobs"])
            return all(j["status"] in FINAL for j in jobs)

        wait_until(all_finished, 60, lambda: "jobs to be finished after the restart: "
                   f"{[j['id'] for j in last.get('jobs', []) if j['status'] not in FINAL]} are not", interval=0.1)
        jobs = last["jobs"]

        rows = {team: self.audit_rows(gw, team) for team in keys}
        audited = {team: {r["request_id"] for r in team_rows} for team, team_rows in rows.items()}
        for team, kind in sorted(set(kinds)):
            if kind == "jobs":
                continue
            received = [rid for c in clients if c.kind == kind and c.key == keys[team] for rid in c.ok]
            with self.subTest(kind=kind):
                missing = [rid for rid in received if rid not in audited[team]]
                self.assertEqual(missing, [], f"{len(missing)} of {len(received)} {kind} answers have no audit row")

        submitted = {rid for c in clients if c.kind == "jobs" for rid in c.ok}
        succeeded = {j["id"]: j for j in jobs if j["status"] == "succeeded"}
        self.assertTrue(submitted <= {j["id"] for j in jobs}, "a job answered 202 is missing")
        with self.subTest(kind="jobs"):
            missing = sorted(i for i in succeeded if i not in audited["dur-jobs"])
            self.assertEqual(missing, [], f"{len(missing)} of {len(succeeded)} succeeded jobs have no audit row")
            for row in rows["dur-jobs"]:
                if row["request_id"] in succeeded and row["status"] == 200:
                    self.assertEqual(micros(row["cost_usd"]), micros(succeeded[row["request_id"]]["result"]["cost_usd"]), row)

        for team in keys:
            with self.subTest(spend=team):
                status, spend = gw.admin("GET", f"/admin/v1/teams/{team}/spend")
                self.assertEqual(status, 200, spend)
                audited_cost = sum(micros(r["cost_usd"]) for r in rows[team])
                self.assertEqual(micros(spend["spent_usd"]), audited_cost, spend)
                self.assertGreater(audited_cost, 0)

    def test_a_request_in_flight_at_sigkill_is_recorded_and_its_reservation_booked(self):
        """An answer waits only for its intent (written while the provider works),
        so a kill after the answer left and before the final row committed must
        still leave a row: start-up turns the intent into one, booking the
        reservation. A provider told to hang keeps the request in flight."""
        gw = self.start()
        key = self.make_team(gw, "dur-inflight")
        for provider in ("anthropic", "azure", "ollama"):
            status, _ = gw.admin("POST", "/admin/v1/demo/faults", {"provider": provider, "mode": "hang", "count": 5})
            self.assertEqual(status, 200)
        answer = {}

        def call():
            try:
                answer["status"] = gw.request("POST", "/v1/chat/completions",
                                              {"model": HAIKU, "max_tokens": 64,
                                               "messages": [{"role": "user", "content": "in flight"}]},
                                              {"authorization": f"Bearer {key}", "x-request-id": "req-in-flight"},
                                              timeout=30)[0]
            except (OSError, http.client.HTTPException) as e:
                answer["error"] = e

        caller = threading.Thread(target=call, daemon=True)
        caller.start()
        # The intent is committed while the provider hangs: visible in the file.
        db = os.path.join(self.dir, "aegis.db")
        wait_until(lambda: pending_rows(db) == 1, 10, "the request's intent to be committed")
        self.assertEqual(gw.stop(sig=signal.SIGKILL), -signal.SIGKILL)
        caller.join(15)
        self.assertNotIn("status", answer, "the client got no answer")

        gw = self.start()
        self.assertIn('"event":"audit_intents_recovered","rows":1', gw.log())
        self.assertEqual(pending_rows(db), 0)
        rows = self.audit_rows(gw, "dur-inflight")
        self.assertEqual([r["request_id"] for r in rows], ["req-in-flight"], rows)
        row = rows[0]
        self.assertEqual(row["status"], 0, row)
        self.assertEqual(row["error_type"], "outcome_unknown", row)
        self.assertTrue(row["fallback_path"][-1].endswith(":unknown"), row)
        self.assertGreater(micros(row["cost_usd"]), 0, "the reservation is booked")
        status, spend = gw.admin("GET", "/admin/v1/teams/dur-inflight/spend")
        self.assertEqual(status, 200, spend)
        self.assertEqual(micros(spend["spent_usd"]), micros(row["cost_usd"]), spend)


def pending_rows(path):
    """Intents in the store, read as another process would (the gateway holds the file open)."""
    import sqlite3
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        return conn.execute("SELECT COUNT(*) FROM audit_pending").fetchone()[0]
    except sqlite3.OperationalError:
        return -1  # not migrated yet
    finally:
        conn.close()


if __name__ == "__main__":
    unittest.main()
