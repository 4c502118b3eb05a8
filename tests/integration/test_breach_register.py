"""The breach register through the real binary, on SQLite and PostgreSQL: a
database administrator edits an audit row under a running gateway; the
gateway's own verification (audit.verify_interval_s) records the tampering as
an entry, shows it in aegis_audit_chain_findings, and an officer moves the
entry along through the admin API and `aegis breaches`, every change kept.
Bad input gets 400/404 with nothing changed. A RESTRICTED request sent to a
provider declared local whose address is not (the egress guard blocks it)
becomes an egress_block entry with the row's types and counts, never values."""
import hashlib
import ipaddress
import json
import os
import socket
import subprocess
import tempfile
import unittest

from aegis_harness import AEGIS_BIN, Gateway, free_port, wait_until
from audit_backends import PostgresBackend, SqliteBackend
from oidc_idp import TestIdp
from test_postgres_store import base_dsn


SIN = "046 454 286"
# What the gateway counts as local besides egress.local_cidrs (docs/CONFIG.md, egress).
LOCAL_NETWORKS = [ipaddress.ip_network(n) for n in ("127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]


def non_local_address():
    """An IPv4 address of this machine outside every local network, or None."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.123", 9))  # no packet is sent: this only picks the outgoing interface
        address = probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()
    ip = ipaddress.ip_address(address)
    return None if any(ip in net for net in LOCAL_NETWORKS) else address


class RegisterChecks:
    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="aegis-breach-")
        self.env = dict(os.environ)

    def write_config(self):
        self.config = os.path.join(self.workdir, "aegis.yaml")
        with open(self.config, "w") as f:
            f.write(self.storage() + "audit:\n  checkpoint_interval_s: 1\n  verify_interval_s: 1\n")

    def breaches(self, *args):
        r = subprocess.run([AEGIS_BIN, "breaches", "--config", self.config, *args], capture_output=True, text=True,
                           timeout=60, env=self.env)
        return r.returncode, r.stdout, r.stderr

    def test_tampering_becomes_an_entry_an_officer_works_through(self):
        # Officers also sign in with the identity provider: a change made with an
        # admin's token names them by their pseudonymous OIDC id.
        idp = TestIdp()
        self.addCleanup(idp.stop)
        with open(self.config, "a") as f:
            f.write(f'oidc:\n  issuers:\n    - issuer: "{idp.issuer}"\n      audience: "aegis"\n'
                    '      team_claim: "groups"\n      admin_values: ["aegis-admins"]\n')
        gw = Gateway(("--demo", "--config", self.config), env=self.env)
        self.addCleanup(gw.cleanup)
        status, _ = gw.admin("POST", "/admin/v1/teams", {"name": "ops", "monthly_budget_usd": 10})
        self.assertEqual(status, 201)
        status, key = gw.admin("POST", "/admin/v1/keys", {"team": "ops"})
        auth = {"authorization": f"Bearer {key['key']}"}
        for i in range(3):
            status, _, data = gw.request("POST", "/v1/chat/completions",
                                         {"model": "auto", "messages": [{"role": "user", "content": f"hi {i}"}]}, auth)
            self.assertEqual(status, 200, data)
        wait_until(lambda: self.sql("SELECT COUNT(*) FROM audit_checkpoints") != "0", 10, "a checkpoint")
        status, listed = gw.admin("GET", "/admin/v1/breaches")
        self.assertEqual((status, listed["count"]), (200, 0), listed)

        self.tamper("UPDATE audit SET team = 'someone-else' WHERE team = 'ops'")

        def recorded():
            status, listed = gw.admin("GET", "/admin/v1/breaches?kind=chain_failure&status=open")
            return listed["data"] if status == 200 and listed["count"] > 0 else None
        entries = wait_until(recorded, 15, "the gateway's verification to record the tampering")
        self.assertEqual(len(entries), 1, entries)
        entry = entries[0]
        self.assertEqual(entry["kind"], "chain_failure")
        self.assertEqual(entry["status"], "open")
        self.assertIn("its content no longer matches its hash", entry["detail"])
        wait_until(lambda: gw.metrics().get(("aegis_audit_chain_findings", frozenset()), 0) >= 1, 5,
                   "aegis_audit_chain_findings")
        wait_until(lambda: "audit_chain_tampered" in gw.log(), 5, "the tampering logged")

        # Bad input changes nothing.
        eid = entry["id"]
        for body, want in (({"status": "open"}, 400), ({"status": "closed", "extra": 1}, 400),
                           ({"note": "no status"}, 400), ({"status": "assessed", "note": 5}, 400),
                           ({"status": "assessed", "note": "x" * 4001}, 400)):
            status, reply = gw.admin("PATCH", f"/admin/v1/breaches/{eid}", body)
            self.assertEqual(status, want, (body, reply))
            self.assertNotIn("127.0.0.1", json.dumps(reply))
        status, _ = gw.admin("PATCH", "/admin/v1/breaches/99999", {"status": "closed"})
        self.assertEqual(status, 404)
        status, _ = gw.admin("GET", "/admin/v1/breaches/not-a-number")
        self.assertEqual(status, 404)
        for query in ("?status=bogus", "?kind=bogus", "?limit=0", "?colour=red"):
            status, reply = gw.admin("GET", "/admin/v1/breaches" + query)
            self.assertEqual(status, 400, (query, reply))
        status, _, _ = gw.request("GET", "/admin/v1/breaches")
        self.assertEqual(status, 401)
        status, _, _ = gw.request("PATCH", f"/admin/v1/breaches/{eid}", {"status": "closed"}, auth)
        self.assertEqual(status, 401)
        status, shown = gw.admin("GET", f"/admin/v1/breaches/{eid}")
        self.assertEqual((shown["status"], shown["history"]), ("open", []))

        status, updated = gw.admin("PATCH", f"/admin/v1/breaches/{eid}",
                                   {"status": "assessed", "note": "DBA edit during maintenance; investigating"})
        self.assertEqual(status, 200, updated)
        self.assertEqual((updated["status"], updated["updated_by"]), ("assessed", "admin_key"))

        # The CLI on the same database.
        code, out, err = self.breaches("--json", "list", "--kind", "chain_failure")
        self.assertEqual(code, 0, err)
        self.assertEqual([(b["id"], b["status"]) for b in json.loads(out)], [(eid, "assessed")])
        code, out, err = self.breaches("update", str(eid), "--status", "reported", "--note", "reported to the OPC")
        self.assertEqual(code, 0, err)
        self.assertIn("reported", out)
        code, out, err = self.breaches("--json", "show", str(eid))
        self.assertEqual(code, 0, err)
        shown = json.loads(out)
        self.assertEqual([(h["status"], h["actor"]) for h in shown["history"]],
                         [("assessed", "admin_key"), ("reported", "cli")])
        self.assertEqual(shown["history"][1]["note"], "reported to the OPC")
        code, _, err = self.breaches("update", str(eid), "--status", "forgotten")
        self.assertEqual(code, 2)
        self.assertIn("--status must be one of assessed, reported, closed", err)
        code, _, err = self.breaches("show", "99999")
        self.assertEqual(code, 1)
        self.assertIn("not found", err)
        status, listed = gw.admin("GET", "/admin/v1/breaches?status=reported")
        self.assertEqual([b["id"] for b in listed["data"]], [eid])

        # Found again at every pass, recorded once.
        status, listed = gw.admin("GET", "/admin/v1/breaches")
        self.assertEqual(listed["count"], 1, listed)

        # An officer with an admin's OIDC token closes it: recorded as their
        # oidc:<16 hex> id (a hash of issuer and subject), in the register's
        # history and in the audit chain's row.
        token = idp.sign(claims={"sub": "officer-7", "groups": ["aegis-admins"]})
        officer = "oidc:" + hashlib.sha256(f"{idp.issuer}\nofficer-7".encode()).hexdigest()[:16]
        status, _, data = gw.request("PATCH", f"/admin/v1/breaches/{eid}", {"status": "closed", "note": "done"},
                                     {"authorization": f"Bearer {token}"})
        self.assertEqual(status, 200, data)
        self.assertEqual(json.loads(data)["updated_by"], officer)
        status, shown = gw.admin("GET", f"/admin/v1/breaches/{eid}")
        self.assertEqual([(h["status"], h["actor"]) for h in shown["history"]],
                         [("assessed", "admin_key"), ("reported", "cli"), ("closed", officer)])
        self.assertNotIn("officer-7", json.dumps(shown))

        def closed_row():
            status, listed = gw.admin("GET", "/admin/v1/audit?limit=100")
            self.assertEqual(status, 200, listed)
            return [r for r in listed["data"] if r["reason"].endswith(f"status=closed by={officer}")] or None
        wait_until(closed_row, 10, "the officer's change in the audit trail")


    def test_a_send_the_egress_guard_blocks_becomes_an_entry(self):
        address = non_local_address()
        if address is None:
            self.skipTest("this machine has no address outside the local networks to serve a 'local' provider on")
        port = free_port()
        sim_log = open(os.path.join(self.workdir, "sim.log"), "wb")
        sim = subprocess.Popen([AEGIS_BIN, "sim", "--listen", f"{address}:{port}", "--threads", "1"],
                               stdout=sim_log, stderr=subprocess.STDOUT)
        self.addCleanup(sim_log.close)
        self.addCleanup(sim.wait, 10)
        self.addCleanup(sim.terminate)

        def sim_up():
            try:
                socket.create_connection((address, port), timeout=1).close()
                return True
            except OSError:
                return False
        wait_until(sim_up, 20, "aegis sim on the non-local address")
        with open(self.config, "a") as f:
            f.write(f"""providers:
  - name: edge
    type: ollama
    base_url: http://{address}:{port}
    locality: local
    models: {{haiku: "llama3.2:3b", sonnet: "qwen2.5:14b", opus: "llama3.3:70b"}}
""")
        gw = Gateway(("--config", self.config), env=self.env)
        self.addCleanup(gw.cleanup)
        status, _ = gw.admin("POST", "/admin/v1/teams", {"name": "edge-team", "monthly_budget_usd": 10,
                                                         "clearance": "RESTRICTED"})
        self.assertEqual(status, 201)
        status, key = gw.admin("POST", "/admin/v1/keys", {"team": "edge-team"})
        auth = {"authorization": f"Bearer {key['key']}"}
        status, headers, data = gw.request(
            "POST", "/v1/chat/completions",
            {"model": "auto", "max_tokens": 16, "messages": [{"role": "user", "content": f"my SIN is {SIN}"}]}, auth)
        self.assertEqual(status, 500, data)
        self.assertEqual(json.loads(data)["error"]["type"], "egress_blocked", data)
        self.assertNotIn(address, data.decode())
        request_id = headers["x-request-id"]

        def entered():  # with the audit row, which the writer commits just after the answer
            status, listed = gw.admin("GET", "/admin/v1/breaches?kind=egress_block")
            self.assertEqual(status, 200, listed)
            return listed if listed["count"] > 0 else None
        listed = wait_until(entered, 10, "the egress block's entry")
        self.assertEqual(listed["count"], 1, listed)
        entry = listed["data"][0]
        self.assertEqual((entry["kind"], entry["status"], entry["team"]), ("egress_block", "open", "edge-team"))
        self.assertEqual(entry["request_id"], request_id)
        self.assertEqual(entry["provider"], "edge")
        self.assertEqual(entry["entities"], {"CA_SIN": 1}, entry)
        self.assertNotIn(SIN, json.dumps(listed))
        self.assertNotIn(SIN.replace(" ", ""), json.dumps(listed))
        code, out, err = self.breaches("--json", "list", "--kind", "egress_block")
        self.assertEqual(code, 0, err)
        self.assertEqual([b["request_id"] for b in json.loads(out)], [request_id])

        # An officer's changes, through the API and the CLI, are rows of the audit chain too (never the note).
        status, _ = gw.admin("PATCH", f"/admin/v1/breaches/{entry['id']}",
                             {"status": "assessed", "note": "misdeclared edge host; patient file 4471"})
        self.assertEqual(status, 200)
        code, _, err = self.breaches("update", str(entry["id"]), "--status", "reported", "--note", "sent to the OPC")
        self.assertEqual(code, 0, err)

        def officer_rows():
            status, listed = gw.admin("GET", "/admin/v1/audit?team=edge-team&limit=100")
            self.assertEqual(status, 200, listed)
            rows = [r for r in listed["data"] if r["surface"] == "admin.breaches"]
            return rows if len(rows) == 2 else None
        rows = wait_until(officer_rows, 10, "the officer's two changes in the audit trail")
        self.assertEqual(sorted(r["reason"] for r in rows),
                         [f"breach={entry['id']} status=assessed by=admin_key",
                          f"breach={entry['id']} status=reported by=cli"])
        self.assertEqual({r["task"] for r in rows}, {"breach_update"})
        self.assertTrue(any(r["request_id"].startswith("cli_") for r in rows), rows)
        self.assertNotIn("4471", json.dumps(rows))
        self.assertNotIn("OPC", json.dumps(rows))


class SqliteRegister(SqliteBackend, RegisterChecks, unittest.TestCase):
    def setUp(self):
        super().setUp()
        self.use_sqlite()
        self.write_config()


@unittest.skipUnless(base_dsn(), "no PostgreSQL test server in this run (ctest's postgres.start provides one)")
class PostgresRegister(PostgresBackend, RegisterChecks, unittest.TestCase):
    def setUp(self):
        super().setUp()
        self.use_postgres("breach")
        self.write_config()


if __name__ == "__main__":
    unittest.main()
