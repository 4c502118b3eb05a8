"""Money in JSON is a plain decimal, never in exponent form (issue 11).

Every JSON writer of money (team JSON, the spend endpoint, audit rows' and
jobs' cost_usd) writes the exact decimal of the integer micro-dollars, so a
100000-USD cap reads 100000.0, not 1e+05, and a cost of 54 micro-dollars reads
0.000054, not 5.4e-05. These tests read the raw response text, since a JSON
parser would hide the difference.
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from aegis_harness import AEGIS_BIN, GatewayTestCase, free_port, wait_until

# A JSON number in exponent form (not hex digits inside an id string such as "job_01a241e3...").
EXPONENT = re.compile(r"[:\[,]-?\d+(?:\.\d+)?[eE][+-]?\d+")
NUMBER = r"(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)"


def usd_text(micros):
    """Money::to_usd_string: the exact decimal, trailing zeros dropped, at least one decimal."""
    text = f"{micros // 1_000_000}.{micros % 1_000_000:06d}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def raw_field(text, name):
    """The number text of `"name":<number>` in a JSON body."""
    m = re.search(r'"' + re.escape(name) + r'":' + NUMBER, text)
    if not m:
        raise AssertionError(f"no numeric {name} in {text}")
    return m.group(1)


class MoneyJson(GatewayTestCase):
    gateway_args = ("--demo",)

    def raw_admin(self, method, path, body=None):
        status, _, data = self.gw.request(method, path, body, {"authorization": f"Bearer {self.gw.admin_key}"})
        return status, data.decode()

    def team_with_key(self, name, budget):
        status, text = self.raw_admin("POST", "/admin/v1/teams", {"name": name, "monthly_budget_usd": budget})
        self.assertEqual(status, 201, text)
        status, created = self.gw.admin("POST", "/admin/v1/keys", {"team": name})
        self.assertEqual(status, 201, created)
        return text, created["key"]

    def tiny_call(self, key):
        """One haiku chat (demo price: 1 and 5 micro-dollars a token): the cost header's text."""
        status, headers, data = self.gw.request(
            "POST", "/v1/chat/completions", {"model": "haiku", "messages": [{"role": "user", "content": "Hi"}]},
            {"authorization": f"Bearer {key}"})
        self.assertEqual(status, 200, data)
        cost = headers["x-aegis-cost-usd"]
        self.assertLess(float(cost), 0.0001, "a cost this small is what a double prints as 5.4e-05")
        self.assertGreater(float(cost), 0)
        return cost

    def test_team_json_and_spend_endpoint_write_a_large_cap_and_a_tiny_cost_as_plain_decimals(self):
        created, key = self.team_with_key("big-cap", 100000)
        self.assertEqual(raw_field(created, "monthly_budget_usd"), "100000.0", created)
        status, text = self.raw_admin("GET", "/admin/v1/teams/big-cap")
        self.assertEqual(status, 200, text)
        self.assertEqual(raw_field(text, "monthly_budget_usd"), "100000.0", text)

        cost = self.tiny_call(key)
        status, text = self.raw_admin("GET", "/admin/v1/teams/big-cap/spend")
        self.assertEqual(status, 200, text)
        self.assertIsNone(EXPONENT.search(text), text)
        self.assertEqual(raw_field(text, "cap_usd"), "100000.0", text)
        self.assertEqual(raw_field(text, "spent_usd"), cost, text)
        self.assertEqual(raw_field(text, "reserved_usd"), "0.0", text)
        micros = round(float(cost) * 1_000_000)
        self.assertEqual(raw_field(text, "remaining_usd"), usd_text(100_000_000_000 - micros), text)
        spend = json.loads(text)
        self.assertEqual(spend["cap_usd"], 100000)
        self.assertEqual(round(spend["spent_usd"] * 1_000_000), micros)

    def test_audit_rows_write_a_tiny_cost_as_a_plain_decimal(self):
        _, key = self.team_with_key("tiny-audit", 5)
        cost = self.tiny_call(key)
        def audited():
            status, text = self.raw_admin("GET", "/admin/v1/audit?team=tiny-audit")
            self.assertEqual(status, 200, text)
            return text if json.loads(text)["count"] > 0 else None

        text = wait_until(audited, 5, "the call's audit row")
        self.assertEqual(json.loads(text)["count"], 1, text)
        self.assertIsNone(EXPONENT.search(text), text)
        self.assertEqual(raw_field(text, "cost_usd"), cost, text)

    def test_a_jobs_tiny_cost_is_a_plain_decimal(self):
        _, key = self.team_with_key("tiny-job", 5)
        status, _, data = self.gw.request("POST", "/v1/jobs",
                                          {"task_type": "extraction", "prompt": "Hi", "max_tokens": 8, "model": "haiku"},
                                          {"authorization": f"Bearer {key}"})
        self.assertEqual(status, 202, data)
        job_id = json.loads(data)["id"]
        status, _, data = self.gw.request("GET", f"/v1/jobs/{job_id}?wait=20", headers={"authorization": f"Bearer {key}"},
                                          timeout=30)
        text = data.decode()
        self.assertEqual(status, 200, text)
        job = json.loads(text)
        self.assertEqual(job["status"], "succeeded", job)
        self.assertIsNone(EXPONENT.search(text), text)
        usage = job["result"]["usage"]
        micros = usage["input_tokens"] + 5 * usage["output_tokens"]
        self.assertLess(micros, 100, "a cost this small is what a double prints in exponent form")
        self.assertEqual(raw_field(text, "cost_usd"), usd_text(micros), text)


class MoneyJsonCli(unittest.TestCase):
    """The CLI's JSON output (`admin teams list --json`, `route --explain --json`) writes money the same way."""

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="aegis-money-cli-")
        self.addCleanup(shutil.rmtree, self.workdir, True)
        self.config = os.path.join(self.workdir, "aegis.yaml")
        with open(self.config, "w") as f:
            f.write(f"""storage:
  sqlite_path: {os.path.join(self.workdir, "aegis.db")}
providers:
  - name: ollama
    type: ollama
    base_url: http://127.0.0.1:{free_port()}
    models: {{sonnet: "qwen2.5:14b"}}
""")

    def aegis(self, *args):
        r = subprocess.run([AEGIS_BIN, *args], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def test_a_large_budget_is_a_plain_decimal(self):
        self.aegis("admin", "--config", self.config, "teams", "create", "big-cli", "--budget-usd", "100000")
        listed = self.aegis("admin", "--config", self.config, "--json", "teams", "list")
        self.assertIsNone(EXPONENT.search(listed), listed)
        self.assertEqual(raw_field(listed, "monthly_budget_usd"), "100000.0", listed)
        explained = self.aegis("route", "--config", self.config, "--explain", "--json", "--task", "chat",
                               "--team", "big-cli")
        self.assertIsNone(EXPONENT.search(explained), explained)
        self.assertEqual(raw_field(explained, "monthly_usd"), "100000.0", explained)
        self.assertEqual(raw_field(explained, "spent_usd"), "0.0", explained)
        self.assertEqual(raw_field(explained, "remaining_usd"), "100000.0", explained)


if __name__ == "__main__":
    unittest.main()
