"""Classification-aware retrieval through the real binary (issue 17, embedded SQLite).

A `--demo` gateway: `azure` is the cloud embedder (text-embedding-3-small),
`ollama` the local one (nomic-embed-text); the simulator's embeddings are
feature-hashed bags of words, so lexical overlap gives a high cosine.
Checked: each chunk's level (declared floor, classifier, egress detector);
CONFIDENTIAL and RESTRICTED chunk text reaches only the local embedder (the
simulators' request log); a caller sees only chunks at or below its
clearance, min(top_k, visible) of them, and nothing about the others; an
answer with a RESTRICTED chunk in context runs on the local model; erasure
leaves no chunk or vector; another team's documents do not exist for it;
audit rows carry ids and counts, never text.
"""
import json
import os
import re
import sqlite3
import subprocess
import unittest

from aegis_harness import DemoUpstreams, GatewayTestCase

LEVELS = ["PUBLIC", "INTERNAL", "CONFIDENTIAL", "RESTRICTED"]

# One marker word per document, so each can be found in the upstream log and retrieved by name.
DOCS = {
    "PUBLIC": ("cafeteria", "The cafeteria serves lunch at noon on the third floor every weekday."),
    "INTERNAL": ("roadmap", "The roadmap for next quarter moves the billing service to the new cluster."),
    "CONFIDENTIAL": ("acquisition", "The acquisition of Northwind closes in March; the board approved the price."),
    "RESTRICTED": ("payroll", "Payroll record: employee SIN 046 454 286 is paid on the fifteenth."),
}


# The RESTRICTED document's SIN in any spelling (spaces, dashes, none). A bare "454" is not enough: chunk
# ids are random hex and hold it now and then.
SIN_IN_ANY_FORM = re.compile(r"046\D{0,3}454\D{0,3}286")


def holds_the_sin(text):
    return SIN_IN_ANY_FORM.search(text) is not None


def route_provider(headers):
    return dict(part.strip().split("=", 1) for part in headers["x-aegis-route"].split(";") if "=" in part).get("provider")


