"""Retrieval as async jobs (POST /v1/jobs with task_type rag_ingest / rag; issue 17) through the real binary.

A `--demo` gateway (SQLite; local embedder ollama, deterministic simulators).
Checked: a rag_ingest job's result is the document, which is then queryable
under each key's clearance, with its progress visible while it runs; a rag
job answers as /v1/rag/answer does (same chunk ids and text), keeps a
RESTRICTED context on the local model and retrieves under its key's
clearance; bodies are checked at submit; a rag job's reservation is taken
at submit (402) while an ingest's is not; every call is audited under the
job's id; the content is sealed at rest.
"""
import json
import os
import sqlite3
import unittest

from aegis_harness import DemoUpstreams, GatewayTestCase, wait_until
from test_rag import DOCS, LEVELS, holds_the_sin, route_provider


class RagJobs(DemoUpstreams, GatewayTestCase):
    gateway_args = ("--demo",)

    def make_team(self, clearance="RESTRICTED", budget=50):
        return self.new_team("ragjobs", clearance, budget)

    def narrowed_key(self, team, clearance):
        status, created = self.gw.admin("POST", "/admin/v1/keys", {"team": team, "clearance": clearance})
        self.assertEqual(status, 201, created)
        return created["key"]

    def call(self, key, method, path, body=None):
        return self.call_json(key, method, path, body, timeout=70)

    def submit(self, key, body, want=202):
        status, _, reply = self.call(key, "POST", "/v1/jobs", body)
        self.assertEqual(status, want, reply)
        return reply

    def finished(self, key, job_id, timeout=30):
        def done():
            status, _, job = self.call(key, "GET", f"/v1/jobs/{job_id}?wait=5")
            self.assertEqual(status, 200, job)
            return job if job["status"] not in ("queued", "running") else None
        return wait_until(done, timeout, f"job {job_id} to finish")

    def ingest_job(self, key, collection, level):
        word, text = DOCS[level]
        body = {"task_type": "rag_ingest", "collection": collection, "text": text, "source": f"{word}.txt"}
        if level in ("PUBLIC", "CONFIDENTIAL"):
            body["classification"] = level
        reply = self.submit(key, body)
        self.assertEqual(reply["classification"], level, reply)
        job = self.finished(key, reply["id"])
        self.assertEqual(job["status"], "succeeded", job)
        return job

    def query(self, key, collection, text, top_k=10):
        status, _, body = self.call(key, "POST", "/v1/rag/query", {"collection": collection, "query": text,
                                                                  "top_k": top_k})
        self.assertEqual(status, 200, body)
        return body["chunks"]

    def test_a_rag_ingest_jobs_document_is_queryable_under_each_keys_clearance(self):
        team, key = self.make_team()
        jobs = {level: self.ingest_job(key, "jobdocs", level) for level in LEVELS}
        for level, job in jobs.items():
            document = job["result"]["document"]
            self.assertTrue(document["document_id"].startswith("doc_"), job)
            self.assertEqual(document["classification"], level)
            self.assertEqual(document["chunks"], [{"index": 0, "classification": level}])
            self.assertEqual(job["task_type"], "rag_ingest")
            self.assertIsNone(job["route"])
            self.assertIsNone(job["progress"], "progress is shown only while the job runs")
            self.assertEqual(job["result"]["usage"]["output_tokens"], 0)
            self.assertIn("cost_usd", job["result"])
            self.assertNotIn("text", job["result"])
            status, _, got = self.call(key, "GET", f"/v1/rag/documents/{document['document_id']}")
            self.assertEqual(status, 200, got)
            self.assertEqual((got["source"], got["classification"], got["collection"]),
                             (f"{DOCS[level][0]}.txt", level, "jobdocs"))
        # The best match for each document's own words is that document.
        for level in LEVELS:
            best = self.query(key, "jobdocs", DOCS[level][1], 1)[0]
            self.assertEqual(best["document_id"], jobs[level]["result"]["document"]["document_id"], level)
        # A key cleared for INTERNAL sees only the PUBLIC and INTERNAL documents.
        internal = self.narrowed_key(team, "INTERNAL")
        seen = {c["document_id"] for c in self.query(internal, "jobdocs", "payroll SIN acquisition roadmap lunch")}
        self.assertEqual(seen, {jobs[level]["result"]["document"]["document_id"] for level in ("PUBLIC", "INTERNAL")})

        # Every call the job made is audited under its id, never with its text.
        restricted_job = jobs["RESTRICTED"]["id"]
        status, audit = self.gw.admin("GET", f"/admin/v1/audit?team={team}&limit=500")
        self.assertEqual(status, 200, audit)
        rows = [r for r in audit["data"] if r["request_id"] == restricted_job]
        self.assertIn(("rag.ingest", "rag_ingest"), {(r["surface"], r["task"]) for r in rows}, rows)
        self.assertTrue(all(r["locality"] in ("local", "") for r in rows), rows)
        self.assertNotIn("046 454 286", json.dumps(audit))

    def test_the_document_metadata_and_the_jobs_are_the_same_and_sealed_at_rest(self):
        team, key = self.make_team()
        marker = f"Quokka-{team.split('-')[1]}"
        reply = self.submit(key, {"task_type": "rag_ingest", "collection": "sealed",
                                  "text": f"The {marker} migration plan moves billing to the new cluster.",
                                  "metadata": {"year": 2026, "owner": "ops"}})
        job = self.finished(key, reply["id"])
        self.assertEqual(job["status"], "succeeded", job)
        self.assertEqual(job["metadata"], {"year": 2026, "owner": "ops"})
        status, _, got = self.call(key, "GET", f"/v1/rag/documents/{job['result']['document']['document_id']}")
        self.assertEqual(got["metadata"], {"year": 2026, "owner": "ops"})
        db = sqlite3.connect(os.path.join(self.gw.workdir, "data", "aegis.db"))
        try:
            row = db.execute("SELECT request_json, result_text, metadata_json FROM jobs WHERE id = ?",
                             (reply["id"],)).fetchone()
        finally:
            db.close()
        self.assertIsNone(row[0], "the request goes when the job finishes")
        for value in row[1:]:
            self.assertIsInstance(value, bytes)
            self.assertNotIn(b"owner", value)
            self.assertNotIn(b"doc_", value)

    def test_a_rag_ingest_jobs_progress_shows_while_it_runs(self):
        _, key = self.make_team()
        chunks = [f"Paragraph {i} of the parking handbook." for i in range(40)]
        self.fault("ollama", "hang", count=1)  # the first embedding call hangs
        try:
            reply = self.submit(key, {"task_type": "rag_ingest", "collection": "progress", "chunks": chunks})

            def running():
                status, _, job = self.call(key, "GET", f"/v1/jobs/{reply['id']}")
                self.assertEqual(status, 200, job)
                return job if job["status"] == "running" and job["progress"] else None
            job = wait_until(running, 10, "the ingest to run")
            self.assertEqual(job["progress"], {"chunks_total": 40, "embeddings_total": 40, "embeddings_done": 0})
            status, _, page = self.call(key, "GET", "/v1/jobs?status=running")
            self.assertEqual(status, 200, page)
            listed = [j for j in page["data"] if j["id"] == reply["id"]]
            self.assertEqual(listed[0]["progress"], job["progress"])
            status, _, cancelled = self.call(key, "DELETE", f"/v1/jobs/{reply['id']}")
            self.assertEqual(status, 200, cancelled)
            self.assertEqual(cancelled["status"], "cancelled")
            self.assertIsNone(cancelled["progress"])
        finally:
            self.fault("ollama", "none")
        status, _, listed = self.call(key, "GET", "/v1/rag/documents?collection=progress")
        self.assertEqual((status, listed["data"]), (200, []), "a cancelled ingest stores nothing")
        # Without the fault it runs through (two embedding calls) and the final job has no progress.
        reply = self.submit(key, {"task_type": "rag_ingest", "collection": "progress", "chunks": chunks})
        job = self.finished(key, reply["id"])
        self.assertEqual(job["status"], "succeeded", job)
        self.assertEqual(len(job["result"]["document"]["chunks"]), 40)

    def test_a_rag_job_answers_as_the_route_does(self):
        team, key = self.make_team()
        for level in LEVELS:
            self.ingest_job(key, "answers", level)
        for clearance, question in (("INTERNAL", "What does the roadmap move to the new cluster?"),
                                    ("RESTRICTED", "When is the payroll SIN paid?")):
            status, body = self.gw.admin("PATCH", f"/admin/v1/teams/{team}", {"clearance": clearance})
            self.assertEqual(status, 200, body)
            ask = {"collection": "answers", "question": question, "top_k": 2, "max_tokens": 300}
            status, headers, direct = self.call(key, "POST", "/v1/rag/answer", ask)
            self.assertEqual(status, 200, direct)
            reply = self.submit(key, dict(ask, task_type="rag", metadata={"ticket": "T-1"}))
            job = self.finished(key, reply["id"])
            self.assertEqual(job["status"], "succeeded", job)
            result = job["result"]
            self.assertEqual(set(result), {"text", "chunk_ids", "model", "provider", "usage", "cost_usd"}, result)
            self.assertEqual(result["chunk_ids"], direct["chunk_ids"], clearance)
            self.assertEqual(result["text"], direct["answer"], clearance)
            self.assertEqual((result["model"], result["provider"]), (direct["model"], direct["provider"]))
            self.assertEqual(result["usage"], direct["usage"])
            self.assertEqual(job["route"]["provider"], route_provider(headers), clearance)
            self.assertEqual(job["metadata"], {"ticket": "T-1"})
            self.assertNotIn("progress", job)
            if clearance == "RESTRICTED":
                self.assertEqual(job["route"]["provider"], "ollama")
                self.assertIn("046 454 286", result["text"])
            # The answering call is audited with the job's outcome, under its id.
            status, audit = self.gw.admin("GET", f"/admin/v1/audit?team={team}&limit=500")
            rows = [r for r in audit["data"] if r["request_id"] == reply["id"]]
            answer_rows = [r for r in rows if r["surface"] == "rag.answer" and r["task"] == "rag"]
            self.assertEqual(len(answer_rows), 1, rows)
            self.assertEqual(answer_rows[0]["status"], 200)
            self.assertEqual(answer_rows[0]["provider"], job["route"]["provider"])
        cloud_chats = [r["body"] for r in self.upstream_log()
                       if r["locality"] == "cloud" and "embeddings" not in r["path"]]
        self.assertFalse(any(holds_the_sin(b) for b in cloud_chats))

    def test_a_rag_job_retrieves_under_its_keys_clearance(self):
        team, key = self.make_team()
        ingested = {level: self.ingest_job(key, "cleared", level) for level in LEVELS}
        public_key = self.narrowed_key(team, "PUBLIC")
        public_chunk = self.query(key, "cleared", DOCS["PUBLIC"][1], 1)[0]["id"]
        hidden_ids = [c["id"] for c in self.query(key, "cleared", "payroll acquisition roadmap", 10)
                      if c["classification"] != "PUBLIC"]
        self.assertEqual(len(hidden_ids), 3)
        for question in ("When is the payroll SIN paid?", "Who approved the acquisition price?"):
            reply = self.submit(public_key, {"task_type": "rag", "collection": "cleared", "question": question,
                                             "top_k": 10, "max_tokens": 400})
            job = self.finished(public_key, reply["id"])
            self.assertEqual(job["status"], "succeeded", job)
            self.assertEqual(job["result"]["chunk_ids"], [public_chunk], question)
            dumped = json.dumps(job)
            for chunk_id in hidden_ids:
                self.assertNotIn(chunk_id, dumped)
            for level in ("INTERNAL", "CONFIDENTIAL", "RESTRICTED"):
                self.assertNotIn(DOCS[level][1], dumped)
            self.assertNotEqual(job["route"]["provider"], "ollama", "nothing RESTRICTED was in its context")
        self.assertTrue(ingested)

    def test_bodies_are_checked_at_submit_and_budgets_reserved_for_answers_only(self):
        _, key = self.make_team()
        bad = [
            ({"task_type": "rag_ingest", "text": "x"}, 400),
            ({"task_type": "rag_ingest", "collection": "c", "text": "x", "chunks": ["y"]}, 400),
            ({"task_type": "rag_ingest", "collection": "bad name!", "text": "x"}, 400),
            ({"task_type": "rag_ingest", "collection": "c", "text": "x", "max_tokens": 5}, 400),
            ({"task_type": "rag_ingest", "collection": "c", "text": "word " * 300_000}, 413),
            ({"task_type": "rag", "collection": "c"}, 400),
            ({"task_type": "rag", "collection": "c", "question": "q", "top_k": 51}, 400),
            ({"task_type": "rag", "collection": "c", "question": "q", "stream": True}, 400),
            ({"task_type": "rag", "collection": "c", "question": "q", "max_tokens": 2_000_000}, 400),
            ({"task_type": "rag", "collection": "c", "question": "q", "prompt": "p", "max_tokens": 1}, 400),
        ]
        for body, want in bad:
            status, _, reply = self.call(key, "POST", "/v1/jobs", body)
            self.assertEqual(status, want, (body, reply))
        status, _, page = self.call(key, "GET", "/v1/jobs")
        self.assertEqual((status, page["data"]), (200, []), "nothing was stored")
        # "rag" with a prompt is the chat job it always was.
        reply = self.submit(key, {"task_type": "rag", "prompt": "Summarise the handbook.", "max_tokens": 32})
        job = self.finished(key, reply["id"])
        self.assertEqual(job["status"], "succeeded", job)
        self.assertEqual(set(job["result"]), {"text", "usage", "cost_usd"})

        # A team that cannot afford an answer is told at submit; an ingest reserves nothing and runs.
        _, poor = self.make_team("INTERNAL", budget=0.000001)
        status, _, reply = self.call(poor, "POST", "/v1/jobs", {"task_type": "rag", "collection": "c",
                                                               "question": "What does the roadmap move?"})
        self.assertEqual(status, 402, reply)
        self.assertEqual(reply["error"]["type"], "budget_exceeded")
        reply = self.submit(poor, {"task_type": "rag_ingest", "collection": "c", "text": DOCS["INTERNAL"][1]})
        job = self.finished(poor, reply["id"])
        self.assertEqual(job["status"], "succeeded", job)


if __name__ == "__main__":
    unittest.main()
