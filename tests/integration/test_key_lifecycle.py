"""Key lifecycle (issue 19) through the real binary: a key's model allow-list,
monthly sub-budget, expiry, description and last use (POST/PATCH/GET
/admin/v1/keys), rotation with a grace period (POST /admin/v1/keys/{id}/rotate),
the same through `aegis admin keys create|list|rotate|update` (audited as the
API's changes), bad input, and on
PostgreSQL two replicas that see each other's changes at once and share a
key's sub-budget."""
import datetime
import json
import os
import sqlite3
import subprocess
import time
import unittest
import uuid

from aegis_harness import AEGIS_BIN, DemoUpstreams, Gateway, GatewayTestCase, wait_until
from test_postgres_store import base_dsn, psql

CHAT = "/v1/chat/completions"
MESSAGES = "/v1/messages"


def rfc3339(dt):
    return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def chat_body(model="auto", prompt="Say hello"):
    return {"model": model, "max_tokens": 16, "messages": [{"role": "user", "content": prompt}]}


def messages_body(model):
    return {"model": model, "max_tokens": 16, "messages": [{"role": "user", "content": "Say hello"}]}


class KeyLifecycle(DemoUpstreams, GatewayTestCase):
    gateway_args = ("--demo",)

    def team(self, prefix, budget=50):
        name, _ = self.new_team(prefix, budget=budget)
        return name

    def create(self, team, **fields):
        status, created = self.gw.admin("POST", "/admin/v1/keys", {"team": team, **fields})
        self.assertEqual(status, 201, created)
        return created

    def listed(self, team, key_id):
        status, body = self.gw.admin("GET", f"/admin/v1/keys?team={team}")
        self.assertEqual(status, 200, body)
        return next(k for k in body["keys"] if k["id"] == key_id)

    def db(self):
        return sqlite3.connect(os.path.join(self.gw.workdir, "data", "aegis.db"), timeout=10)

    def stored(self, key_id, column):
        db = self.db()
        try:
            return db.execute(f"SELECT {column} FROM api_keys WHERE id = ?", (key_id,)).fetchone()[0]
        finally:
            db.close()

    def test_create_with_every_field_and_list_them(self):
        team = self.team("kl-create")
        expires = rfc3339(datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=30))
        created = self.create(team, models=["claude-haiku-4-5", "sonnet"], monthly_budget_usd=12.5,
                              expires_at=expires, description="CI runner")
        self.assertTrue(created["key"].startswith("aeg_" + created["id"] + "_"))
        self.assertEqual(created["models"], ["claude-haiku-4-5", "sonnet"])
        self.assertEqual(created["monthly_budget_usd"], 12.5)
        self.assertEqual(parse_time(created["expires_at"]), parse_time(expires))
        self.assertFalse(created["expired"])
        self.assertEqual(created["description"], "CI runner")
        self.assertIsNone(created["last_used_at"])
        self.assertIsNone(created["previous_valid_until"])
        listed = self.listed(team, created["id"])
        for field in ("models", "monthly_budget_usd", "expires_at", "description", "last_used_at"):
            self.assertEqual(listed[field], created[field], field)
        self.assertNotIn("key", listed)
        # A key without lifecycle fields lists them empty.
        plain = self.create(team)
        self.assertIsNone(plain["models"])
        self.assertIsNone(plain["monthly_budget_usd"])
        self.assertIsNone(plain["expires_at"])
        self.assertEqual(plain["description"], "")

    def test_patch_changes_only_what_it_names_and_null_removes(self):
        team = self.team("kl-patch")
        created = self.create(team, models=["haiku"], monthly_budget_usd=5, description="before")
        status, patched = self.gw.admin("PATCH", f"/admin/v1/keys/{created['id']}", {"description": "after"})
        self.assertEqual(status, 200, patched)
        self.assertEqual(patched["description"], "after")
        self.assertEqual(patched["models"], ["haiku"])
        self.assertEqual(patched["monthly_budget_usd"], 5)
        status, patched = self.gw.admin("PATCH", f"/admin/v1/keys/{created['id']}",
                                        {"models": None, "monthly_budget_usd": None,
                                         "expires_at": "2099-01-01T00:00:00+02:00"})
        self.assertEqual(status, 200, patched)
        self.assertIsNone(patched["models"])
        self.assertIsNone(patched["monthly_budget_usd"])
        self.assertEqual(patched["expires_at"], "2098-12-31T22:00:00.000Z")
        listed = self.listed(team, created["id"])
        self.assertEqual((listed["description"], listed["models"]), ("after", None))
        # The change is audited by field name, never by value.
        status, rows = self.gw.admin("GET", f"/admin/v1/audit?team={team}&limit=10")
        self.assertEqual(status, 200, rows)
        updates = [r for r in rows["data"] if r["surface"] == "admin.keys" and r["task"] == "key_update"]
        self.assertEqual(len(updates), 2, rows)
        self.assertTrue(all(r["key_id"] == created["id"] for r in updates))
        self.assertNotIn("after", json.dumps(updates))

    def test_bad_input_is_400_and_an_unknown_key_404(self):
        team = self.team("kl-bad", budget=20)
        created = self.create(team)
        path = f"/admin/v1/keys/{created['id']}"
        cases = [
            ({"rpm_typo": 1}, "unknown field 'rpm_typo'"),
            ({"expires_at": "next tuesday"}, "RFC 3339"),
            ({"expires_at": 1767225600}, "RFC 3339"),
            ({"monthly_budget_usd": -1}, "non-negative"),
            ({"monthly_budget_usd": "5"}, "number"),
            ({"monthly_budget_usd": 20.000001}, "above team"),
            ({"models": "haiku"}, "array"),
            ({"models": []}, "1 to 64"),
            ({"models": ["has space"]}, "printable"),
            ({"description": "x" * 257}, "256"),
            ({"description": "line\nbreak"}, "control"),
            ({}, "nothing to change"),
        ]
        for body, message in cases:
            status, reply = self.gw.admin("PATCH", path, body)
            self.assertEqual(status, 400, (body, reply))
            self.assertEqual(reply["error"]["type"], "invalid_request", body)
            self.assertIn(message, reply["error"]["message"], body)
        # Nothing changed through any of them.
        listed = self.listed(team, created["id"])
        self.assertEqual((listed["models"], listed["monthly_budget_usd"], listed["expires_at"]), (None, None, None))
        # The same checks when creating, plus an expiry already past.
        for body, message in [({"monthly_budget_usd": 21}, "above team"), ({"expires_at": "2020-01-01T00:00:00Z"},
                                                                            "past"),
                              ({"expires_at": "2026-13-01T00:00:00Z"}, "RFC 3339"), ({"colour": "red"}, "unknown")]:
            status, reply = self.gw.admin("POST", "/admin/v1/keys", {"team": team, **body})
            self.assertEqual(status, 400, (body, reply))
            self.assertIn(message, reply["error"]["message"], body)
        status, reply = self.gw.admin("PATCH", "/admin/v1/keys/00000000deadbeef", {"description": "x"})
        self.assertEqual(status, 404, reply)
        self.assertEqual(reply["error"]["type"], "not_found")
        status, reply = self.gw.admin("POST", "/admin/v1/keys/00000000deadbeef/rotate", {"grace_s": 0})
        self.assertEqual(status, 404, reply)
        for body in ({"grace_s": -1}, {"grace_s": 1.5}, {"grace_s": "60"}, {"grace_s": 10**12}, {"grace": 5}):
            status, reply = self.gw.admin("POST", f"{path}/rotate", body)
            self.assertEqual(status, 400, (body, reply))
        # A key's budget above its team's is refused; the team's own cap is the bound.
        status, reply = self.gw.admin("PATCH", path, {"monthly_budget_usd": 20})
        self.assertEqual(status, 200, reply)

    def test_model_allow_list_on_chat_and_messages(self):
        team = self.team("kl-models")
        key = self.create(team, models=["claude-haiku-4-5", "gpt-4o-mini"])["key"]
        before = len(self.upstream_log())
        for model in ("gpt-4o", "claude-sonnet-4-5", "opus", "anthropic/claude-opus-4-1"):
            status, _, body = self.call_json(key, "POST", CHAT, chat_body(model))
            self.assertEqual(status, 403, (model, body))
            self.assertEqual(body["error"]["type"], "permission_denied", body)
            self.assertIn("not allowed for this API key", body["error"]["message"])
        status, _, data = self.gw.request("POST", MESSAGES, messages_body("claude-sonnet-4-5"),
                                          {"x-api-key": key, "anthropic-version": "2023-06-01"})
        self.assertEqual(status, 403, data)
        self.assertEqual(json.loads(data)["error"]["type"], "permission_denied")
        self.assertEqual(len(self.upstream_log()), before, "a refused model reached a provider")
        # Allowed models answer, on both surfaces.
        status, headers, body = self.call_json(key, "POST", CHAT, chat_body("claude-haiku-4-5"))
        self.assertEqual(status, 200, body)
        self.assertIn("model=claude-haiku-4-5", headers["x-aegis-route"])
        status, headers, data = self.gw.request("POST", MESSAGES, messages_body("claude-haiku-4-5"),
                                                {"x-api-key": key, "anthropic-version": "2023-06-01"})
        self.assertEqual(status, 200, data)
        # auto (chat is a sonnet task) only picks an allowed model.
        status, headers, body = self.call_json(key, "POST", CHAT, chat_body("auto"))
        self.assertEqual(status, 200, body)
        self.assertRegex(headers["x-aegis-route"], r"model=(claude-haiku-4-5|gpt-4o-mini)")
        # The team's other keys are not limited by this key's list.
        status, created = self.gw.admin("POST", "/admin/v1/keys", {"team": team})
        status, _, body = self.call_json(created["key"], "POST", CHAT, chat_body("gpt-4o"))
        self.assertEqual(status, 200, body)
        # A change applies at once (the cache is invalidated).
        key_id = key.split("_")[1]
        status, _ = self.gw.admin("PATCH", f"/admin/v1/keys/{key_id}", {"models": ["gpt-4o"]})
        self.assertEqual(status, 200)
        status, _, body = self.call_json(key, "POST", CHAT, chat_body("gpt-4o"))
        self.assertEqual(status, 200, body)
        status, _, body = self.call_json(key, "POST", CHAT, chat_body("claude-haiku-4-5"))
        self.assertEqual(status, 403, body)

    def test_a_keys_sub_budget_is_402_while_its_team_still_has_money(self):
        team = self.team("kl-budget", budget=50)
        limited = self.create(team, monthly_budget_usd=0.000001)
        other = self.create(team)
        before = len(self.upstream_log())
        status, _, data = self.gw.request("POST", CHAT, chat_body(), {"authorization": f"Bearer {limited['key']}"})
        self.assertError(status, data, 402, "budget_exceeded")
        self.assertIn(f"API key '{limited['id']}' monthly budget", json.loads(data)["error"]["message"])
        status, _, data = self.gw.request("POST", MESSAGES, messages_body("sonnet"),
                                          {"x-api-key": limited["key"], "anthropic-version": "2023-06-01"})
        self.assertEqual(status, 402, data)
        self.assertEqual(len(self.upstream_log()), before, "a refused request reached a provider")
        # The team still has money: its other key is served.
        status, _, body = self.call_json(other["key"], "POST", CHAT, chat_body())
        self.assertEqual(status, 200, body)
        status, spend = self.gw.admin("GET", f"/admin/v1/teams/{team}/spend")
        self.assertGreater(spend["remaining_usd"], 49)
        # Raising the key's budget lets it spend; what it spends is its own, and the team's.
        status, _ = self.gw.admin("PATCH", f"/admin/v1/keys/{limited['id']}", {"monthly_budget_usd": 1})
        self.assertEqual(status, 200)
        status, headers, body = self.call_json(limited["key"], "POST", CHAT, chat_body())
        self.assertEqual(status, 200, body)
        self.assertGreater(float(headers["x-aegis-cost-usd"]), 0)
        db = self.db()
        try:
            wait_until(lambda: db.execute("SELECT spent_micros FROM key_spend WHERE key_id = ?",
                                          (limited["id"],)).fetchone() is not None, 5, "the key's spend row")
            spent = db.execute("SELECT spent_micros, requests FROM key_spend WHERE key_id = ?",
                               (limited["id"],)).fetchone()
        finally:
            db.close()
        self.assertEqual(spent[1], 1)
        self.assertEqual(spent[0], round(float(headers["x-aegis-cost-usd"]) * 1_000_000))

    def test_an_expired_key_is_401_like_an_unknown_key(self):
        team = self.team("kl-expiry")
        created = self.create(team)
        auth = {"authorization": f"Bearer {created['key']}"}
        self.assertEqual(self.gw.request("GET", "/v1/whoami", headers=auth)[0], 200)  # cached now
        past = rfc3339(datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=1))
        status, patched = self.gw.admin("PATCH", f"/admin/v1/keys/{created['id']}", {"expires_at": past})
        self.assertEqual(status, 200, patched)
        self.assertTrue(patched["expired"])
        status, _, expired = self.gw.request("POST", CHAT, chat_body(), auth)
        unknown_key = "aeg_" + "0" * 16 + "_" + created["key"].split("_", 2)[2]
        status_unknown, _, unknown = self.gw.request("POST", CHAT, chat_body(),
                                                     {"authorization": f"Bearer {unknown_key}"})
        self.assertEqual((status, status_unknown), (401, 401))
        strip = lambda data: {k: v for k, v in json.loads(data)["error"].items() if k != "request_id"}
        self.assertEqual(strip(expired), strip(unknown))  # nothing tells an expired key apart
        self.assertNotIn("expir", expired.decode().lower())
        # Moving the expiry away brings it back.
        status, _ = self.gw.admin("PATCH", f"/admin/v1/keys/{created['id']}", {"expires_at": None})
        self.assertEqual(status, 200)
        self.assertEqual(self.gw.request("GET", "/v1/whoami", headers=auth)[0], 200)

    def test_rotation_with_a_grace_period_then_only_the_new_secret(self):
        team = self.team("kl-rotate")
        created = self.create(team)
        old = {"authorization": f"Bearer {created['key']}"}
        self.assertEqual(self.gw.request("GET", "/v1/whoami", headers=old)[0], 200)
        status, rotated = self.gw.admin("POST", f"/admin/v1/keys/{created['id']}/rotate", {"grace_s": 3})
        self.assertEqual(status, 200, rotated)
        self.assertEqual(set(rotated), {"id", "key", "previous_valid_until"})
        self.assertEqual(rotated["id"], created["id"])
        self.assertTrue(rotated["key"].startswith("aeg_" + created["id"] + "_"))
        self.assertNotEqual(rotated["key"], created["key"])
        until = parse_time(rotated["previous_valid_until"])
        self.assertLess(abs((until - datetime.datetime.now(datetime.timezone.utc)).total_seconds() - 3), 2)
        new = {"authorization": f"Bearer {rotated['key']}"}
        # Both secrets are the same key during the grace.
        for auth in (old, new):
            status, _, data = self.gw.request("GET", "/v1/whoami", headers=auth)
            self.assertEqual(status, 200, data)
            self.assertEqual(json.loads(data)["key_id"], created["id"])
        status, _, body = self.call_json(created["key"], "POST", CHAT, chat_body())
        self.assertEqual(status, 200, body)
        self.assertIsNotNone(self.listed(team, created["id"])["previous_valid_until"])
        # After it, only the new one.
        wait_until(lambda: self.gw.request("GET", "/v1/whoami", headers=old)[0] == 401, 10,
                   "the old secret to stop working after its grace")
        self.assertEqual(self.gw.request("GET", "/v1/whoami", headers=new)[0], 200)
        self.assertIsNone(self.listed(team, created["id"])["previous_valid_until"])
        # Audited: who, which key, the grace; never a secret.
        status, rows = self.gw.admin("GET", f"/admin/v1/audit?team={team}&limit=50")
        rotations = [r for r in rows["data"] if r["task"] == "key_rotate"]
        self.assertEqual(len(rotations), 1, rows)
        self.assertEqual((rotations[0]["surface"], rotations[0]["key_id"], rotations[0]["reason"]),
                         ("admin.keys", created["id"], "grace_s=3"))
        self.assertNotIn(rotated["key"].split("_", 2)[2], json.dumps(rows))

    def test_rotation_without_grace_and_with_the_default(self):
        team = self.team("kl-rotate0")
        created = self.create(team)
        old = {"authorization": f"Bearer {created['key']}"}
        self.assertEqual(self.gw.request("GET", "/v1/whoami", headers=old)[0], 200)
        status, rotated = self.gw.admin("POST", f"/admin/v1/keys/{created['id']}/rotate", {"grace_s": 0})
        self.assertEqual(status, 200, rotated)
        self.assertIsNone(rotated["previous_valid_until"])
        self.assertEqual(self.gw.request("GET", "/v1/whoami", headers=old)[0], 401)
        self.assertEqual(self.gw.request("GET", "/v1/whoami",
                                         headers={"authorization": f"Bearer {rotated['key']}"})[0], 200)
        # No body: 24 hours.
        status, _, data = self.gw.request("POST", f"/admin/v1/keys/{created['id']}/rotate",
                                          headers={"authorization": f"Bearer {self.gw.admin_key}"})
        self.assertEqual(status, 200, data)
        again = json.loads(data)
        hours = (parse_time(again["previous_valid_until"]) - datetime.datetime.now(datetime.timezone.utc))
        self.assertLess(abs(hours.total_seconds() - 86400), 60)
        self.assertEqual(self.gw.request("GET", "/v1/whoami",
                                         headers={"authorization": f"Bearer {rotated['key']}"})[0], 200)
        # A revoked key cannot be rotated back to life.
        status, _ = self.gw.admin("DELETE", f"/admin/v1/keys/{created['id']}")
        self.assertEqual(status, 200)
        status, reply = self.gw.admin("POST", f"/admin/v1/keys/{created['id']}/rotate", {"grace_s": 0})
        self.assertEqual(status, 409, reply)
        self.assertEqual(self.gw.request("GET", "/v1/whoami",
                                         headers={"authorization": f"Bearer {again['key']}"})[0], 401)


