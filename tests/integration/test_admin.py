"""Admin API and key lifecycle against the real server and its SQLite store."""
import json
import os
import subprocess
import unittest

from aegis_harness import AEGIS_BIN, Gateway, GatewayTestCase


class AdminApi(GatewayTestCase):
    def test_admin_requires_the_admin_key(self):
        status, _, data = self.gw.request("GET", "/admin/v1/teams")
        self.assertError(status, data, 401, "authentication_error")
        status, _, data = self.gw.request("GET", "/admin/v1/teams", headers={"authorization": "Bearer wrong"})
        self.assertError(status, data, 401, "authentication_error")

    def test_team_lifecycle(self):
        status, team = self.gw.admin("POST", "/admin/v1/teams",
                                     {"name": "payments", "monthly_budget_usd": 250.5, "clearance": "confidential"})
        self.assertEqual(status, 201, team)
        self.assertEqual(team["name"], "payments")
        self.assertEqual(team["monthly_budget_usd"], 250.5)
        self.assertEqual(team["clearance"], "CONFIDENTIAL")
        status, body = self.gw.admin("POST", "/admin/v1/teams", {"name": "payments", "monthly_budget_usd": 1})
        self.assertEqual(status, 409, body)
        self.assertEqual(body["error"]["type"], "conflict")
        status, got = self.gw.admin("GET", "/admin/v1/teams/payments")
        self.assertEqual((status, got), (200, team))
        status, patched = self.gw.admin("PATCH", "/admin/v1/teams/payments", {"monthly_budget_usd": 10})
        self.assertEqual(status, 200)
        self.assertEqual(patched["monthly_budget_usd"], 10)
        self.assertEqual(patched["clearance"], "CONFIDENTIAL")
        status, listing = self.gw.admin("GET", "/admin/v1/teams")
        self.assertIn("payments", [t["name"] for t in listing["teams"]])
        status, body = self.gw.admin("GET", "/admin/v1/teams/nobody")
        self.assertEqual(status, 404)

    def test_bad_team_fields_are_400(self):
        cases = [
            {"monthly_budget_usd": 1},                                   # name missing
            {"name": "ok", "monthly_budget_usd": "ten"},                 # wrong type
            {"name": "ok", "monthly_budget_usd": -1},                    # negative
            {"name": "ok", "monthly_budget_usd": 1, "clearance": "SECRET"},
            {"name": "has space", "monthly_budget_usd": 1},
            {"name": "ok", "monthly_budget_usd": 1, "colour": "blue"},   # unknown field
            {"name": 7, "monthly_budget_usd": 1},
        ]
        for body in cases:
            status, resp = self.gw.admin("POST", "/admin/v1/teams", body)
            self.assertEqual(status, 400, (body, resp))
            self.assertEqual(resp["error"]["type"], "invalid_request")
        status, resp = self.gw.admin("PATCH", "/admin/v1/teams/payments", {})
        self.assertEqual(status, 400, resp)

    def test_key_lifecycle_and_revocation(self):
        self.gw.admin("POST", "/admin/v1/teams", {"name": "search", "monthly_budget_usd": 5, "clearance": "RESTRICTED"})
        status, created = self.gw.admin("POST", "/admin/v1/keys", {"team": "search"})
        self.assertEqual(status, 201, created)
        self.assertEqual(created["team"], "search")
        key, key_id = created["key"], created["id"]
        self.assertGreaterEqual(len(key), 40)

        for header in ({"authorization": f"Bearer {key}"}, {"x-api-key": key}):
            status, _, data = self.gw.request("GET", "/v1/whoami", headers=header)
            self.assertEqual(status, 200, data)
            me = json.loads(data)
            self.assertEqual(me, {"team": "search", "key_id": key_id, "clearance": "RESTRICTED"})

        # A valid key on an unknown /v1 route is authenticated, then 404.
        status, _, _ = self.gw.request("GET", "/v1/nothing-here", headers={"x-api-key": key})
        self.assertEqual(status, 404)

        status, listing = self.gw.admin("GET", "/admin/v1/keys?team=search")
        self.assertEqual(status, 200)
        entry = [k for k in listing["keys"] if k["id"] == key_id][0]
        self.assertTrue(key.startswith(entry["prefix"]))
        self.assertLess(len(entry["prefix"]), len(key) - 30)
        self.assertNotIn(key, json.dumps(listing))
        self.assertNotIn("key", entry)

        # A wrong secret for a real id is refused.
        tampered = key[:-1] + ("A" if key[-1] != "A" else "B")
        status, _, _ = self.gw.request("GET", "/v1/whoami", headers={"x-api-key": tampered})
        self.assertEqual(status, 401)

        status, body = self.gw.admin("DELETE", f"/admin/v1/keys/{key_id}")
        self.assertEqual((status, body), (200, {"id": key_id, "revoked": True}))
        status, _, data = self.gw.request("GET", "/v1/whoami", headers={"x-api-key": key})
        self.assertEqual(status, 401, data)
        status, listing = self.gw.admin("GET", "/admin/v1/keys?team=search")
        self.assertTrue([k for k in listing["keys"] if k["id"] == key_id][0]["revoked"])
        status, _ = self.gw.admin("DELETE", "/admin/v1/keys/0000000000000000")
        self.assertEqual(status, 404)

    def test_key_for_unknown_team_is_404(self):
        status, body = self.gw.admin("POST", "/admin/v1/keys", {"team": "ghosts"})
        self.assertEqual(status, 404, body)


