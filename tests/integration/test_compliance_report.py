"""The monthly compliance report (issue 18, docs/COMPLIANCE.md) through the real binary.

A gateway with a cloud provider that is down (fallback and breaker
incidents), a simulated cloud provider (priced, residency US) and a simulated
local one (residency CA) serves plain chats, chats with personal details that
are masked, RESTRICTED requests (a valid SIN) that must run locally, a value
only the egress detector sees (vetoed, run locally) and a team over its tiny
budget (402). Then the report, from GET /admin/v1/reports/compliance and from
`aegis report compliance`, must give exactly the figures counted here
straight from the audit table (python sqlite3 on the gateway's file, or psql on
PostgreSQL when AEGIS_TEST_POSTGRES_DSN_FILE names a server). The HTML report
is rendered by headless Chromium to a PDF and a PNG (kept under the build
tree's test-artifacts/compliance_report/, or $AEGIS_TEST_ARTIFACTS_DIR), and
the figures printed in the HTML must equal the same counts.
"""
import collections
import datetime
import html.parser
import json
import os
import re
import shutil
import sqlite3
import struct
import subprocess
import tempfile
import unittest
import uuid
import zlib

from aegis_harness import AEGIS_BIN, Gateway, free_port

SIN = "046 454 286"
EMAIL = "jennifer.walsh@acme-mail.com"
# The classifier looks 48 bytes back for a SIN word; the egress detector 100
# (as in test_local_only_invariant.py): only the second one sees this SIN.
FAR_SIN = ("My SIN, as the form on page two of the application asks for it in box fourteen, "
           "is 046454286.")
JOBS_KEY = "6a" * 32
LEVELS = ("PUBLIC", "INTERNAL", "CONFIDENTIAL", "RESTRICTED")
RESIDENCY = {"flaky": "EU", "cloudsim": "US", "localsim": "CA"}

PROVIDERS = """
providers:
  - name: flaky
    type: openai_compat
    base_url: http://127.0.0.1:{dead_port}/v1
    locality: cloud
    residency: EU
    connect_timeout_ms: 2000
    models: {{haiku: flaky-1, sonnet: flaky-1, opus: flaky-1}}
  - name: cloudsim
    type: sim
    locality: cloud
    residency: US
    models: {{haiku: sim-small, sonnet: sim-medium, opus: sim-large}}
    prices:
      sim-small: {{input_per_mtok_usd: 1, output_per_mtok_usd: 5}}
      sim-medium: {{input_per_mtok_usd: 3, output_per_mtok_usd: 15}}
      sim-large: {{input_per_mtok_usd: 15, output_per_mtok_usd: 75}}
  - name: localsim
    type: sim
    residency: CA
    models: {{haiku: local-small, sonnet: local-medium, opus: local-large}}
routing:
  fallback_chain: [flaky, cloudsim, localsim]
resilience:
  failure_threshold: 2
  open_duration_s: 3600
  health_check_interval_s: 0
"""


def artifacts_dir():
    base = os.environ.get("AEGIS_TEST_ARTIFACTS_DIR") or os.path.join(
        os.path.dirname(os.path.abspath(AEGIS_BIN)), "test-artifacts")
    path = os.path.join(base, "compliance_report")
    os.makedirs(path, exist_ok=True)
    return path


def pg_base_dsn():
    path = os.environ.get("AEGIS_TEST_POSTGRES_DSN_FILE")
    if not path or not os.path.exists(path):
        return None
    with open(path) as f:
        return f.read().strip()


