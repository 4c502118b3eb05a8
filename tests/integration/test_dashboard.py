"""The Grafana dashboard and the alert rules against real data: a real Prometheus
scrapes a real `aegis serve --demo` (and loads deploy/prometheus/rules.yml) while a
short scripted load runs (chat with PII, a stream, RESTRICTED data, a budget
rejection, an injected provider fault, async jobs); then every dashboard query and
every rule expression is evaluated through Prometheus's HTTP API. Each must parse,
and every dashboard panel must show data. No Grafana server is needed: the
dashboard's queries are what Grafana would send, with its variables filled in."""
import json
import os
import re
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.parse

from aegis_harness import Gateway, wait_until
from test_prometheus_scrape import find_tool, free_port, http_get, tail

ROOT = os.path.abspath(os.environ.get("AEGIS_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..")))
DASHBOARD = os.path.join(ROOT, "deploy", "grafana", "dashboards", "aegis.json")
RULES = os.path.join(ROOT, "deploy", "prometheus", "rules.yml")
# What Grafana substitutes; the team variable's "All" is `.*`.
VARIABLES = {"$__rate_interval": "30s", "$__range": "5m", "$team": ".*"}


def grafana_expr(expr):
    for name, value in VARIABLES.items():
        expr = expr.replace(name, value)
    return expr