class AdminClosedWithoutKey(unittest.TestCase):
    def test_admin_routes_are_closed_when_admin_key_unset(self):
        gw = Gateway(admin_key=None)
        try:
            status, _, data = gw.request("GET", "/admin/v1/teams", headers={"authorization": "Bearer anything"})
            self.assertEqual(status, 403, data)
            self.assertEqual(json.loads(data)["error"]["type"], "permission_denied")
        finally:
            gw.cleanup()


class AdminCli(unittest.TestCase):
    def test_cli_creates_teams_and_keys_that_the_server_accepts(self):
        gw = Gateway()
        try:
            config = os.path.join(gw.workdir, "cli.yaml")
            with open(config, "w") as f:
                f.write(f"storage:\n  sqlite_path: {os.path.join(gw.workdir, 'data', 'aegis.db')}\n")

            def cli(*args):
                return subprocess.run([AEGIS_BIN, "admin", "--config", config, "--json", *args],
                                      capture_output=True, text=True, timeout=30)

            r = cli("teams", "create", "ops", "--budget-usd", "12.5", "--clearance", "internal")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(json.loads(r.stdout)["monthly_budget_usd"], 12.5)
            r = cli("teams", "create", "ops", "--budget-usd", "1")
            self.assertEqual(r.returncode, 1)
            self.assertIn("already exists", r.stderr)
            r = cli("keys", "create", "ops")
            self.assertEqual(r.returncode, 0, r.stderr)
            created = json.loads(r.stdout)
            status, _, data = gw.request("GET", "/v1/whoami", headers={"x-api-key": created["key"]})
            self.assertEqual(status, 200, data)
            self.assertEqual(json.loads(data)["team"], "ops")
            # A key's clearance, as POST /admin/v1/keys's: below the team's is
            # what the server uses; above it, or not a level, is refused.
            r = cli("keys", "create", "ops", "--clearance", "public")
            self.assertEqual(r.returncode, 0, r.stderr)
            narrow = json.loads(r.stdout)
            self.assertEqual(narrow["clearance"], "PUBLIC")
            status, _, data = gw.request("GET", "/v1/whoami", headers={"x-api-key": narrow["key"]})
            self.assertEqual((status, json.loads(data)["clearance"]), (200, "PUBLIC"), data)
            for level, message in (("RESTRICTED", "clearance"), ("SECRET", "clearance")):
                r = cli("keys", "create", "ops", "--clearance", level)
                self.assertEqual(r.returncode, 1, (level, r.stdout))
                self.assertIn(message, r.stderr)
            r = cli("keys", "list", "--team", "ops")
            self.assertEqual(r.returncode, 0)
            self.assertNotIn(created["key"], r.stdout)
            self.assertEqual(len(r.stdout.splitlines()), 2, "the refused keys were not created")
            r = cli("keys", "revoke", created["id"])
            self.assertEqual(r.returncode, 0, r.stderr)
            r = cli("keys", "revoke", "ffffffffffffffff")
            self.assertEqual(r.returncode, 1)
            r = cli("teams", "list")
            self.assertEqual([json.loads(line)["name"] for line in r.stdout.splitlines()], ["ops"])
        finally:
            gw.cleanup()


if __name__ == "__main__":
    unittest.main()
