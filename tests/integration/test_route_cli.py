"""`aegis route --explain`: the routing decision from the real binary, its config and its store.

The providers point at loopback ports; one of them is a listening socket that
must never see a connection, since explaining a route contacts nothing.
"""
import datetime
import json
import os
import select
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import unittest

from aegis_harness import AEGIS_BIN, free_port

CONFIG = """\
storage:
  sqlite_path: {db}
providers:
  - name: anthropic
    type: anthropic
    base_url: http://127.0.0.1:{watched}
    api_key: not-a-real-key
    locality: cloud
    models: {{haiku: claude-haiku-4-5, sonnet: claude-sonnet-4-5, opus: claude-opus-4-1}}
    capabilities: [vision, documents]
  - name: azure
    type: azure_openai
    base_url: http://127.0.0.1:{unused}
    api_key: not-a-real-key
    api_version: "2024-06-01"
    locality: cloud
    models: {{haiku: gpt-4o-mini, sonnet: gpt-4o, opus: o1}}
  - name: ollama
    type: ollama
    base_url: http://127.0.0.1:{unused}
    locality: local
    models: {{haiku: "llama3.2:3b", sonnet: "qwen2.5:14b", opus: "llama3.3:70b"}}
routing:
  task_tiers: {{code_review: sonnet, security_audit: opus}}
  fallback_chain: [anthropic, azure, ollama]
  downgrade_opus_below_usd: 1.00
  downgrade_sonnet_below_usd: 0.10
  team_models:
    interns: [haiku, sonnet]
"""

CLOUD_ONLY = """\
storage:
  sqlite_path: {db}
providers:
  - name: anthropic
    type: anthropic
    base_url: http://127.0.0.1:{unused}
    api_key: not-a-real-key
    locality: cloud
    models: {{haiku: claude-haiku-4-5, sonnet: claude-sonnet-4-5, opus: claude-opus-4-1}}
"""


