"""A changed embedding model re-embeds the stored chunks in the background (issue 17).

Documents are ingested under one local and one cloud embedding model; the
gateway is restarted on the same database with both models changed. The
first query of the team starts the catch-up: every chunk gets a vector from
the new local model, only PUBLIC and INTERNAL chunks one from the new cloud
model (the simulator's request log shows no RESTRICTED text reaching it), and
retrieval then finds every document through the new models' indexes.
"""
import http.client
import json
import os
import sqlite3
import subprocess
import tempfile
import unittest

from aegis_harness import AEGIS_BIN, Gateway, free_port, parse_metrics, wait_until

SIN = "046 454 286"
DOCS = [
    ("PUBLIC", "The cafeteria serves lunch at noon on the third floor every weekday."),
    (None, "The roadmap for next quarter moves the billing service to the new cluster."),
    (None, f"Payroll record: employee SIN {SIN} is paid on the fifteenth."),
]


def sim_call(port, method, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        data = response.read()
        return json.loads(data) if response.status == 200 and data else None
    except OSError:
        return None
    finally:
        conn.close()


class Reembed(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        self.db = os.path.join(self.dir.name, "aegis.db")
        self.sim_port = free_port()
        self.sim = subprocess.Popen([AEGIS_BIN, "sim", "--listen", f"127.0.0.1:{self.sim_port}", "--threads", "2",
                                     "--request-log", "1000", "--log-level", "warn"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(self.sim.wait)
        self.addCleanup(self.sim.kill)
        wait_until(lambda: sim_call(self.sim_port, "GET", "/_sim/health") is not None, 20, "the simulator to start")

    def gateway(self, local_model, cloud_model):
        provider = ("  - name: {name}\n    type: openai_compat\n"
                    f"    base_url: http://127.0.0.1:{self.sim_port}/v1\n    api_key: test\n"
                    "    locality: {locality}\n    models: {{haiku: sim-small, sonnet: sim-medium, opus: sim-large}}\n"
                    "    embedding_model: {model}\n")
        config = (f"storage:\n  sqlite_path: {self.db}\nproviders:\n"
                  + provider.format(name="onprem", locality="local", model=local_model)
                  + provider.format(name="cloudy", locality="cloud", model=cloud_model)
                  + f"rag:\n  cloud_embedding_model: cloudy/{cloud_model}\n")
        return Gateway(config_text=config)

    def embedded_texts(self, model):
        log = sim_call(self.sim_port, "GET", "/_sim/requests")["requests"]
        texts = []
        for r in log:
            if r["method"] != "POST" or "embeddings" not in r["path"]:
                continue
            body = json.loads(r["body"])
            if body.get("model") == model:
                texts.extend(body["input"] if isinstance(body["input"], list) else [body["input"]])
        return texts

    def vectors(self):
        db = sqlite3.connect(self.db)
        try:
            return dict(db.execute("SELECT model, COUNT(*) FROM rag_vectors GROUP BY model").fetchall())
        finally:
            db.close()

    def test_a_changed_model_reembeds_every_chunk_and_the_cloud_one_only_up_to_internal(self):
        gw = self.gateway("embed-a", "embed-c1")
        try:
            self.assertEqual(gw.admin("POST", "/admin/v1/teams", {"name": "re", "monthly_budget_usd": 50,
                                                                "clearance": "RESTRICTED"})[0], 201)
            status, created = gw.admin("POST", "/admin/v1/keys", {"team": "re"})
            self.assertEqual(status, 201, created)
            key = created["key"]
            auth = {"authorization": f"Bearer {key}"}
            levels = []
            for declared, text in DOCS:
                body = {"collection": "kb", "text": text}
                if declared:
                    body["classification"] = declared
                status, _, data = gw.request("POST", "/v1/rag/documents", body, auth, timeout=30)
                self.assertEqual(status, 201, data)
                levels.append(json.loads(data)["chunks"][0]["classification"])
            self.assertEqual(levels, ["PUBLIC", "INTERNAL", "RESTRICTED"])
        finally:
            gw.cleanup()
        self.assertEqual(self.vectors(), {"onprem/embed-a": 3, "cloudy/embed-c1": 2})
        sim_call(self.sim_port, "DELETE", "/_sim/requests")

        gw = self.gateway("embed-b", "embed-c2")
        try:
            def query(text):
                status, _, data = gw.request("POST", "/v1/rag/query", {"collection": "kb", "query": text,
                                                                      "top_k": 5}, auth, timeout=30)
                self.assertEqual(status, 200, data)
                return json.loads(data)["chunks"]

            query("When is the payroll paid?")  # the first use of the new models starts the catch-up

            wait_until(lambda: self.vectors() == {"onprem/embed-a": 3, "cloudy/embed-c1": 2, "onprem/embed-b": 3,
                                                 "cloudy/embed-c2": 2}, 20, "the chunks to be re-embedded")
            gw.wait_for_log("rag_reembedded", timeout=10)  # logged after the commit it counts
            reembedded = {dict(labels)["model"]: value for (name, labels), value in gw.metrics().items()
                          if name == "aegis_rag_chunks_reembedded_total"}
            self.assertEqual(reembedded, {"onprem/embed-b": 3, "cloudy/embed-c2": 2})
            cloud_texts = "\n".join(self.embedded_texts("embed-c2"))
            local_texts = "\n".join(self.embedded_texts("embed-b"))
            self.assertIn(DOCS[0][1], cloud_texts)
            self.assertIn(DOCS[1][1], cloud_texts)
            self.assertNotIn(SIN, cloud_texts, "a RESTRICTED chunk reached the cloud embedder")
            self.assertIn(SIN, local_texts)
            # Every document is found again through the new models' indexes.
            found = {c["text"] for c in query("payroll record employee SIN fifteenth roadmap cafeteria lunch")}
            self.assertEqual(found, {text for _, text in DOCS})
        finally:
            gw.cleanup()


if __name__ == "__main__":
    unittest.main()
