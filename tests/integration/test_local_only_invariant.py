"""The local-only invariant through the real binary (issue 12).

A Luhn-valid Maestro number, however it is written, runs on the local
provider (`ollama` in the demo) through every surface: /v1/chat/completions,
/v1/messages, streaming and /v1/jobs; the cloud simulators never see its
digits. A value that only the independent egress detector recognises (a SIN
whose context word stands further away than the classifier looks) is vetoed
at egress and moved to the local provider too, with the veto in the
response headers, the audit row and aegis_egress_vetoes_total{rule}.
"""
import json
import re
import time
import unittest

from aegis_harness import GatewayTestCase
from test_jobs import FINAL, JobClient, metric

MAESTRO_DIGITS = "6759649826438453"
MAESTRO_SPELLINGS = ["6759 6498 2643 8453", "6759.6498.2643.8453", "6759-6498-2643-8453",
                     "67 59 64 98 26 43 84 53", "6759\u00a06498\u00a02643\u00a08453"]
# The classifier looks 48 bytes back for a SIN word; the egress detector 100.
FAR_SIN = ("My SIN, as the form on page two of the application asks for it in box fourteen, "
           "is 046454286.")


def digits(text):
    return re.sub(r"\D", "", text)


def route_provider(headers):
    return dict(part.split("=", 1) for part in headers["x-aegis-route"].split(";") if "=" in part).get("provider")


class LocalOnlyInvariant(JobClient, GatewayTestCase):
    gateway_args = ("--demo",)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.keys = {}

    def setUp(self):
        self.key = self.make_team(f"invariant-{len(self.keys)}-{int(time.time() * 1000) % 100000}")

    def cloud_digits(self):
        return "".join(digits(r.get("body", "")) for r in self.upstream_log() if r["locality"] == "cloud")

    def chat(self, path, content, stream=False):
        body = {"model": "auto", "max_tokens": 32, "messages": [{"role": "user", "content": content}]}
        if stream:
            body["stream"] = True
        headers = self.auth(self.key)
        if path == "/v1/messages":
            headers["anthropic-version"] = "2023-06-01"
        return self.gw.request("POST", path, body, headers, timeout=30)

    def assertLocalRestricted(self, status, headers, data, what):
        self.assertEqual(status, 200, f"{what}: {data[:300]!r}")
        self.assertEqual(headers.get("x-aegis-classification"), "RESTRICTED", what)
        self.assertIn("provider=ollama", headers.get("x-aegis-route", ""), what)

    def test_maestro_in_every_spelling_through_every_surface_runs_locally(self):
        for spelling in MAESTRO_SPELLINGS:
            prompt = f"Charge my Maestro card {spelling} for the renewal"
            for path in ("/v1/chat/completions", "/v1/messages"):
                for stream in (False, True):
                    status, headers, data = self.chat(path, prompt, stream)
                    self.assertLocalRestricted(status, headers, data, f"{path} stream={stream} {spelling!r}")
            job_id = self.submit(self.key, self.job_body(prompt, model="auto"))
            job = self.await_status(self.key, job_id, FINAL)
            self.assertEqual(job["status"], "succeeded", job)
            self.assertEqual(job["route"]["provider"], "ollama", job)
            self.assertEqual(job["classification"], "RESTRICTED", job)
        self.assertNotIn(MAESTRO_DIGITS, self.cloud_digits())
        local = "".join(digits(r.get("body", "")) for r in self.upstream_log() if r["provider"] == "ollama")
        self.assertIn(MAESTRO_DIGITS, local, "the local provider got the request as written")

    def test_a_value_only_the_egress_detector_sees_is_vetoed_and_runs_locally(self):
        before = metric(self.metrics(), "aegis_egress_vetoes_total", rule="sin.context")
        self.assertIsNotNone(before, "every rule's series exists from start-up")
        for path in ("/v1/chat/completions", "/v1/messages"):
            for stream in (False, True):
                status, headers, data = self.chat(path, FAR_SIN, stream)
                self.assertLocalRestricted(status, headers, data, f"{path} stream={stream}")
        job_id = self.submit(self.key, self.job_body(FAR_SIN, model="auto"))
        job = self.await_status(self.key, job_id, FINAL)
        self.assertEqual(job["status"], "succeeded", job)
        self.assertEqual(job["route"]["provider"], "ollama", job)
        self.assertNotIn("046454286", self.cloud_digits())
        local = "".join(digits(r.get("body", "")) for r in self.upstream_log() if r["provider"] == "ollama")
        self.assertIn("046454286", local)

        after = metric(self.metrics(), "aegis_egress_vetoes_total", rule="sin.context")
        self.assertEqual(after - before, 5, "four HTTP requests and one job were vetoed")

        status, _, data = self.gw.request("GET", "/admin/v1/audit?limit=100",
                                          headers={"authorization": f"Bearer {self.gw.admin_key}"})
        self.assertEqual(status, 200, data)
        rows = [r for r in json.loads(data)["data"] if r.get("egress_veto")]
        self.assertGreaterEqual(len(rows), 5, rows[:2])
        for row in rows[:5]:
            self.assertEqual(row["egress_rule"], "sin.context", row)
            self.assertEqual(row["classification"], "RESTRICTED", row)
            self.assertEqual(row["locality"], "local", row)
            self.assertTrue(any(step.endswith(":egress_veto") for step in row["fallback_path"]), row)

        status, _, data = self.gw.request("GET", "/admin/v1/audit/pipeda_violations",
                                          headers={"authorization": f"Bearer {self.gw.admin_key}"})
        self.assertEqual(status, 200, data)
        self.assertEqual(json.loads(data).get("count"), 0, data)


if __name__ == "__main__":
    unittest.main()
