"""A failed RESTRICTED job shows the route the router gave it (issue 11).

With the local provider down, a RESTRICTED job fails with 503
no_local_provider. GET /v1/jobs/{id} must still say where the job was meant
to go (tier, provider, model, reason), also when the local provider was not
even tried because its breaker is open, instead of "route": null.
"""
import json
import unittest

from aegis_harness import DemoUpstreams, GatewayTestCase

# One failure opens a breaker, so the second job meets an open circuit and no
# provider is tried at all; no background check may close it meanwhile.
CONFIG = """
resilience:
  failure_threshold: 1
  open_duration_s: 600
  health_check_interval_s: 0
"""
SIN = "046 454 286"


class FailedJobRoute(DemoUpstreams, GatewayTestCase):
    gateway_args = ("--demo",)
    config_text = CONFIG

    def setUp(self):
        status, _ = self.gw.admin("POST", "/admin/v1/teams", {"name": "restricted-jobs", "monthly_budget_usd": 50})
        self.assertEqual(status, 201)
        status, created = self.gw.admin("POST", "/admin/v1/keys", {"team": "restricted-jobs"})
        self.assertEqual(status, 201, created)
        self.key = created["key"]
        self.addCleanup(self.fault, "ollama", "none")

    def run_job(self, marker):
        headers = {"authorization": f"Bearer {self.key}"}
        body = {"task_type": "summarization", "prompt": f"{marker}: client SIN {SIN}, summarise", "max_tokens": 64}
        status, _, data = self.gw.request("POST", "/v1/jobs", body, headers)
        self.assertEqual(status, 202, data)
        reply = json.loads(data)
        self.assertEqual(reply["classification"], "RESTRICTED", reply)
        status, _, data = self.gw.request("GET", f"/v1/jobs/{reply['id']}?wait=20", headers=headers, timeout=30)
        self.assertEqual(status, 200, data)
        job = json.loads(data)
        self.assertEqual(job["status"], "failed", job)
        self.assertEqual(job["error"]["type"], "no_local_provider", job)
        return job

    def assertRouteIsTheLocalOne(self, job):
        route = job["route"]
        self.assertIsNotNone(route, job)
        # summarization -> sonnet; RESTRICTED keeps only the local provider.
        self.assertEqual({k: route[k] for k in ("tier", "provider", "model")},
                         {"tier": "sonnet", "provider": "ollama", "model": "qwen2.5:14b"}, job)
        self.assertIn("restricted→local-only", route["reason"], job)

    def test_a_failed_restricted_job_shows_its_route_whether_or_not_the_provider_was_tried(self):
        self.fault("ollama", "status_503", 1000)
        tried = self.run_job("route-tried")
        self.assertTrue([r for r in self.upstream_log() if "route-tried" in r["body"]], "ollama was not tried")
        self.assertRouteIsTheLocalOne(tried)

        # The breaker is open now: the job fails without any provider being tried.
        untried = self.run_job("route-untried")
        self.assertFalse([r for r in self.upstream_log() if "route-untried" in r["body"]], "ollama was tried")
        self.assertRouteIsTheLocalOne(untried)
        self.assertFalse([r for r in self.upstream_log() if r["locality"] == "cloud" and SIN in r["body"]])


if __name__ == "__main__":
    unittest.main()