class Dashboard(unittest.TestCase):
    def setUp(self):
        self.gw = Gateway(args=["--demo"])
        self.addCleanup(self.gw.cleanup)
        self.tmp = tempfile.mkdtemp(prefix="aegis-dash-")
        prometheus = find_tool("prometheus")
        self.assertIsNotNone(prometheus, "prometheus not found: install the Debian package 'prometheus'")
        port = free_port()
        self.prom = f"http://127.0.0.1:{port}"
        config = os.path.join(self.tmp, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
                    f"rule_files: ['{RULES}']\n"
                    "scrape_configs:\n  - job_name: aegis\n    static_configs:\n"
                    f"      - targets: ['127.0.0.1:{self.gw.port}']\n")
        self.prom_log = os.path.join(self.tmp, "prometheus.log")
        with open(self.prom_log, "wb") as log:
            self.proc = subprocess.Popen([prometheus, f"--config.file={config}",
                                          f"--storage.tsdb.path={os.path.join(self.tmp, 'tsdb')}",
                                          f"--web.listen-address=127.0.0.1:{port}"],
                                         stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.addCleanup(self.stop_prometheus)
        wait_until(lambda: self.ready(), 30, "Prometheus to be ready")

    def ready(self):
        if self.proc.poll() is not None:
            self.fail(f"prometheus exited:\n{tail(self.prom_log)}")
        try:
            return http_get(self.prom + "/-/ready", timeout=1)[0] == 200
        except OSError:
            return False

    def stop_prometheus(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)

    def query(self, expr):
        status, body = http_get(f"{self.prom}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        doc = json.loads(body)
        self.assertEqual((status, doc.get("status")), (200, "success"), f"{expr}: {doc.get('error')}")
        return doc["data"]["result"]

    def team_key(self, name, budget):
        self.assertEqual(self.gw.admin("POST", "/admin/v1/teams", {"name": name, "monthly_budget_usd": budget})[0],
                         201)
        status, created = self.gw.admin("POST", "/admin/v1/keys", {"team": name})
        self.assertEqual(status, 201, created)
        return {"authorization": f"Bearer {created['key']}"}

    def chat(self, auth, content, **extra):
        body = {"model": "auto", "max_tokens": 32, "messages": [{"role": "user", "content": content}], **extra}
        return self.gw.request("POST", "/v1/chat/completions", body, auth, timeout=30)

    def load(self, ops, tiny):
        self.assertEqual(self.chat(ops, "Email jane.doe@example.com about the renewal")[0], 200)
        self.assertEqual(self.chat(ops, "Tell me a story", stream=True)[0], 200)
        status, headers, _ = self.chat(ops, "Update the payroll file for SIN 046 454 286")
        self.assertEqual((status, headers.get("x-aegis-classification")), (200, "RESTRICTED"))
        self.assertEqual(self.chat(tiny, "Summarise the quarter")[0], 402)
        status, _, data = self.gw.request("POST", "/v1/jobs", {"task_type": "extraction", "prompt": "List the dates",
                                                              "max_tokens": 16}, ops, timeout=30)
        self.assertEqual(status, 202, data)
        job = json.loads(data)["id"]
        status, _, data = self.gw.request("GET", f"/v1/jobs/{job}?wait=10", headers=ops, timeout=30)
        self.assertEqual(json.loads(data)["status"], "succeeded", data)

    def test_every_dashboard_query_and_rule_expression_evaluates_on_real_data(self):
        # Scraped before the load, so the counters' first values are on record.
        wait_until(lambda: self.query("count_over_time(aegis_build_info[1m]) >= 2"), 20, "two scrapes")
        ops = self.team_key("ops", 50)
        tiny = self.team_key("tiny", 0.000001)
        self.load(ops, tiny)
        time.sleep(2)  # rates need two scrapes
        self.load(ops, tiny)
        # A provider fault: the cloud providers fail, the chat falls back, then everything fails (a 5xx).
        for provider in ("anthropic", "azure", "ollama"):
            status, body = self.gw.admin("POST", "/admin/v1/demo/faults",
                                         {"provider": provider, "mode": "status_503", "count": 1})
            self.assertEqual(status, 200, body)
        self.assertEqual(self.chat(ops, "Draft the release note")[0], 503)
        self.assertEqual(self.chat(ops, "Draft the release note")[0], 200)
        time.sleep(3)

        with open(DASHBOARD) as f:
            dashboard = json.load(f)
        panels = [p for p in dashboard["panels"] if p["type"] != "row"]
        self.assertGreaterEqual(len(panels), 20)

        def empty_panels():
            return [p["title"] for p in panels if not any(self.query(grafana_expr(t["expr"])) for t in p["targets"])]
        # Scrapes every second: rates fill in within a few.
        try:
            wait_until(lambda: not empty_panels(), 20, "every panel to show data", interval=1)
        except AssertionError:
            self.assertEqual(empty_panels(), [], "dashboard panels the load should fill but that show no data")
        # The headline compliance number reads 0 under this load.
        self.assertEqual(self.query("sum(aegis_pipeda_violations_total)")[0]["value"][1], "0")

        import yaml
        with open(RULES) as f:
            groups = yaml.safe_load(f)["groups"]
        evaluated = 0
        records = []
        for group in groups:
            for rule in group["rules"]:
                self.query(rule["expr"])
                evaluated += 1
                if "record" in rule:
                    records.append(rule)
        self.assertGreaterEqual(evaluated, 19)
        # Every recording rule reads series this load fills (requests, overhead,
        # budgets): each expression returns data.
        self.assertGreaterEqual(len(records), 9)

        def empty_records():
            return [r["record"] for r in records if not self.query(r["expr"])]
        try:
            wait_until(lambda: not empty_records(), 20, "every recording rule to return data", interval=1)
        except AssertionError:
            self.assertEqual(empty_records(), [], "recording rules the load should fill but that return nothing")
        # Prometheus loaded the same rules and finds them healthy.
        status, body = http_get(self.prom + "/api/v1/rules")
        groups = json.loads(body)["data"]["groups"]
        unhealthy = [r["name"] for g in groups for r in g["rules"] if r.get("health") != "ok"]
        self.assertEqual(unhealthy, [])
        self.assertEqual(sum(len(g["rules"]) for g in groups), evaluated)
        # Nothing fired that this load does not justify: no violation, no dropped row.
        status, body = http_get(self.prom + "/api/v1/alerts")
        firing = {a["labels"]["alertname"] for a in json.loads(body)["data"]["alerts"] if a["state"] == "firing"}
        self.assertFalse(firing & {"AegisPipedaViolation", "AegisAuditRowsDropped"}, firing)


if __name__ == "__main__":
    unittest.main()