def psql(dsn, sql):
    r = subprocess.run(["psql", dsn, "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise AssertionError(r.stderr)
    return r.stdout.strip()


# ------------------------------------------------------------------ the audit table, counted here

def month_bounds(month):
    start = datetime.datetime.strptime(month + "-01", "%Y-%m-%d").replace(tzinfo=datetime.timezone.utc)
    end = (start + datetime.timedelta(days=32)).replace(day=1)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000), start, end


def as_json(value):
    return json.loads(value) if isinstance(value, str) else value


def normalised(row):
    out = dict(row)
    out["entities"] = as_json(row["entities"])
    out["fallback_path"] = as_json(row["fallback_path"])
    for flag in ("invented_pii", "egress_blocked", "egress_veto"):
        out[flag] = bool(row[flag])
    return out


def expected_report(rows, teams, spend, month):
    """Every figure of the report, counted from the month's audit rows, the teams and budget_spend tables."""
    since, _, start, end = month_bounds(month)
    admin_actions = collections.Counter(r["surface"] for r in rows if r["surface"].startswith("admin."))
    rows = [r for r in rows if not r["surface"].startswith("admin.")]
    by_level = {level: 0 for level in LEVELS}
    surfaces = collections.Counter()
    restricted = {"total": 0, "local": 0, "non_local": 0, "not_sent": 0}
    vetoes, blocked = collections.Counter(), collections.Counter()
    masked, masked_requests, masked_values, invented = collections.Counter(), 0, 0, 0
    providers = collections.defaultdict(lambda: {"requests": 0, "sent_local": 0, "sent_cloud": 0, "restricted": 0})
    incidents, incident_requests, breaker_open = collections.Counter(), 0, 0
    rejections = collections.Counter()
    days = (end - start).days
    daily = [{level: 0 for level in LEVELS} for _ in range(days)]
    for r in rows:
        by_level[r["level"]] += 1
        surfaces[r["surface"]] += 1
        daily[(r["time_ms"] - since) // 86_400_000][r["level"]] += 1
        off_network = r["locality"] not in ("local", "")
        if r["level"] == "RESTRICTED":
            restricted["total"] += 1
            key = "local" if r["locality"] == "local" else "non_local" if off_network else "not_sent"
            restricted[key] += 1
        if r["egress_veto"]:
            vetoes[r["egress_rule"] or "unnamed"] += 1
        if r["egress_blocked"]:
            blocked[r["provider"] or "none"] += 1
        if r["placeholders"] > 0:
            masked_requests += 1
            masked_values += r["placeholders"]
            masked.update(r["entities"])
        invented += r["invented_pii"]
        if r["provider"]:
            p = providers[r["provider"]]
            p["requests"] += 1
            p["sent_local"] += r["locality"] == "local"
            p["sent_cloud"] += off_network
            p["restricted"] += r["level"] == "RESTRICTED"
        steps = [s for s in r["fallback_path"] if s.split(":", 1)[1] != "ok"]
        incidents.update(steps)
        incident_requests += bool(steps)
        breaker_open += sum(1 for s in steps if s.endswith(":circuit_open"))
        if r["status"] == 402 or r["error_type"] == "budget_exceeded":
            rejections[r["team"]] += 1
    spend_rows = {team: {"team": team, "cap_usd": cap / 1e6, "spent_usd": 0.0, "requests": 0}
                  for team, cap in teams.items()}
    for team, spent, requests in spend:
        spend_rows.setdefault(team, {"team": team, "cap_usd": None})
        spend_rows[team].update({"spent_usd": spent / 1e6, "requests": requests})
    return {
        "requests": len(rows),
        "requests_by_level": by_level,
        "requests_by_surface": dict(surfaces),
        "admin_actions": dict(admin_actions),
        "restricted": restricted,
        "egress_vetoes": {"total": sum(vetoes.values()), "by_rule": dict(vetoes)},
        "blocked_sends": {"total": sum(blocked.values()), "by_provider": dict(blocked)},
        "masked_entities": dict(masked),
        "masking": {"requests": masked_requests, "values": masked_values},
        "invented_pii": invented,
        "providers": {name: dict(p) for name, p in providers.items()},
        "incidents": {"requests": incident_requests, "breaker_open": breaker_open, "by_step": dict(incidents)},
        "budget_rejections": {"total": sum(rejections.values()), "by_team": dict(rejections)},
        "spend": sorted(spend_rows.values(), key=lambda s: s["team"]),
        "daily": [{"date": (start + datetime.timedelta(days=i)).strftime("%Y-%m-%d"), "by_level": d}
                  for i, d in enumerate(daily)],
    }


class FigureParser(html.parser.HTMLParser):
    """name -> [text] of every element with a data-figure attribute."""

    def __init__(self):
        super().__init__()
        self.figures = collections.defaultdict(list)
        self._open = []

    def handle_starttag(self, tag, attrs):
        name = dict(attrs).get("data-figure")
        self._open.append([tag, name, ""])

    def handle_endtag(self, tag):
        while self._open:
            open_tag, name, text = self._open.pop()
            if name is not None:
                self.figures[name].append(text.strip())
            if self._open:
                self._open[-1][2] += text
            if open_tag == tag:
                break

    def handle_data(self, data):
        if self._open:
            self._open[-1][2] += data


# ------------------------------------------------------------------ PNG and PDF checks

def decode_png(data):
    """(width, height, rows of RGB(A) bytes) of an 8-bit truecolour PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        crc = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0]
        assert zlib.crc32(kind + chunk) & 0xFFFFFFFF == crc, f"bad CRC in {kind}"
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        elif kind == b"IEND":
            break
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            up_left = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - up_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else up_left)) & 0xFF
            else:
                assert kind == 0, f"unknown PNG filter {kind}"
        rows.append(bytes(line))
        previous = line
    return width, height, channels, rows


def hex_rgb(colour):
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))


class ComplianceReportTest:
    """Mixed into a unittest.TestCase per backend."""

    backend = "sqlite"

    @classmethod
    def gateway_config(cls):
        return PROVIDERS.format(dead_port=free_port())

    @classmethod
    def setUpClass(cls):
        cls.config_text = cls.gateway_config()
        cls.env = dict(cls.extra_env())
        cls.gw = Gateway(config_text=cls.config_text, env=cls.env)
        cls.keys = {}

    @classmethod
    def extra_env(cls):
        return {}

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()

    # ---- traffic

    def team(self, name, budget=50):
        status, body = self.gw.admin("POST", "/admin/v1/teams", {"name": name, "monthly_budget_usd": budget})
        self.assertEqual(status, 201, body)
        status, created = self.gw.admin("POST", "/admin/v1/keys", {"team": name})
        self.assertEqual(status, 201, created)
        return created["key"]

    def chat(self, key, content, path="/v1/chat/completions"):
        body = {"model": "auto", "max_tokens": 32, "messages": [{"role": "user", "content": content}]}
        headers = {"authorization": f"Bearer {key}"}
        if path == "/v1/messages":
            headers["anthropic-version"] = "2023-06-01"
        status, response_headers, data = self.gw.request("POST", path, body, headers, timeout=30)
        return status, response_headers, data

    def drive_traffic(self):
        suffix = uuid.uuid4().hex[:6]
        payments, research, tiny = f"payments-{suffix}", f"research-{suffix}", f"tiny-{suffix}"
        pay_key, research_key = self.team(payments), self.team(research)
        tiny_key = self.team(tiny, budget=0.000001)
        outcomes = collections.Counter()

        for i in range(3):
            status, headers, data = self.chat(pay_key, f"Summarise the quarterly plan, part {i}")
            self.assertEqual(status, 200, data)
        status, headers, data = self.chat(research_key, "Hello there", path="/v1/messages")
        self.assertEqual(status, 200, data)

        for i in range(2):
            status, headers, data = self.chat(pay_key, f"Write to {EMAIL} about invoice {i}")
            self.assertEqual(status, 200, data)
            self.assertIn("provider=cloudsim", headers.get("x-aegis-route", ""))
            self.assertGreater(int(headers.get("x-aegis-masked", "0")), 0, headers)
            outcomes["masked"] += 1

        for key in (pay_key, research_key):
            status, headers, data = self.chat(key, f"Update the payroll file for SIN {SIN}")
            self.assertEqual(status, 200, data)
            self.assertEqual(headers.get("x-aegis-classification"), "RESTRICTED")
            self.assertIn("provider=localsim", headers.get("x-aegis-route", ""))

        status, headers, data = self.chat(research_key, FAR_SIN)
        self.assertEqual(status, 200, data)
        self.assertIn("provider=localsim", headers.get("x-aegis-route", ""))

        status, _, data = self.chat(tiny_key, "Draft a long essay about budgets")
        self.assertEqual(status, 402, data)

        # An administrator's action on record (an admin.keys row): counted apart, never as a request.
        status, rotated = self.gw.admin("POST", f"/admin/v1/keys/{tiny_key.split('_')[1]}/rotate", {"grace_s": 60})
        self.assertEqual(status, 200, rotated)
        return {"teams": (payments, research, tiny), "masked": outcomes["masked"]}

    # ---- the audit table

    def table(self, month):
        """(rows of the month, {team: cap micros}, [(team, spent micros, requests)], violation ids)."""
        since, until, _, _ = month_bounds(month)
        db = sqlite3.connect(os.path.join(self.gw.workdir, "data", "aegis.db"), timeout=10)
        db.row_factory = sqlite3.Row
        try:
            rows = [normalised(dict(r)) for r in db.execute(
                "SELECT * FROM audit WHERE time_ms >= ? AND time_ms < ? ORDER BY time_ms", (since, until))]
            teams = dict(db.execute("SELECT name, monthly_budget_micros FROM teams").fetchall())
            spend = db.execute("SELECT team, spent_micros, requests FROM budget_spend WHERE period = ?",
                               (month,)).fetchall()
            violations = {r[0] for r in db.execute(
                "SELECT request_id FROM pipeda_violations WHERE time_ms >= ? AND time_ms < ?", (since, until))}
        finally:
            db.close()
        return rows, teams, [tuple(s) for s in spend], violations

    # ---- the CLI

    def cli(self, *args, timeout=60):
        config = os.path.join(self.gw.workdir, "aegis.yaml")
        env = dict(os.environ, **self.env)
        return subprocess.run([AEGIS_BIN, "report", "compliance", "--config", config, *args],
                              cwd=self.gw.workdir, capture_output=True, text=True, timeout=timeout, env=env)

    # ---- the test

    def assertFiguresMatch(self, report, want, where):
        for field in ("requests", "requests_by_level", "requests_by_surface", "admin_actions", "restricted",
                      "egress_vetoes",
                      "blocked_sends", "masked_entities", "masking", "invented_pii", "incidents",
                      "budget_rejections", "spend"):
            got = report[field]
            if field == "spend":
                got = got["teams"]
            self.assertEqual(got, want[field], f"{where}: {field}")
        self.assertEqual([{"date": d["date"], "by_level": d["by_level"]} for d in report["daily"]], want["daily"],
                         f"{where}: daily")
        providers = {p["name"]: p for p in report["providers"]}
        for name, counts in want["providers"].items():
            self.assertEqual({k: providers[name][k] for k in counts}, counts, f"{where}: provider {name}")
        for name, residency in RESIDENCY.items():
            self.assertEqual(providers[name]["residency"], residency, where)
            self.assertTrue(providers[name]["configured"], where)
        self.assertEqual(providers["localsim"]["locality"], "local", where)
        self.assertEqual(providers["cloudsim"]["locality"], "cloud", where)

    def test_report_matches_the_audit_table_and_renders(self):
        traffic = self.drive_traffic()
        month = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m")
        status, report = self.gw.admin("GET", f"/admin/v1/reports/compliance?month={month}")
        self.assertEqual(status, 200, report)
        rows, teams, spend, violations = self.table(month)
        if any(r["time_ms"] < month_bounds(month)[0] for r in rows) or not rows:
            self.skipTest("the month turned while the test ran")
        want = expected_report(rows, teams, spend, month)

        # The traffic gave every section something to count: a figure that
        # stayed 0 here would not show a wrong count.
        self.assertGreaterEqual(want["restricted"]["local"], 3, want["restricted"])
        self.assertEqual(want["admin_actions"], {"admin.keys": 1}, want["admin_actions"])
        self.assertEqual(want["restricted"]["non_local"], 0)
        self.assertGreaterEqual(want["masking"]["requests"], traffic["masked"])
        self.assertGreaterEqual(want["masking"]["requests"], 1)
        self.assertGreaterEqual(want["egress_vetoes"]["total"], 1)
        self.assertGreaterEqual(want["budget_rejections"]["total"], 1)
        self.assertGreaterEqual(want["incidents"]["breaker_open"], 1, want["incidents"])
        self.assertTrue(any(step.startswith("flaky:") and not step.endswith(":circuit_open")
                            for step in want["incidents"]["by_step"]), want["incidents"])
        self.assertTrue(any(s["spent_usd"] > 0 for s in want["spend"]), want["spend"])

        self.assertEqual(report["month"], month)
        self.assertIsNone(report["team"])
        self.assertFiguresMatch(report, want, "route")
        self.assertEqual(report["violations"], [])
        self.assertEqual({v["request_id"] for v in report["violations"]}, violations)
        self.assertTrue(report["invariant_holds"])
        self.assertIn(report["chain"]["status"], ("intact", "unsigned_tail", "tampered", "unavailable"))
        self.assertIsInstance(report["chain"]["checkpoint_ids"], list)

        # The same figures from the command line, on the same store.
        r = self.cli("--month", month, "--format", "json")
        self.assertEqual(r.returncode, 0, r.stderr)
        from_cli = json.loads(r.stdout)
        self.assertFiguresMatch(from_cli, want, "cli")
        for doc in (report, from_cli):
            doc.pop("generated_at")
        self.assertEqual(from_cli, report)

        # One team's report counts only its rows.
        payments = traffic["teams"][0]
        status, team_report = self.gw.admin("GET", f"/admin/v1/reports/compliance?month={month}&team={payments}")
        self.assertEqual(status, 200, team_report)
        team_rows = [r for r in rows if r["team"] == payments]
        team_want = expected_report(team_rows, {payments: teams[payments]},
                                    [s for s in spend if s[0] == payments], month)
        self.assertEqual(team_report["team"], payments)
        self.assertEqual(team_report["requests"], team_want["requests"])
        self.assertEqual(team_report["requests_by_level"], team_want["requests_by_level"])
        self.assertEqual(team_report["spend"]["teams"], team_want["spend"])

        self.check_html(month, want)
        self.check_markdown(month, want)

    def check_markdown(self, month, want):
        status, headers, data = self.gw.request("GET", f"/admin/v1/reports/compliance?month={month}&format=md",
                                                headers={"authorization": f"Bearer {self.gw.admin_key}"})
        self.assertEqual(status, 200, data)
        self.assertTrue(headers["content-type"].startswith("text/markdown"), headers)
        md = data.decode()
        for level in LEVELS:
            self.assertIn(f"| {level} | {want['requests_by_level'][level]} |", md)
        self.assertIn(f"| **total** | {want['requests']} |", md)
        self.assertIn(f"| sent off the local network (violations) | {want['restricted']['non_local']} |", md)
        for entity, count in want["masked_entities"].items():
            self.assertIn(f"| {entity} | {count} |", md)

    def check_html(self, month, want):
        status, headers, data = self.gw.request("GET", f"/admin/v1/reports/compliance?month={month}&format=html",
                                                headers={"authorization": f"Bearer {self.gw.admin_key}"})
        self.assertEqual(status, 200, data)
        self.assertTrue(headers["content-type"].startswith("text/html"), headers)
        page = data.decode()
        self.assertNotRegex(page, r"<[A-Za-z][^>]*\s(src|href)=", "self-contained: nothing to fetch")
        self.assertNotIn("url(", page)
        self.assertGreaterEqual(page.count("<svg"), 3, "three charts")
        self.assertIn("@media print", page)

        parser = FigureParser()
        parser.feed(page)
        figures = parser.figures

        def printed(name):
            values = figures.get(name)
            self.assertTrue(values, f"no figure {name} in the HTML")
            self.assertEqual(len(set(values)), 1, f"{name} printed differently: {values}")
            return values[0]

        expected = {
            "month": month,
            "requests": want["requests"],
            "restricted.total": want["restricted"]["total"],
            "restricted.local": want["restricted"]["local"],
            "restricted.non_local": want["restricted"]["non_local"],
            "restricted.not_sent": want["restricted"]["not_sent"],
            "violations": want["restricted"]["non_local"],
            "egress_vetoes": want["egress_vetoes"]["total"],
            "blocked_sends": want["blocked_sends"]["total"],
            "masking.requests": want["masking"]["requests"],
            "masking.values": want["masking"]["values"],
            "invented_pii": want["invented_pii"],
            "incidents.requests": want["incidents"]["requests"],
            "incidents.breaker_open": want["incidents"]["breaker_open"],
            "budget_rejections": want["budget_rejections"]["total"],
        }
        for level in LEVELS:
            expected[f"requests_by_level.{level}"] = want["requests_by_level"][level]
        for surface, count in want["requests_by_surface"].items():
            expected[f"requests_by_surface.{surface}"] = count
        for surface, count in want["admin_actions"].items():
            expected[f"admin_actions.{surface}"] = count
        for rule, count in want["egress_vetoes"]["by_rule"].items():
            expected[f"egress_vetoes.{rule}"] = count
        for entity, count in want["masked_entities"].items():
            expected[f"masked_entities.{entity}"] = count
        for step, count in want["incidents"]["by_step"].items():
            expected[f"incidents.{step}"] = count
        for name, counts in want["providers"].items():
            for key, count in counts.items():
                expected[f"providers.{name}.{key}"] = count
        for team in want["spend"]:
            expected[f"spend.{team['team']}.requests"] = team["requests"]
            expected[f"budget_rejections.{team['team']}"] = want["budget_rejections"]["by_team"].get(team["team"], 0)
        for name, value in expected.items():
            self.assertEqual(printed(name), str(value), name)
        for team in want["spend"]:
            self.assertAlmostEqual(float(printed(f"spend.{team['team']}.spent_usd").lstrip("$")), team["spent_usd"],
                                   places=6)

        self.render_with_chromium(page, want)

    def render_with_chromium(self, page, want):
        chromium = shutil.which("chromium")
        self.assertIsNotNone(chromium, "Debian's chromium is needed (scripts/setup installs it)")
        out = artifacts_dir()
        html_path = os.path.join(out, f"report-{self.backend}.html")
        pdf_path = os.path.join(out, f"report-{self.backend}.pdf")
        png_path = os.path.join(out, f"report-{self.backend}.png")
        with open(html_path, "w") as f:
            f.write(page)
        for path in (pdf_path, png_path):
            if os.path.exists(path):
                os.unlink(path)
        profile = tempfile.mkdtemp(prefix="aegis-chromium-")
        self.addCleanup(shutil.rmtree, profile, True)
        common = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  f"--user-data-dir={profile}", "--hide-scrollbars"]
        env = dict(os.environ, HOME=profile)
        for extra in ([f"--print-to-pdf={pdf_path}", "--no-pdf-header-footer"],
                      [f"--screenshot={png_path}", "--window-size=1280,2000"]):
            r = subprocess.run(common + extra + ["file://" + html_path], capture_output=True, timeout=180, env=env)
            self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace")[-2000:])

        with open(pdf_path, "rb") as f:
            pdf = f.read()
        self.assertTrue(pdf.startswith(b"%PDF-"), pdf[:16])
        pages = len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))
        self.assertGreaterEqual(pages, 2, "the print CSS starts sections on new pages")
        self.check_pdf_text(pdf_path, want)

        with open(png_path, "rb") as f:
            width, height, channels, rows = decode_png(f.read())
        self.assertEqual((width, height), (1280, 2000))
        colours = collections.Counter()
        for line in rows:
            for x in range(0, width * channels, channels):
                colours[line[x:x + 3]] += 1
        total = sum(colours.values())
        white = colours[b"\xff\xff\xff"]
        self.assertGreater(len(colours), 20, "a blank or flat page")
        self.assertGreater(total - white, total // 50, "almost nothing drawn")
        # The verdict box's green border (the invariant held) and the bars of
        # the INTERNAL requests are on the first screen.
        seen = set(colours)
        self.assertIn(bytes(hex_rgb("#1b7837")), seen, "the verdict's 'held' colour")
        self.assertIn(bytes(hex_rgb("#4292c6")), seen, "an INTERNAL bar of the daily chart")

    def check_pdf_text(self, pdf_path, want):
        """The figures as printed: the PDF's own text (poppler's pdftotext, in
        layout mode, keeps each table row on a line) against the counts from
        the audit table."""
        r = subprocess.run(["pdftotext", "-layout", pdf_path, "-"], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        text = r.stdout

        def row(label, value):
            self.assertRegex(text, re.compile(rf"^\s*{re.escape(label)}\s+{value}\s*$", re.M),
                             f"the PDF's row '{label}' should read {value}")
        restricted = want["restricted"]
        row("total", restricted["total"])
        row("ran on a local provider", restricted["local"])
        row("sent off the local network (violations)", restricted["non_local"])
        row("not sent", restricted["not_sent"])
        for surface, count in want["requests_by_surface"].items():
            row(surface, count)
        for entity, count in want["masked_entities"].items():
            row(entity, count)
        for rule, count in want["egress_vetoes"]["by_rule"].items():
            row(rule, count)
        for step, count in want["incidents"]["by_step"].items():
            row(step, count)
        self.assertIn(f"there were {restricted['non_local']}.", text)

    def test_bad_requests_and_usage(self):
        for query, needle in (("", "month is required"), ("?month=2026-13", "YYYY-MM"), ("?month=nov", "YYYY-MM"),
                              ("?month=2026-11&format=pdf", "format must be"), ("?month=2026-11&tema=x", "tema")):
            status, body = self.gw.admin("GET", "/admin/v1/reports/compliance" + query)
            self.assertEqual(status, 400, (query, body))
            self.assertEqual(body["error"]["type"], "invalid_request")
            self.assertIn(needle, body["error"]["message"], query)
        status, _, data = self.gw.request("GET", "/admin/v1/reports/compliance?month=2026-11")
        self.assertEqual(status, 401, data)

        r = self.cli("--month", "2026-13", "--format", "json")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("YYYY-MM", r.stderr)
        r = self.cli("--month", "2026-11")
        self.assertEqual(r.returncode, 2, r.stderr)
        r = self.cli("--month", "2026-11", "--format", "pdf")
        self.assertEqual(r.returncode, 2, r.stderr)
        bad_config = os.path.join(self.gw.workdir, "bad.yaml")
        with open(bad_config, "w") as f:
            f.write("providers: 3\n")
        r = subprocess.run([AEGIS_BIN, "report", "compliance", "--month", "2026-11", "--format", "json",
                            "--config", bad_config], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("bad.yaml:1:", r.stderr)

        # -o writes the file; an empty month is all zeros, every level listed.
        out = os.path.join(self.gw.workdir, "report-1999-01.md")
        r = self.cli("--month", "1999-01", "--format", "md", "-o", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "")
        with open(out) as f:
            md = f.read()
        self.assertIn("| RESTRICTED | 0 |", md)
        r = self.cli("--month", "1999-01", "--format", "json")
        self.assertEqual(r.returncode, 0, r.stderr)
        empty = json.loads(r.stdout)
        self.assertEqual(empty["requests_by_level"], {level: 0 for level in LEVELS})
        self.assertEqual(empty["restricted"], {"total": 0, "local": 0, "non_local": 0, "not_sent": 0})
        self.assertEqual(len(empty["daily"]), 31)
        r = self.cli("--month", "1999-01", "--format", "json", "-o", os.path.join(self.gw.workdir, "no", "such", "x"))
        self.assertEqual(r.returncode, 1, r.stderr)


class ComplianceReportOnSqlite(ComplianceReportTest, unittest.TestCase):
    backend = "sqlite"


@unittest.skipUnless(pg_base_dsn(), "no PostgreSQL test server in this run (ctest's postgres.start provides one)")
class ComplianceReportOnPostgres(ComplianceReportTest, unittest.TestCase):
    backend = "postgres"

    @classmethod
    def setUpClass(cls):
        cls.base = pg_base_dsn()
        cls.schema = "report_" + uuid.uuid4().hex[:12]
        psql(cls.base, f"CREATE SCHEMA {cls.schema}")
        cls.dsn = f"{cls.base} options='-c search_path={cls.schema}'"
        try:
            super().setUpClass()
        except Exception:
            psql(cls.base, f"DROP SCHEMA {cls.schema} CASCADE")
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            psql(cls.base, f"DROP SCHEMA {cls.schema} CASCADE")

    @classmethod
    def gateway_config(cls):
        return (super().gateway_config() + "storage:\n  postgres_dsn: \"${AEGIS_IT_PG_DSN}\"\n"
                "jobs:\n  encryption:\n    active: k1\n    keys:\n      - {id: k1, env: AEGIS_IT_JOBS_KEY}\n")

    @classmethod
    def extra_env(cls):
        return {"AEGIS_IT_PG_DSN": cls.dsn, "AEGIS_IT_JOBS_KEY": JOBS_KEY}

    def table(self, month):
        since, until, _, _ = month_bounds(month)
        rows = json.loads(psql(self.dsn, "SELECT coalesce(json_agg(a ORDER BY time_ms), '[]') FROM audit a "
                                         f"WHERE time_ms >= {since} AND time_ms < {until}"))
        rows = [normalised(r) for r in rows]
        teams = dict(json.loads(psql(self.dsn, "SELECT coalesce(json_agg(json_build_array(name, "
                                               "monthly_budget_micros)), '[]') FROM teams")))
        spend = [tuple(s) for s in json.loads(psql(
            self.dsn, "SELECT coalesce(json_agg(json_build_array(team, spent_micros, requests)), '[]') "
                      f"FROM budget_spend WHERE period = '{month}'"))]
        violations = set(filter(None, psql(self.dsn, "SELECT request_id FROM pipeda_violations "
                                                     f"WHERE time_ms >= {since} AND time_ms < {until}").split("\n")))
        return rows, teams, spend, violations


if __name__ == "__main__":
    unittest.main()
