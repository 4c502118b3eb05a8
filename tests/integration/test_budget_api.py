"""GET /admin/v1/teams/{name}/spend against the real server, and budget time zones in config."""
import datetime
import os
import subprocess
import tempfile
import unittest
import zoneinfo

from aegis_harness import AEGIS_BIN, GatewayTestCase

SPEND_KEYS = {"period", "cap_usd", "spent_usd", "reserved_usd", "remaining_usd", "requests"}


def months_around_now(tz):
    """The budget month now, plus the one a moment later (a test may straddle the boundary)."""
    before = datetime.datetime.now(tz).strftime("%Y-%m")
    after = (datetime.datetime.now(tz) + datetime.timedelta(seconds=30)).strftime("%Y-%m")
    return {before, after}


class SpendEndpoint(GatewayTestCase):
    def test_fresh_team_has_spent_nothing_this_utc_month(self):
        status, team = self.gw.admin("POST", "/admin/v1/teams", {"name": "ledger-a", "monthly_budget_usd": 42.5})
        self.assertEqual(status, 201, team)
        status, spend = self.gw.admin("GET", "/admin/v1/teams/ledger-a/spend")
        self.assertEqual(status, 200, spend)
        self.assertEqual(set(spend), SPEND_KEYS)
        self.assertIn(spend["period"], months_around_now(datetime.timezone.utc))
        self.assertRegex(spend["period"], r"^\d{4}-\d{2}$")
        self.assertEqual(spend["cap_usd"], 42.5)
        self.assertEqual(spend["spent_usd"], 0)
        self.assertEqual(spend["reserved_usd"], 0)
        self.assertEqual(spend["remaining_usd"], 42.5)
        self.assertEqual(spend["requests"], 0)
        for key in ("cap_usd", "spent_usd", "reserved_usd", "remaining_usd"):
            self.assertIsInstance(spend[key], (int, float), key)
        self.assertIsInstance(spend["requests"], int)

    def test_cap_follows_the_stored_budget(self):
        self.gw.admin("POST", "/admin/v1/teams", {"name": "ledger-b", "monthly_budget_usd": 10})
        status, _ = self.gw.admin("PATCH", "/admin/v1/teams/ledger-b", {"monthly_budget_usd": 0.000123})
        self.assertEqual(status, 200)
        status, spend = self.gw.admin("GET", "/admin/v1/teams/ledger-b/spend")
        self.assertEqual(status, 200, spend)
        self.assertEqual(spend["cap_usd"], 0.000123)
        self.assertEqual(spend["remaining_usd"], 0.000123)

    def test_unknown_team_is_404(self):
        status, body = self.gw.admin("GET", "/admin/v1/teams/nobody-here/spend")
        self.assertEqual(status, 404, body)
        self.assertEqual(body["error"]["type"], "not_found")

    def test_admin_key_is_required(self):
        self.gw.admin("POST", "/admin/v1/teams", {"name": "ledger-c", "monthly_budget_usd": 1})
        status, _, data = self.gw.request("GET", "/admin/v1/teams/ledger-c/spend")
        self.assertError(status, data, 401, "authentication_error")
        status, _, data = self.gw.request("GET", "/admin/v1/teams/ledger-c/spend",
                                          headers={"authorization": "Bearer not-the-key"})
        self.assertError(status, data, 401, "authentication_error")


class SpendInAnIanaZone(GatewayTestCase):
    # Kiritimati (UTC+14) is a different calendar day from UTC for 14 hours of
    # every day, so the period visibly follows the zone on most month ends.
    config_text = "budgets:\n  timezone: Pacific/Kiritimati\n"

    def test_period_is_the_zones_month(self):
        self.gw.admin("POST", "/admin/v1/teams", {"name": "ledger-z", "monthly_budget_usd": 3})
        status, spend = self.gw.admin("GET", "/admin/v1/teams/ledger-z/spend")
        self.assertEqual(status, 200, spend)
        self.assertIn(spend["period"], months_around_now(zoneinfo.ZoneInfo("Pacific/Kiritimati")))


class ZoneConfig(unittest.TestCase):
    def check(self, text):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write(text)
            path = f.name
        try:
            return path, subprocess.run([AEGIS_BIN, "config", "check", path], capture_output=True, text=True,
                                        timeout=30)
        finally:
            os.unlink(path)

    def test_unknown_zone_is_a_positioned_config_error(self):
        path, r = self.check("budgets:\n  timezone: America/Toronot\n")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(f"{path}:2:", r.stderr)
        self.assertIn("America/Toronot", r.stderr)
        self.assertIn("America/Toronto", r.stderr)  # the "expected" example

    def test_known_zones_and_offsets_pass(self):
        for zone in ("America/Toronto", "Australia/Sydney", "Asia/Kolkata", "UTC", "\"+05:30\""):
            _, r = self.check(f"budgets:\n  timezone: {zone}\n")
            self.assertEqual(r.returncode, 0, (zone, r.stderr))


if __name__ == "__main__":
    unittest.main()