class Rag(DemoUpstreams, GatewayTestCase):
    """With a cloud embedder for PUBLIC and INTERNAL chunks (two indexes)."""
    gateway_args = ("--demo",)
    config_text = "rag:\n  cloud_embedding_model: azure/text-embedding-3-small\n"
    cloud_embedder = True

    def make_team(self, clearance="RESTRICTED"):
        return self.new_team("rag", clearance)

    def set_clearance(self, team, clearance):
        status, body = self.gw.admin("PATCH", f"/admin/v1/teams/{team}", {"clearance": clearance})
        self.assertEqual(status, 200, body)

    def rows_left(self, doc_id):
        """The document's rows still in the store's tables, and vectors whose chunk is gone."""
        db = sqlite3.connect(os.path.join(self.gw.workdir, "data", "aegis.db"))
        try:
            return (db.execute("SELECT COUNT(*) FROM rag_chunks WHERE document_id = ?", (doc_id,)).fetchone()[0]
                    + db.execute("SELECT COUNT(*) FROM rag_documents WHERE id = ?", (doc_id,)).fetchone()[0]
                    + db.execute("SELECT COUNT(*) FROM rag_vectors WHERE chunk_id NOT IN (SELECT id FROM rag_chunks)")
                    .fetchone()[0])
        finally:
            db.close()

    def call(self, key, method, path, body=None):
        return self.call_json(key, method, path, body)

    def ingest(self, key, collection, level, suffix=""):
        word, text = DOCS[level]
        text += suffix
        body = {"collection": collection, "text": text, "source": f"{word}.txt"}
        if level in ("PUBLIC", "CONFIDENTIAL"):
            body["classification"] = level
        status, headers, doc = self.call(key, "POST", "/v1/rag/documents", body)
        self.assertEqual(status, 201, doc)
        return doc

    def seed(self, collection="handbook"):
        team, key = self.make_team()
        docs = {level: self.ingest(key, collection, level) for level in LEVELS}
        return team, key, docs

    def query(self, key, collection, text, top_k=10):
        status, headers, body = self.call(key, "POST", "/v1/rag/query",
                                          {"collection": collection, "query": text, "top_k": top_k})
        self.assertEqual(status, 200, body)
        return body["chunks"]

    def test_each_chunk_gets_the_most_restrictive_level_and_only_local_providers_embed_confidential_text(self):
        team, key = self.make_team()
        # A mark of this test's own (its team's unique name), so other tests' queries (a caller's own text) do not count.
        suffix = f" Reference {team.replace('-', '')}."
        docs = {level: self.ingest(key, "levels", level, suffix) for level in LEVELS}
        for level, doc in docs.items():
            self.assertTrue(doc["document_id"].startswith("doc_"))
            self.assertEqual([c["classification"] for c in doc["chunks"]], [level], level)
        log = self.upstream_log()
        cloud = " ".join(r["body"] for r in log if r["locality"] == "cloud" and "embeddings" in r["path"])
        local = " ".join(r["body"] for r in log if r["locality"] == "local")
        for level in LEVELS:
            self.assertIn(DOCS[level][1] + suffix, local, level)  # every chunk has a local vector
        for level in ("CONFIDENTIAL", "RESTRICTED"):
            self.assertNotIn(DOCS[level][1] + suffix, cloud, level)
        self.assertFalse(holds_the_sin(cloud))
        for level in ("PUBLIC", "INTERNAL"):
            self.assertEqual(DOCS[level][1] + suffix in cloud, self.cloud_embedder, level)

    def test_a_declared_level_is_a_floor_and_never_lowers_what_is_found(self):
        _, key = self.make_team()
        status, _, doc = self.call(key, "POST", "/v1/rag/documents",
                                   {"collection": "floor", "chunks": [DOCS["RESTRICTED"][1], "Nothing here."],
                                    "classification": "PUBLIC"})
        self.assertEqual(status, 201, doc)
        self.assertEqual([c["classification"] for c in doc["chunks"]], ["RESTRICTED", "PUBLIC"])
        status, _, got = self.call(key, "GET", f"/v1/rag/documents/{doc['document_id']}")
        self.assertEqual(status, 200, got)
        self.assertEqual(got["classification"], "RESTRICTED")

    def test_a_caller_sees_only_chunks_at_or_below_its_clearance(self):
        team, key, docs = self.seed()
        ids = {level: docs[level]["document_id"] for level in LEVELS}
        for clearance_index, clearance in enumerate(LEVELS):
            self.set_clearance(team, clearance)
            before = self.gw.metrics()
            visible = LEVELS[:clearance_index + 1]
            for question in ("cafeteria lunch", "payroll SIN employee", "acquisition board price", "roadmap"):
                for top_k in (1, 2, 10):
                    chunks = self.query(key, "handbook", question, top_k)
                    self.assertEqual(len(chunks), min(top_k, len(visible)), (clearance, question, top_k))
                    for chunk in chunks:
                        self.assertIn(chunk["classification"], visible, (clearance, question))
                        self.assertIn(chunk["document_id"], [ids[v] for v in visible])
                    scores = [c["score"] for c in chunks]
                    self.assertEqual(scores, sorted(scores, reverse=True))
            # The best match for a visible document's own words is that document.
            for level in visible:
                best = self.query(key, "handbook", DOCS[level][1], 1)[0]
                self.assertEqual(best["document_id"], ids[level], (clearance, level))
                self.assertEqual(best["text"], DOCS[level][1])
            after = self.gw.metrics()
            hidden = LEVELS[clearance_index + 1:]
            for level in hidden:
                key_name = ("aegis_rag_chunks_filtered_total", frozenset({("level", level)}))
                self.assertGreater(after.get(key_name, 0), before.get(key_name, 0), (clearance, level))

    def test_an_answer_with_a_restricted_chunk_in_context_runs_on_the_local_model(self):
        _, key, docs = self.seed()
        status, headers, body = self.call(key, "POST", "/v1/rag/answer",
                                          {"collection": "handbook", "question": "When is the payroll SIN paid?",
                                           "top_k": 2, "max_tokens": 64})
        self.assertEqual(status, 200, body)
        self.assertEqual(headers.get("x-aegis-classification"), "RESTRICTED")
        self.assertEqual(route_provider(headers), "ollama")
        self.assertEqual(len(body["chunk_ids"]), 2)
        self.assertTrue(body["answer"])
        cloud_chats = [r["body"] for r in self.upstream_log()
                       if r["locality"] == "cloud" and "embeddings" not in r["path"]]
        self.assertFalse(any(holds_the_sin(b) for b in cloud_chats))

    def test_an_answer_from_internal_chunks_may_use_a_cloud_model(self):
        team, key, _ = self.seed()
        self.set_clearance(team, "INTERNAL")
        status, headers, body = self.call(key, "POST", "/v1/rag/answer",
                                          {"collection": "handbook", "question": "What does the roadmap move?",
                                           "top_k": 2})
        self.assertEqual(status, 200, body)
        self.assertIn(headers.get("x-aegis-classification"), ("PUBLIC", "INTERNAL"))
        self.assertNotEqual(route_provider(headers), "ollama")

    def test_erasure_leaves_no_chunk_or_vector_behind_and_is_audited(self):
        team, key, docs = self.seed("erase")
        doc_id = docs["RESTRICTED"]["document_id"]
        status, _, body = self.call(key, "DELETE", f"/v1/rag/documents/{doc_id}")
        self.assertEqual(status, 200, body)
        self.assertEqual(body, {"document_id": doc_id, "deleted": True, "chunks_deleted": 1})
        status, _, body = self.call(key, "GET", f"/v1/rag/documents/{doc_id}")
        self.assertEqual(status, 404, body)
        status, _, body = self.call(key, "DELETE", f"/v1/rag/documents/{doc_id}")
        self.assertEqual(status, 404, body)
        chunks = self.query(key, "erase", DOCS["RESTRICTED"][1], 10)
        self.assertEqual(len(chunks), 3)
        self.assertNotIn(doc_id, [c["document_id"] for c in chunks])
        status, _, listed = self.call(key, "GET", "/v1/rag/documents?collection=erase")
        self.assertEqual(status, 200, listed)
        self.assertEqual(sorted(d["document_id"] for d in listed["data"]),
                         sorted(docs[level]["document_id"] for level in LEVELS if level != "RESTRICTED"))
        self.assertEqual(self.rows_left(doc_id), 0)
        status, audit = self.gw.admin("GET", f"/admin/v1/audit?team={team}&limit=200")
        self.assertEqual(status, 200, audit)
        rows = audit["data"] if isinstance(audit, dict) else audit
        surfaces = {r["surface"] for r in rows}
        self.assertTrue({"rag.ingest", "rag.query", "rag.erase"} <= surfaces, surfaces)
        erased = [r for r in rows if r["surface"] == "rag.erase"]
        self.assertEqual(erased[0]["classification"], "RESTRICTED")
        self.assertIn(doc_id, erased[0]["reason"])
        dumped = json.dumps(rows)
        for _, text in DOCS.values():
            self.assertNotIn(text, dumped)
        self.assertNotIn("046 454 286", dumped)

    def test_another_teams_documents_do_not_exist_for_it(self):
        _, _, docs = self.seed("shared-name")
        _, other = self.make_team()
        doc_id = docs["PUBLIC"]["document_id"]
        for method in ("GET", "DELETE"):
            status, _, body = self.call(other, method, f"/v1/rag/documents/{doc_id}")
            self.assertEqual(status, 404, body)
            self.assertEqual(body["error"]["type"], "not_found")
        self.assertEqual(self.query(other, "shared-name", "cafeteria lunch"), [])
        status, _, listed = self.call(other, "GET", "/v1/rag/documents?collection=shared-name")
        self.assertEqual((status, listed["data"]), (200, []))

    def test_a_key_with_a_lower_clearance_sees_less_than_its_team(self):
        team, key, docs = self.seed("keyed")
        status, narrowed = self.gw.admin("POST", "/admin/v1/keys", {"team": team, "clearance": "PUBLIC"})
        self.assertEqual(status, 201, narrowed)
        self.assertEqual(narrowed["clearance"], "PUBLIC")
        status, _, me = self.call(narrowed["key"], "GET", "/v1/whoami")
        self.assertEqual((status, me["clearance"]), (200, "PUBLIC"))
        status, _, me = self.call(key, "GET", "/v1/whoami")
        self.assertEqual((status, me["clearance"]), (200, "RESTRICTED"))
        for question in ("payroll SIN employee", "acquisition board price", "cafeteria lunch"):
            chunks = self.query(narrowed["key"], "keyed", question, 10)
            self.assertEqual([c["document_id"] for c in chunks], [docs["PUBLIC"]["document_id"]], question)
            self.assertEqual(len(self.query(key, "keyed", question, 10)), 4)
        status, _, body = self.call(narrowed["key"], "POST", "/v1/rag/answer",
                                    {"collection": "keyed", "question": "When is the payroll SIN paid?"})
        self.assertEqual(status, 200, body)
        self.assertEqual(body["chunk_ids"], [self.query(narrowed["key"], "keyed", "cafeteria", 1)[0]["id"]])
        status, listed = self.gw.admin("GET", f"/admin/v1/keys?team={team}")
        self.assertEqual(status, 200, listed)
        self.assertEqual(sorted(str(k["clearance"]) for k in listed["keys"]), ["None", "PUBLIC"])
        # Lowering the team below the key's clearance lowers the key too.
        status, internal = self.gw.admin("POST", "/admin/v1/keys", {"team": team, "clearance": "INTERNAL"})
        self.assertEqual(status, 201, internal)
        self.set_clearance(team, "PUBLIC")
        status, _, me = self.call(internal["key"], "GET", "/v1/whoami")
        self.assertEqual(me["clearance"], "PUBLIC")

    def test_a_key_clearance_above_the_teams_is_refused(self):
        team, _ = self.make_team("INTERNAL")
        for clearance, want in (("CONFIDENTIAL", 400), ("RESTRICTED", 400), ("SECRET", 400), ("INTERNAL", 201),
                                ("public", 201)):
            status, body = self.gw.admin("POST", "/admin/v1/keys", {"team": team, "clearance": clearance})
            self.assertEqual(status, want, (clearance, body))
        status, body = self.gw.admin("POST", "/admin/v1/keys", {"team": "no-such-team", "clearance": "PUBLIC"})
        self.assertEqual(status, 404, body)
        status, listed = self.gw.admin("GET", f"/admin/v1/keys?team={team}")
        self.assertEqual(sorted(str(k["clearance"]) for k in listed["keys"]), ["INTERNAL", "None", "PUBLIC"])

    def test_bad_requests_are_400_and_store_nothing(self):
        _, key = self.make_team()
        bad = [
            {"text": "x"},
            {"collection": "c", "text": "x", "chunks": ["y"]},
            {"collection": "c"},
            {"collection": "c", "text": "x", "colour": "red"},
            {"collection": "c", "chunks": []},
            {"collection": "c", "chunks": [1]},
            {"collection": "bad name!", "text": "x"},
            {"collection": "c", "text": "x", "classification": "SECRET"},
            {"collection": "c", "text": "x", "metadata": "not an object"},
        ]
        for body in bad:
            status, _, reply = self.call(key, "POST", "/v1/rag/documents", body)
            self.assertEqual(status, 400, (body, reply))
            self.assertEqual(reply["error"]["type"], "invalid_request", body)
        for body in ({"collection": "c", "query": "x", "top_k": 0}, {"collection": "c", "query": "x", "top_k": 51},
                     {"collection": "c"}, {"collection": "c", "query": "x", "k": 3}):
            status, _, reply = self.call(key, "POST", "/v1/rag/query", body)
            self.assertEqual(status, 400, (body, reply))
        status, _, listed = self.call(key, "GET", "/v1/rag/documents?collection=c")
        self.assertEqual((status, listed["data"]), (200, []))
        status, _, reply = self.call(key, "GET", "/v1/rag/documents")
        self.assertEqual(status, 400, reply)
        status, _, reply = self.call(key, "POST", "/v1/rag/documents",
                                     {"collection": "c", "text": "word " * 300_000})
        self.assertIn(status, (413,), reply)

    def test_metadata_and_source_come_back_with_the_document(self):
        _, key = self.make_team()
        status, _, doc = self.call(key, "POST", "/v1/rag/documents",
                                   {"collection": "meta", "text": "Plain words about gardening and soil.",
                                    "source": "garden.md", "metadata": {"author": "ops", "year": 2026}})
        self.assertEqual(status, 201, doc)
        status, _, got = self.call(key, "GET", f"/v1/rag/documents/{doc['document_id']}")
        self.assertEqual(status, 200, got)
        self.assertEqual((got["source"], got["metadata"], got["collection"]),
                         ("garden.md", {"author": "ops", "year": 2026}, "meta"))

    def test_a_filter_scores_only_matching_documents_within_the_clearance(self):
        team, key = self.make_team()
        words = "Quarterly planning notes for the platform group"
        ids = {}
        for dept, level in (("hr", "PUBLIC"), ("hr", "CONFIDENTIAL"), ("eng", "PUBLIC"), ("eng", "INTERNAL")):
            status, _, doc = self.call(key, "POST", "/v1/rag/documents",
                                       {"collection": "depts", "text": f"{words} ({dept}, {level.lower()}).",
                                        "classification": level, "metadata": {"dept": dept, "rev": 2}})
            self.assertEqual(status, 201, doc)
            ids[(dept, level)] = doc["document_id"]

        def query(key, flt, top_k=10):
            status, _, body = self.call(key, "POST", "/v1/rag/query",
                                        {"collection": "depts", "query": words, "top_k": top_k, "filter": flt})
            self.assertEqual(status, 200, body)
            return {c["document_id"] for c in body["chunks"]}, len(body["chunks"])

        self.assertEqual(query(key, {"dept": "hr"}), ({ids[("hr", "PUBLIC")], ids[("hr", "CONFIDENTIAL")]}, 2))
        self.assertEqual(query(key, {"dept": ["hr", "eng"], "rev": 2})[1], 4)
        self.assertEqual(query(key, {"dept": "hr"}, top_k=1)[1], 1)
        self.assertEqual(query(key, {"rev": "2"}), (set(), 0))  # a string is not the number 2
        self.set_clearance(team, "PUBLIC")
        self.assertEqual(query(key, {"dept": "hr"}), ({ids[("hr", "PUBLIC")]}, 1))
        for bad in ("hr", {"dept": {"nested": 1}}, {"dept": []}, {"dept": [None]}, [1]):
            status, _, reply = self.call(key, "POST", "/v1/rag/query",
                                         {"collection": "depts", "query": words, "filter": bad})
            self.assertEqual(status, 400, (bad, reply))
            self.assertEqual(reply["error"]["type"], "invalid_request")


