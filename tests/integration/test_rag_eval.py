"""Retrieval quality per clearance on a small labelled set (tests/rag/eval/).

A `--demo` gateway (the simulator's embedder: feature-hashed bags of words)
with `harbourline.example` as an internal e-mail domain. The set's documents
are ingested into one collection with a RESTRICTED-cleared key; each must get
the level its `expected_level` names (the most restrictive of its chunks'), so
a SIN, a card number, an account number or an IBAN makes a document
RESTRICTED whatever it declares. Then, for each clearance, a key with that
clearance asks every question with top_k 5: no chunk above the clearance comes
back, exactly min(5, visible chunks) do, best first, and recall@5 over the
relevant documents the caller may see (tests/rag/eval/README.md) must reach
RECALL_FLOOR, well above what a query-blind order would get (printed as
"chance"). Twice: with every vector from the local embedder, and with a
cloud embedder for PUBLIC and INTERNAL chunks (a query then searches two
indexes and merges their scores). The measured numbers are printed, and
written as JSON ({configuration: report}) to $AEGIS_RAG_EVAL_OUT when set.
"""
import json
import math
import os
import sys
import time
import unittest

from aegis_harness import GatewayTestCase

LEVELS = ["PUBLIC", "INTERNAL", "CONFIDENTIAL", "RESTRICTED"]
EVAL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "rag", "eval")
TOP_K = 5
# From what was measured (README.md): 0.94 to 1.00 per clearance, and the
# embedder is deterministic; a query-blind order gets 0.11 to 0.42.
RECALL_FLOOR = 0.9
# Every configuration's report, by name, for $AEGIS_RAG_EVAL_OUT.
REPORTS = {}


def load(name):
    with open(os.path.join(EVAL_DIR, name), encoding="utf-8") as f:
        return json.load(f)


def rank(level):
    return LEVELS.index(level)


def percentile(samples, p):
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def chance_of_finding(total, own, k):
    """The probability that a random top-k of `total` chunks holds one of a document's `own` chunks."""
    k = min(k, total)
    return 1 - math.comb(total - own, k) / math.comb(total, k)