class KeyLastUse(DemoUpstreams, GatewayTestCase):
    """On a gateway of its own, so that its periodic flush (every 60 s from start-up)
    does not land between a request and the check that nothing was written for it."""
    gateway_args = ("--demo",)
    team = KeyLifecycle.team
    create = KeyLifecycle.create
    listed = KeyLifecycle.listed
    db = KeyLifecycle.db
    stored = KeyLifecycle.stored

    def test_last_used_at_comes_from_the_batched_flush_not_a_write_per_request(self):
        team = self.team("kl-used")
        created = self.create(team)
        for _ in range(3):
            status, _, body = self.call_json(created["key"], "POST", CHAT, chat_body())
            self.assertEqual(status, 200, body)
        # Served, but nothing written for it: the use is noted in memory.
        self.assertIsNone(self.stored(created["id"], "last_used_at_ms"))
        # The listing flushes what this gateway noted, in one batch, to the minute; it shows
        # that minute, or the key's creation when that came later (never a use before it existed).
        listed = self.listed(team, created["id"])
        self.assertIsNotNone(listed["last_used_at"], listed)
        used = parse_time(listed["last_used_at"])
        created_at = parse_time(listed["created_at"])
        self.assertGreaterEqual(used, created_at)
        self.assertLess(abs((datetime.datetime.now(datetime.timezone.utc) - used).total_seconds()), 120)
        stored_ms = self.stored(created["id"], "last_used_at_ms")
        self.assertEqual(stored_ms % 60000, 0)
        self.assertEqual(round(used.timestamp() * 1000), max(stored_ms, round(created_at.timestamp() * 1000)))
        # A key never used has none.
        self.assertIsNone(self.listed(team, self.create(team)["id"])["last_used_at"])