class RagLocalOnly(Rag):
    """The default: every chunk and query embedded by the local provider (one index)."""
    config_text = None
    cloud_embedder = False



def pglite_dsn():
    path = os.environ.get("AEGIS_TEST_PGLITE_DSN_FILE")
    if not path or not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return f.read().strip()


@unittest.skipUnless(pglite_dsn(), "no pgvector test server in this run (ctest's pglite.start provides one)")
class RagPgvector(Rag):
    """The same on PostgreSQL with pgvector (PGlite; rag.postgres_dsn) beside the embedded store."""
    config_text = ("rag:\n  cloud_embedding_model: azure/text-embedding-3-small\n"
                   f"  postgres_dsn: \"{pglite_dsn()}\"\n  postgres_connections: 1\n")
    cloud_embedder = True

    def rows_left(self, doc_id):
        sql = ("SELECT (SELECT count(*) FROM rag_chunks WHERE document_id = '{0}') + (SELECT count(*) FROM "
               "rag_documents WHERE id = '{0}') + (SELECT count(*) FROM rag_vectors WHERE document_id = '{0}')")
        r = subprocess.run(["psql", pglite_dsn(), "-Atc", sql.format(doc_id)], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        return int(r.stdout.strip())


if __name__ == "__main__":
    unittest.main()