class RouteExplain(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.workdir = tempfile.mkdtemp(prefix="aegis-route-")
        cls.db = os.path.join(cls.workdir, "aegis.db")
        # Accepts nothing: a connection would show up as a readable socket.
        cls.watch = socket.socket()
        cls.watch.bind(("127.0.0.1", 0))
        cls.watch.listen(8)
        cls.config = cls.write("aegis.yaml", CONFIG.format(db=cls.db, watched=cls.watch.getsockname()[1],
                                                           unused=free_port()))
        cls.cloud_only = cls.write("cloud.yaml", CLOUD_ONLY.format(db=cls.db, unused=free_port()))
        for name, budget in (("platform", "100"), ("poor", "0.40"), ("broke", "0.05"), ("interns", "50")):
            r = subprocess.run([AEGIS_BIN, "admin", "--config", cls.config, "teams", "create", name,
                                "--budget-usd", budget], capture_output=True, text=True, timeout=30)
            assert r.returncode == 0, r.stderr

    @classmethod
    def tearDownClass(cls):
        cls.watch.close()
        shutil.rmtree(cls.workdir, ignore_errors=True)

    @classmethod
    def write(cls, name, text):
        path = os.path.join(cls.workdir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def route(self, *args, config=None):
        return subprocess.run([AEGIS_BIN, "route", "--config", config or self.config, *args],
                              capture_output=True, text=True, timeout=30)

    def explain_json(self, *args, config=None):
        r = self.route("--explain", "--json", *args, config=config)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def field(self, stdout, name):
        for line in stdout.splitlines():
            if line.startswith(name + ":"):
                return line.split(":", 1)[1].strip()
        self.fail(f"no '{name}:' line in {stdout!r}")

    def test_restricted_is_local_only(self):
        r = self.route("--explain", "--task", "code_review", "--team", "platform", "--level", "restricted")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.field(r.stdout, "chain"), "ollama/qwen2.5:14b (local)")
        self.assertEqual(self.field(r.stdout, "rule"), "restricted_local_only")
        self.assertEqual(self.field(r.stdout, "reason"), "restricted→local-only; task=code_review→sonnet; budget ok")
        self.assertEqual(self.field(r.stdout, "tier"), "sonnet")

    def test_restricted_replaces_an_explicit_cloud_model(self):
        for model in ("claude-opus-4-1", "anthropic/claude-opus-4-1", "azure/opus"):
            d = self.explain_json("--task", "chat", "--level", "RESTRICTED", "--model", model)
            self.assertEqual(d["chain"], [{"provider": "ollama", "model": "llama3.3:70b", "locality": "local"}], model)
            self.assertTrue(d["local_only"])
            self.assertFalse(d["mask_for_cloud"])
            self.assertIn("is cloud: replaced by llama3.3:70b", d["reason"])

    def test_json_mode(self):
        d = self.explain_json("--task", "code_review", "--team", "platform")
        self.assertEqual(d["tier"], "sonnet")
        self.assertEqual([(c["provider"], c["model"], c["locality"]) for c in d["chain"]],
                         [("anthropic", "claude-sonnet-4-5", "cloud"), ("azure", "gpt-4o", "cloud"),
                          ("ollama", "qwen2.5:14b", "local")])
        self.assertEqual(d["rule"], "task_default")
        self.assertEqual(d["reason"], "task=code_review→sonnet; budget ok")
        self.assertFalse(d["local_only"])
        self.assertTrue(d["mask_for_cloud"])  # INTERNAL is the default level
        self.assertEqual(d["budget"]["monthly_usd"], 100)
        self.assertRegex(d["budget"]["period"], r"^\d{4}-\d{2}$")
        # Without --team there is no budget, and the reason says nothing about it.
        d = self.explain_json("--task", "security_audit")
        self.assertIsNone(d["budget"])
        self.assertEqual(d["tier"], "opus")
        self.assertNotIn("budget", d["reason"])

    def test_low_budget_downgrades_opus(self):
        d = self.explain_json("--task", "security_audit", "--team", "poor")
        self.assertEqual(d["tier"], "sonnet")
        self.assertEqual(d["rule"], "budget_downgrade")
        self.assertEqual(d["reason"], "task=security_audit→opus; budget $0.40 < $1.00: opus→sonnet")
        self.assertEqual(d["chain"][0]["model"], "claude-sonnet-4-5")

        d = self.explain_json("--task", "security_audit", "--team", "broke")
        self.assertEqual(d["tier"], "haiku")
        self.assertEqual(d["reason"], "task=security_audit→opus; budget $0.05 < $0.10: opus→haiku")

        d = self.explain_json("--task", "security_audit", "--team", "platform")
        self.assertEqual(d["tier"], "opus")
        self.assertEqual(d["rule"], "task_default")

        r = self.route("--explain", "--task", "security_audit", "--team", "poor")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.field(r.stdout, "budget"), "$0.40 left of $0.40 in " + d["budget"]["period"] +
                         " (spent $0.00)")

    def test_this_months_committed_spend_counts(self):
        r = subprocess.run([AEGIS_BIN, "admin", "--config", self.config, "teams", "create", "spender",
                            "--budget-usd", "3"], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.explain_json("--task", "security_audit", "--team", "spender")["tier"], "opus")
        # What the gateway's audit writer books: $2.50 this month, plus an old month that must not count.
        now = datetime.datetime.now(datetime.timezone.utc)
        with sqlite3.connect(self.db) as db:
            db.execute("INSERT INTO budget_spend(team, period, spent_micros, requests) VALUES (?, ?, ?, ?)",
                       ("spender", now.strftime("%Y-%m"), 2_500_000, 3))
            db.execute("INSERT INTO budget_spend(team, period, spent_micros, requests) VALUES (?, ?, ?, ?)",
                       ("spender", "2001-01", 900_000_000, 1))
        d = self.explain_json("--task", "security_audit", "--team", "spender")
        self.assertEqual(d["budget"]["spent_usd"], 2.5)
        self.assertEqual(d["budget"]["remaining_usd"], 0.5)
        self.assertEqual(d["tier"], "sonnet")
        self.assertEqual(d["reason"], "task=security_audit→opus; budget $0.50 < $1.00: opus→sonnet")

    def test_unknown_team_is_an_error(self):
        r = self.route("--explain", "--task", "chat", "--team", "ghosts")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown team 'ghosts'", r.stderr)
        self.assertEqual(r.stdout, "")

    def test_team_models_limit_what_a_team_may_name(self):
        d = self.explain_json("--task", "chat", "--team", "interns", "--model", "haiku")
        self.assertEqual(d["tier"], "haiku")
        r = self.route("--explain", "--task", "chat", "--team", "interns", "--model", "opus")
        self.assertEqual(r.returncode, 2)
        self.assertIn("allowed: auto, haiku, sonnet", r.stderr)
        self.assertNotIn("gpt-4o", r.stderr)

    def test_unknown_model_lists_the_allowed_values(self):
        r = self.route("--explain", "--task", "chat", "--model", "gpt-9")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown model 'gpt-9'", r.stderr)
        self.assertIn("qwen2.5:14b", r.stderr)

    def test_restricted_without_local_provider_exits_3(self):
        r = self.route("--explain", "--task", "chat", "--level", "restricted", config=self.cloud_only)
        self.assertEqual(r.returncode, 3, r.stdout)
        self.assertIn("local provider", r.stderr)
        d = self.explain_json("--task", "chat", "--level", "confidential", config=self.cloud_only)
        self.assertTrue(d["mask_for_cloud"])  # routing.confidential defaults to cloud_masked

    def test_media_flags_keep_only_providers_declaring_the_capability(self):
        d = self.explain_json("--task", "code_review", "--vision")
        self.assertEqual([c["provider"] for c in d["chain"]], ["anthropic"])
        self.assertEqual(d["reason"], "task=code_review→sonnet; needs vision: skipped azure, ollama")
        # No local provider reads images: RESTRICTED data with one has nowhere to go.
        r = self.route("--explain", "--task", "chat", "--level", "restricted", "--vision")
        self.assertEqual(r.returncode, 3, r.stdout)
        self.assertIn("no local provider declares the vision capability this request needs (it holds an image)",
                      r.stderr)
        self.assertNotIn("127.0.0.1", r.stderr)
        # The gateway never requires documents (a PDF goes as text where it is not declared): no flag for it.
        r = self.route("--explain", "--task", "chat", "--documents")
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertIn("--documents", r.stderr)

    def test_bad_level_and_missing_flags_are_usage_errors(self):
        r = self.route("--task", "chat")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--explain", r.stderr)
        r = self.route("--explain")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--task", r.stderr)
        r = self.route("--explain", "--task", "chat", "--level", "secret")
        self.assertEqual(r.returncode, 2)
        self.assertIn("RESTRICTED", r.stderr)

    def test_help_describes_the_command(self):
        r = subprocess.run([AEGIS_BIN, "route", "--help"], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0)
        for word in ("--explain", "--task", "--team", "--level", "--model", "--vision", "--json",
                     "Exit codes"):
            self.assertIn(word, r.stdout)

    def test_zz_nothing_was_contacted(self):
        # Runs last (alphabetical order): every command above has finished.
        self.explain_json("--task", "code_review")
        readable, _, _ = select.select([self.watch], [], [], 0.2)
        self.assertEqual(readable, [], "route --explain connected to a provider")


if __name__ == "__main__":
    unittest.main()