class KeyLifecycleCli(unittest.TestCase):
    """`aegis admin keys create|list|rotate|update|limits` straight against the store of a
    running gateway, as the other admin commands: the same fields as the admin API, and the
    same audit rows, in a chain of the CLI's own."""

    def setUp(self):
        # The waits below for a CLI change to reach the gateway try secrets that fail until it
        # does; the failed-authentication throttle would then refuse the admin calls that follow.
        self.gw = Gateway(["--demo"], config_text="rate_limits:\n  auth_failures_per_minute: 0\n")
        self.addCleanup(self.gw.cleanup)
        self.db_path = os.path.join(self.gw.workdir, "data", "aegis.db")
        self.config = os.path.join(self.gw.workdir, "cli.yaml")
        with open(self.config, "w") as f:
            f.write(f"storage:\n  sqlite_path: {self.db_path}\n")

    def cli(self, *args):
        return subprocess.run([AEGIS_BIN, "admin", "--config", self.config, "--json", *args],
                              capture_output=True, text=True, timeout=30)

    def cli_json(self, *args):
        r = self.cli(*args)
        self.assertEqual(r.returncode, 0, (args, r.stderr))
        return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]

    def key_audit_rows(self, team):
        """The team's admin.keys rows, oldest first, as the gateway's GET /admin/v1/audit shows them."""
        status, rows = self.gw.admin("GET", f"/admin/v1/audit?team={team}&limit=1000")  # the polls write rows too
        self.assertEqual(status, 200, rows)
        return [r for r in reversed(rows["data"]) if r["surface"] == "admin.keys"]

    def test_cli_rotates_and_updates_keys_that_the_server_honours(self):
        gw, cli = self.gw, self.cli
        self.assertEqual(gw.admin("POST", "/admin/v1/teams", {"name": "cli-kl", "monthly_budget_usd": 10})[0], 201)
        status, created = gw.admin("POST", "/admin/v1/keys", {"team": "cli-kl"})
        self.assertEqual(status, 201, created)
        auth = {"authorization": f"Bearer {created['key']}"}
        # The gateway writes an audit row of its own first (its chain's head is then in its memory).
        self.assertEqual(gw.request("POST", CHAT, chat_body("gpt-4o"), auth)[0], 200)
        r = cli("keys", "update", created["id"], "--models", "gpt-4o-mini,haiku", "--monthly-budget-usd", "2.5",
                "--expires-at", "2099-06-01T00:00:00Z", "--description", "from the CLI")
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual(out["models"], ["gpt-4o-mini", "haiku"])
        self.assertEqual(out["monthly_budget_usd"], 2.5)
        self.assertEqual(out["expires_at"], "2099-06-01T00:00:00.000Z")
        status, body = gw.admin("GET", "/admin/v1/keys?team=cli-kl")
        listed = body["keys"][0]
        self.assertEqual((listed["models"], listed["monthly_budget_usd"], listed["description"]),
                         (["gpt-4o-mini", "haiku"], 2.5, "from the CLI"))
        # The server enforces what the CLI set (its key cache lives 5 s at most).
        wait_until(lambda: gw.request("POST", CHAT, chat_body("gpt-4o"), auth)[0] == 403, 10,
                   "the CLI's allow-list to apply")
        # Bad input: exit 1 with the reason, nothing changed.
        for args, message in ((["--monthly-budget-usd", "11"], "above team"),
                              (["--expires-at", "soon"], "RFC 3339"), ([], "nothing to change")):
            r = cli("keys", "update", created["id"], *args)
            self.assertEqual(r.returncode, 1, (args, r.stdout))
            self.assertIn(message, r.stderr)
        r = cli("keys", "update", "00000000deadbeef", "--description", "x")
        self.assertEqual(r.returncode, 1)
        self.assertIn("not found", r.stderr)
        # Clearing with empty values.
        r = cli("keys", "update", created["id"], "--models", "", "--monthly-budget-usd", "")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual((json.loads(r.stdout)["models"], json.loads(r.stdout)["monthly_budget_usd"]), (None, None))
        # Rotation: the new key works; with --grace-s 0 the old one stops (within the cache's TTL).
        r = cli("keys", "rotate", created["id"], "--grace-s", "0")
        self.assertEqual(r.returncode, 0, r.stderr)
        rotated = json.loads(r.stdout)
        self.assertEqual(set(rotated), {"id", "key", "previous_valid_until"})
        self.assertIsNone(rotated["previous_valid_until"])
        # A running gateway's key cache learns of a CLI change within its TTL (5 s), as for a CLI revocation.
        new = {"authorization": f"Bearer {rotated['key']}"}
        wait_until(lambda: gw.request("GET", "/v1/whoami", headers=new)[0] == 200, 10, "the new secret to work")
        self.assertEqual(gw.request("GET", "/v1/whoami", headers=auth)[0], 401)
        r = cli("keys", "rotate", created["id"])  # the default grace: 24 h
        self.assertEqual(r.returncode, 0, r.stderr)
        until = parse_time(json.loads(r.stdout)["previous_valid_until"])
        self.assertLess(abs((until - datetime.datetime.now(datetime.timezone.utc)).total_seconds() - 86400), 60)
        r = cli("keys", "rotate", created["id"], "--grace-s", "-5")
        self.assertEqual(r.returncode, 1)
        self.assertIn("grace_s", r.stderr)
        r = subprocess.run([AEGIS_BIN, "admin", "keys", "rotate", "--help"], capture_output=True, text=True)
        self.assertIn("--grace-s", r.stdout)
        # A key's own limits, set through the CLI, are a key_update as the API's PATCH is.
        self.assertEqual(self.cli_json("keys", "limits", created["id"], "--rpm", "100", "--max-concurrency", "none"),
                         [{"id": created["id"], "rpm": 100, "tpm": None, "max_concurrency": None}])
        self.assertEqual(self.cli_json("keys", "limits", created["id"])[0]["rpm"], 100)  # showing is no change
        # Each change is on record as the admin API's (surface admin.keys, the key's team and id,
        # the fields' names or the grace, never a value or a secret), with a request id of the CLI's.
        rows = self.key_audit_rows("cli-kl")
        self.assertEqual([(r["task"], r["reason"]) for r in rows],
                         [("key_update", "models,monthly_budget_usd,expires_at,description"),
                          ("key_update", "models,monthly_budget_usd"),
                          ("key_rotate", "grace_s=0"), ("key_rotate", "grace_s=86400"),
                          ("key_update", "rpm,max_concurrency")], rows)
        for row in rows:
            self.assertEqual((row["key_id"], row["team"], row["status"]), (created["id"], "cli-kl", 200), row)
            self.assertRegex(row["request_id"], r"^cli_[0-9a-f]{24}$")
        self.assertEqual(len({row["request_id"] for row in rows}), len(rows))
        self.assertNotIn("from the CLI", json.dumps(rows))
        self.assertNotIn(rotated["key"].split("_", 2)[2], json.dumps(rows))
        # The API writes the same row for the same change.
        status, _ = gw.admin("PATCH", f"/admin/v1/keys/{created['id']}",
                             {"description": "API", "models": ["claude-haiku-4-5"]})
        self.assertEqual(status, 200)
        api_row = self.key_audit_rows("cli-kl")[-1]
        self.assertRegex(api_row["request_id"], r"^req_")
        ignore = ("request_id", "time", "time_ms", "reason")
        self.assertEqual({k: v for k, v in api_row.items() if k not in ignore},
                         {k: v for k, v in rows[0].items() if k not in ignore})
        self.assertEqual(api_row["reason"], "models,description")
        # The gateway goes on writing its own rows beside the CLI's, and every chain verifies:
        # the CLI's rows are linked into a chain of the CLI's, never into the gateway's.
        status, _, data = gw.request("POST", CHAT, chat_body("claude-haiku-4-5"),
                                     {"authorization": f"Bearer {rotated['key']}"})
        self.assertEqual(status, 200, data)
        self.key_audit_rows("cli-kl")  # the gateway's queue flushed
        db = sqlite3.connect(self.db_path, timeout=10)
        try:
            writers = set(db.execute("SELECT DISTINCT surface, substr(chain_id, 1, instr(chain_id, '/')) FROM audit"
                                     " WHERE team = 'cli-kl' AND chain_id <> ''").fetchall())
            cli_rows = db.execute("SELECT count(*) FROM audit WHERE chain_id LIKE 'cli/%'").fetchone()[0]
        finally:
            db.close()
        # The CLI's rows, the API's PATCH and the requests.
        self.assertEqual(writers, {("admin.keys", "cli/"), ("admin.keys", "gateway/"), ("openai.chat", "gateway/")})
        self.assertEqual(cli_rows, 5)
        r = subprocess.run([AEGIS_BIN, "audit", "verify", "--config", self.config, "--json"], capture_output=True,
                           text=True, timeout=60)
        self.assertIn(r.returncode, (0, 3), r.stdout + r.stderr)  # 3: intact, with a tail not sealed yet
        report = json.loads(r.stdout)
        self.assertTrue(report["intact"], report)
        self.assertEqual({f["kind"] for f in report["findings"]} - {"unsigned_tail"}, set(), report)

    def test_cli_creates_keys_with_lifecycle_fields_and_lists_them_as_the_api(self):
        gw = self.gw
        self.assertEqual(gw.admin("POST", "/admin/v1/teams", {"name": "cli-list", "monthly_budget_usd": 10})[0], 201)
        [created] = self.cli_json("keys", "create", "cli-list", "--models", "gpt-4o-mini,claude-haiku-4-5",
                                  "--monthly-budget-usd", "3.25", "--expires-at", "2099-06-01T02:00:00+02:00",
                                  "--description", "made by the CLI")
        self.assertTrue(created["key"].startswith("aeg_" + created["id"] + "_"))
        self.assertEqual((created["team"], created["models"], created["monthly_budget_usd"], created["expires_at"],
                          created["description"], created["last_used_at"]),
                         ("cli-list", ["gpt-4o-mini", "claude-haiku-4-5"], 3.25, "2099-06-01T00:00:00.000Z",
                          "made by the CLI", None))
        [plain] = self.cli_json("keys", "create", "cli-list", "--models", "", "--description", "")
        self.assertEqual((plain["models"], plain["monthly_budget_usd"], plain["expires_at"], plain["description"]),
                         (None, None, None, ""))
        # Bad values: exit 1 with the reason, as `keys update`; nothing created.
        for args, message in ((["--monthly-budget-usd", "10.5"], "above team"),
                              (["--expires-at", "2001-01-01T00:00:00Z"], "past"),
                              (["--models", "a,,b"], "printable"), (["--description", "x" * 257], "256")):
            r = self.cli("keys", "create", "cli-list", *args)
            self.assertEqual(r.returncode, 1, (args, r.stdout))
            self.assertIn(message, r.stderr)

        def listed_by_cli():
            keys = {k["id"]: k for k in self.cli_json("keys", "list", "--team", "cli-list")}
            self.assertEqual(set(keys), {created["id"], plain["id"]})
            return keys

        def listed_by_api():
            status, body = gw.admin("GET", "/admin/v1/keys?team=cli-list")
            self.assertEqual(status, 200, body)
            return {k["id"]: k for k in body["keys"]}

        mine = listed_by_cli()[created["id"]]
        for field in ("models", "monthly_budget_usd", "expires_at", "description", "last_used_at"):
            self.assertEqual(mine[field], created[field], field)
        self.assertNotIn("key", mine)
        # Used through the gateway: last_used_at once the gateway has flushed its noted uses
        # (its listing does, else within a minute), the same as the API's listing shows.
        status, _, data = gw.request("POST", CHAT, chat_body("gpt-4o-mini"),
                                     {"authorization": f"Bearer {created['key']}"})
        self.assertEqual(status, 200, data)
        api = listed_by_api()
        self.assertIsNotNone(api[created["id"]]["last_used_at"])
        cli_keys = listed_by_cli()
        self.assertEqual(cli_keys, api)  # every field, limits included
        self.assertIsNone(cli_keys[plain["id"]]["last_used_at"])
        # The text listing shows the same fields.
        r = subprocess.run([AEGIS_BIN, "admin", "--config", self.config, "keys", "list", "--team", "cli-list"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        line = next(line for line in r.stdout.splitlines() if line.startswith(created["id"]))
        for part in ("models=gpt-4o-mini,claude-haiku-4-5", "budget_usd=3.25", "expires_at=2099-06-01T00:00:00.000Z",
                     "last_used_at=" + api[created["id"]]["last_used_at"], "description=made by the CLI"):
            self.assertIn("\t" + part, line)
        line = next(line for line in r.stdout.splitlines() if line.startswith(plain["id"]))
        self.assertIn("\tmodels=any\tbudget_usd=none\texpires_at=never\tlast_used_at=never", line)
        r = subprocess.run([AEGIS_BIN, "admin", "keys", "create", "--help"], capture_output=True, text=True)
        for flag in ("--models", "--monthly-budget-usd", "--expires-at", "--description"):
            self.assertIn(flag, r.stdout)


@unittest.skipUnless(base_dsn(), "no PostgreSQL test server in this run (ctest's postgres.start provides one)")
class KeyLifecycleOnPostgres(unittest.TestCase):
    """Two replicas on one database: a change made through one applies on the other at
    once (the key cache is told, as for a revocation), and a key's sub-budget is shared
    like its team's."""

    def setUp(self):
        base = base_dsn()
        self.schema = "kl_" + uuid.uuid4().hex[:12]
        psql(base, f"CREATE SCHEMA {self.schema}")
        self.addCleanup(psql, base, f"DROP SCHEMA {self.schema} CASCADE")
        self.dsn = f"{base} options='-c search_path={self.schema}'"

    def gateway(self):
        config = ("storage:\n  postgres_dsn: \"${AEGIS_IT_PG_DSN}\"\n"
                  "jobs:\n  encryption:\n    active: k1\n    keys:\n      - {id: k1, env: AEGIS_IT_JOBS_KEY}\n")
        gw = Gateway(["--demo"], config_text=config, env={"AEGIS_IT_PG_DSN": self.dsn, "AEGIS_IT_JOBS_KEY": "5f" * 32})
        self.addCleanup(gw.cleanup)
        return gw

    def test_the_cli_audits_its_changes_in_a_chain_of_its_own(self):
        gw = self.gateway()
        self.assertEqual(gw.admin("POST", "/admin/v1/teams", {"name": "pg-cli", "monthly_budget_usd": 5})[0], 201)
        status, created = gw.admin("POST", "/admin/v1/keys", {"team": "pg-cli"})
        self.assertEqual(status, 201, created)
        auth = {"authorization": f"Bearer {created['key']}"}
        self.assertEqual(gw.request("POST", CHAT, chat_body(), auth)[0], 200)
        config = os.path.join(gw.workdir, "cli.yaml")
        with open(config, "w") as f:
            f.write("storage:\n  postgres_dsn: \"${AEGIS_IT_PG_DSN}\"\n")
        env = dict(os.environ, AEGIS_IT_PG_DSN=self.dsn)
        for args in (["update", created["id"], "--description", "pg"], ["rotate", created["id"], "--grace-s", "60"]):
            r = subprocess.run([AEGIS_BIN, "admin", "--config", config, "keys", *args], capture_output=True,
                               text=True, timeout=60, env=env)
            self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(gw.request("POST", CHAT, chat_body(), auth)[0], 200)  # the gateway's own rows go on
        status, rows = gw.admin("GET", "/admin/v1/audit?team=pg-cli")
        self.assertEqual([(r["task"], r["reason"]) for r in reversed(rows["data"]) if r["surface"] == "admin.keys"],
                         [("key_update", "description"), ("key_rotate", "grace_s=60")])
        # "<process>/cli/<month>": a chain of the CLI process's, beside the gateway's "<process>/gateway/<month>".
        self.assertEqual(psql(self.dsn, "SELECT string_agg(DISTINCT split_part(chain_id, '/', 2), ',') FROM audit "
                                        "WHERE surface = 'admin.keys'"), "cli")
        self.assertEqual(psql(self.dsn, "SELECT string_agg(DISTINCT split_part(chain_id, '/', 2), ',') FROM audit "
                                        "WHERE surface = 'openai.chat' AND chain_id <> ''"), "gateway")
        r = subprocess.run([AEGIS_BIN, "audit", "verify", "--config", config, "--json"], capture_output=True,
                           text=True, timeout=120, env=env)
        self.assertIn(r.returncode, (0, 3), r.stdout + r.stderr)  # 3: intact, with a tail not sealed yet
        self.assertTrue(json.loads(r.stdout)["intact"], r.stdout)

    def test_changes_reach_the_other_replica_at_once_and_the_sub_budget_is_shared(self):
        first, second = self.gateway(), self.gateway()
        self.assertEqual(first.admin("POST", "/admin/v1/teams", {"name": "pg-kl", "monthly_budget_usd": 50})[0], 201)
        status, created = first.admin("POST", "/admin/v1/keys", {"team": "pg-kl", "description": "shared"})
        self.assertEqual(status, 201, created)
        auth = {"authorization": f"Bearer {created['key']}"}
        for gw in (first, second):
            self.assertEqual(gw.request("POST", CHAT, chat_body("gpt-4o"), auth)[0], 200)  # cached on both now
        # An allow-list set through the first applies on the second within a second.
        status, _ = first.admin("PATCH", f"/admin/v1/keys/{created['id']}", {"models": ["haiku"]})
        self.assertEqual(status, 200)
        wait_until(lambda: second.request("POST", CHAT, chat_body("gpt-4o"), auth)[0] == 403, 1.0,
                   "the second replica to enforce the new allow-list")
        # A sub-budget set on one is spent against on both; the team keeps its money.
        status, _ = first.admin("PATCH", f"/admin/v1/keys/{created['id']}",
                                {"models": None, "monthly_budget_usd": 0.000001})
        self.assertEqual(status, 200)
        for gw in (first, second):
            wait_until(lambda: gw.request("POST", CHAT, chat_body(), auth)[0] == 402, 1.0,
                       "the sub-budget to refuse on every replica")
        self.assertEqual(psql(self.dsn, "SELECT monthly_budget_micros FROM api_keys WHERE id = '%s'" % created["id"]),
                         "1")
        status, other = second.admin("POST", "/admin/v1/keys", {"team": "pg-kl"})
        self.assertEqual(second.request("POST", CHAT, chat_body(), {"authorization": f"Bearer {other['key']}"})[0],
                         200)
        # Spend booked per key in the audit rows' transaction, across replicas.
        status, _ = first.admin("PATCH", f"/admin/v1/keys/{created['id']}", {"monthly_budget_usd": 5})
        self.assertEqual(status, 200)
        for gw in (first, second):
            wait_until(lambda: gw.request("POST", CHAT, chat_body(), auth)[0] == 200, 1.0, "the raised budget")
        # Every answered request of the key is in key_spend, whichever replica served it.
        def booked():
            spent = psql(self.dsn, "SELECT requests FROM key_spend WHERE key_id = '%s'" % created["id"])
            rows = psql(self.dsn, "SELECT COUNT(*) FROM audit WHERE key_id = '%s' AND budget_period <> ''"
                        % created["id"])
            return spent if spent and spent == rows else None
        self.assertGreaterEqual(int(wait_until(booked, 5, "key_spend to match the audit rows")), 4)
        # A rotation without grace through the second: the first refuses the old secret at once.
        status, rotated = second.admin("POST", f"/admin/v1/keys/{created['id']}/rotate", {"grace_s": 0})
        self.assertEqual(status, 200, rotated)
        wait_until(lambda: first.request("GET", "/v1/whoami", headers=auth)[0] == 401, 1.0,
                   "the first replica to refuse the rotated-away secret")
        self.assertEqual(first.request("GET", "/v1/whoami",
                                       headers={"authorization": f"Bearer {rotated['key']}"})[0], 200)
        # Last use, flushed by each replica's listing or its periodic flush, lands in the shared row.
        status, body = first.admin("GET", "/admin/v1/keys?team=pg-kl")
        listed = next(k for k in body["keys"] if k["id"] == created["id"])
        self.assertIsNotNone(listed["last_used_at"])


if __name__ == "__main__":
    unittest.main()