class RagEval(GatewayTestCase):
    """The default: every chunk and query embedded by the local provider (one index)."""
    name = "local_only"
    gateway_args = ("--demo",)
    config_text = "classification:\n  internal_domains: [harbourline.example]\n"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.ingest_all()
        except BaseException:
            cls.gw.cleanup()
            raise

    @classmethod
    def ingest_all(cls):
        documents = load("documents.json")
        cls.collection = documents["collection"]
        cls.documents = documents["documents"]
        cls.questions = load("questions.json")["questions"]
        cls.team = f"rag-eval-{int(time.time() * 1000) % 1000000}"
        status, body = cls.gw.admin("POST", "/admin/v1/teams",
                                    {"name": cls.team, "monthly_budget_usd": 50, "clearance": "RESTRICTED"})
        assert status == 201, body
        key = cls.make_key("RESTRICTED")
        cls.ingested = {}  # eval id -> the ingest response
        started = time.perf_counter()
        for doc in cls.documents:
            body = {"collection": cls.collection, "text": doc["text"], "source": doc["source"]}
            if "classification" in doc:
                body["classification"] = doc["classification"]
            status, reply = cls.call(key, "POST", "/v1/rag/documents", body)
            assert status == 201, (doc["id"], reply)
            cls.ingested[doc["id"]] = reply
        cls.ingest_seconds = time.perf_counter() - started
        cls.eval_id = {reply["document_id"]: doc_id for doc_id, reply in cls.ingested.items()}
        cls.chunk_levels = {doc_id: [c["classification"] for c in reply["chunks"]]
                            for doc_id, reply in cls.ingested.items()}
        cls.level = {doc_id: max(levels, key=rank) for doc_id, levels in cls.chunk_levels.items()}

    @classmethod
    def make_key(cls, clearance):
        status, created = cls.gw.admin("POST", "/admin/v1/keys", {"team": cls.team, "clearance": clearance})
        assert status == 201, created
        assert created["clearance"] == clearance, created
        return created["key"]

    @classmethod
    def call(cls, key, method, path, body=None):
        status, _, data = cls.gw.request(method, path, body, {"authorization": f"Bearer {key}"}, timeout=30)
        return status, (json.loads(data) if data else None)

    def test_each_document_gets_its_expected_level(self):
        self.assertGreaterEqual(len(self.documents), 40)
        self.assertEqual({d["expected_level"] for d in self.documents}, set(LEVELS))
        wrong = []
        for doc in self.documents:
            levels = self.chunk_levels[doc["id"]]
            if self.level[doc["id"]] != doc["expected_level"]:
                wrong.append((doc["id"], doc["expected_level"], levels))
            if "expected_chunk_levels" in doc and levels != doc["expected_chunk_levels"]:
                wrong.append((doc["id"], doc["expected_chunk_levels"], levels))
        self.assertEqual(wrong, [], "(id, expected, the chunks' levels)")
        # RESTRICTED is found in the data, never only declared.
        for doc in self.documents:
            self.assertNotEqual(doc.get("classification"), "RESTRICTED", doc["id"])

    def test_recall_at_5_per_clearance(self):
        known = set(self.level)
        for question in self.questions:
            self.assertTrue(question["relevant_documents"], question["id"])
            self.assertLessEqual(set(question["relevant_documents"]), known, question["id"])
        results = {}
        all_ms = []
        for clearance in LEVELS:
            key = self.make_key(clearance)
            visible = {doc_id: sum(rank(level) <= rank(clearance) for level in levels)
                       for doc_id, levels in self.chunk_levels.items()}
            visible_chunks = sum(visible.values())
            want = min(TOP_K, visible_chunks)
            recalls, chances, misses, ms = [], [], [], []
            for question in self.questions:
                started = time.perf_counter()
                status, reply = self.call(key, "POST", "/v1/rag/query",
                                          {"collection": self.collection, "query": question["question"],
                                           "top_k": TOP_K})
                ms.append((time.perf_counter() - started) * 1000)
                self.assertEqual(status, 200, (clearance, question["id"], reply))
                chunks = reply["chunks"]
                self.assertEqual(len(chunks), want, (clearance, question["id"]))
                for chunk in chunks:
                    self.assertLessEqual(rank(chunk["classification"]), rank(clearance),
                                         (clearance, question["id"], chunk["id"]))
                    self.assertIn(chunk["document_id"], self.eval_id, (clearance, question["id"]))
                scores = [c["score"] for c in chunks]
                self.assertEqual(scores, sorted(scores, reverse=True), (clearance, question["id"]))
                relevant = [d for d in question["relevant_documents"] if rank(self.level[d]) <= rank(clearance)]
                if not relevant:
                    continue  # nothing this caller may see answers it
                found = {self.eval_id[c["document_id"]] for c in chunks}
                missed = [d for d in relevant if d not in found]
                recalls.append(1 - len(missed) / len(relevant))
                chances.append(sum(chance_of_finding(visible_chunks, visible[d], TOP_K) for d in relevant)
                               / len(relevant))
                if missed:
                    misses.append({"question": question["id"], "missed": missed,
                                   "got": [self.eval_id[c["document_id"]] for c in chunks]})
            all_ms += ms
            results[clearance] = {
                "questions": len(recalls),
                "visible_chunks": visible_chunks,
                "recall_at_5": sum(recalls) / len(recalls),
                "chance_recall_at_5": sum(chances) / len(chances),
                "query_ms": {"p50": percentile(ms, 50), "p99": percentile(ms, 99)},
                "misses": misses,
            }
        chunks_total = sum(len(levels) for levels in self.chunk_levels.values())
        report = {
            "configuration": self.name,
            "top_k": TOP_K,
            "recall_floor": RECALL_FLOOR,
            "documents": len(self.documents),
            "questions": len(self.questions),
            "ingest": {"chunks": chunks_total, "seconds": self.ingest_seconds,
                       "chunks_per_s": chunks_total / self.ingest_seconds},
            "query_ms": {"count": len(all_ms), "p50": percentile(all_ms, 50), "p99": percentile(all_ms, 99)},
            "clearances": results,
        }
        self.print_table(report)
        REPORTS[self.name] = report
        out = os.environ.get("AEGIS_RAG_EVAL_OUT")
        if out:
            with open(out, "w", encoding="utf-8") as f:
                json.dump(REPORTS, f, indent=2)
                f.write("\n")
        for clearance, r in results.items():
            # The floor means something only well above what a query-blind order would reach.
            self.assertGreater(RECALL_FLOOR, r["chance_recall_at_5"] + 0.2, clearance)
            self.assertGreaterEqual(r["recall_at_5"], RECALL_FLOOR, (clearance, r["misses"]))

    @staticmethod
    def print_table(report):
        lines = [f"\n{report['configuration']}: recall@{report['top_k']} on {report['documents']} documents, "
                 f"{report['questions']} questions",
                 f"{'clearance':<13}{'questions':>10}{'chunks':>8}{'recall@5':>10}{'chance':>8}"
                 f"{'p50 ms':>9}{'p99 ms':>9}"]
        for clearance, r in report["clearances"].items():
            lines.append(f"{clearance:<13}{r['questions']:>10}{r['visible_chunks']:>8}{r['recall_at_5']:>10.3f}"
                         f"{r['chance_recall_at_5']:>8.3f}{r['query_ms']['p50']:>9.2f}{r['query_ms']['p99']:>9.2f}")
        q, i = report["query_ms"], report["ingest"]
        lines.append(f"{'all':<13}{q['count']:>10}{'':>8}{'':>10}{'':>8}{q['p50']:>9.2f}{q['p99']:>9.2f}")
        lines.append(f"ingestion: {i['chunks']} chunks in {i['seconds']:.2f} s = {i['chunks_per_s']:.1f} chunks/s")
        for clearance, r in report["clearances"].items():
            for miss in r["misses"]:
                lines.append(f"  {clearance} {miss['question']} missed {miss['missed']}, got {miss['got']}")
        sys.stderr.write("\n".join(lines) + "\n")


class RagEvalCloudEmbedder(RagEval):
    """A cloud embedder for PUBLIC and INTERNAL chunks: a query searches two indexes and merges the scores."""
    name = "cloud_embedder"
    config_text = RagEval.config_text + "rag:\n  cloud_embedding_model: azure/text-embedding-3-small\n"


if __name__ == "__main__":
    unittest.main()
