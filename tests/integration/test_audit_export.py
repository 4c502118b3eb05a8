"""SIEM export of the audit trail (audit.export, docs/ARCHITECTURE.md "SIEM
export") through the real binary: rows and checkpoints reach a syslog
receiver (octet-counted RFC 5424 over TCP, and over TLS with a certificate the
test makes with the `openssl` CLI), a Splunk HEC-compatible HTTP receiver and
a rotating JSON Lines file, all started by the test. Every row must arrive
after the receiver was down while traffic flowed, and after the gateway was
stopped mid-way and restarted on the same data: the (chain_id, seq) pairs and
request ids received are compared with the audit table itself, on SQLite and
(when AEGIS_TEST_POSTGRES_DSN_FILE is set) on PostgreSQL. test_throughput
prints the export rate of each sink (`aegis audit export --once`)."""
import http.server
import json
import os
import re
import shutil
import socket
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid
from concurrent.futures import ThreadPoolExecutor

from aegis_harness import AEGIS_BIN, Gateway, wait_until

JOBS_KEY = "6e" * 32
HEC_TOKEN = "hec-token-5521-do-not-log"


# --- receivers -------------------------------------------------------------

class SyslogReceiver:
    """A TCP (or TLS) syslog receiver: splits octet-counted frames (RFC 6587)
    and parses each RFC 5424 message. stop() reads what its connections hold
    before closing them, as a receiver shutting down cleanly does."""

    FRAME = re.compile(rb"(\d+) ")
    MESSAGE = re.compile(r'<(\d+)>1 (\S+) (\S+) (\S+) (\S+) (\S+) \[aegis@32473 chain_id="((?:[^"\\\]]|\\.)*)" '
                         r'seq="(\d+)"\] (.*)\Z', re.S)

    def __init__(self, tls_context=None):
        self.tls_context = tls_context
        self.port = 0
        self.messages = []  # (msgid, chain_id, seq, event dict, pri)
        self.bad = []
        self.lock = threading.Lock()
        self.sock = None

    def start(self):
        self.stopping = False
        self.readers = []
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(16)
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()
        return self

    def stop(self):
        self.stopping = True
        self.acceptor.join()
        self.sock.close()
        for reader in self.readers:
            reader.join(10)

    def _accept(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            conn.settimeout(5)
            if self.tls_context is not None:
                try:
                    conn = self.tls_context.wrap_socket(conn, server_side=True)
                except (ssl.SSLError, OSError):
                    conn.close()
                    continue
            conn.settimeout(0.1)
            reader = threading.Thread(target=self._read, args=(conn,), daemon=True)
            reader.start()
            self.readers.append(reader)

    def _read(self, conn):
        buffer = b""
        while True:
            try:
                data = conn.recv(65536)
            except (socket.timeout, ssl.SSLWantReadError):
                if self.stopping:
                    break  # idle: nothing more is in flight
                continue
            except OSError:
                break
            if not data:
                break
            buffer = self._frames(buffer + data)
        conn.close()

    def _frames(self, buffer):
        while True:
            match = self.FRAME.match(buffer)
            if not match:
                return buffer
            length = int(match.group(1))
            start = match.end()
            if len(buffer) < start + length:
                return buffer
            self._message(buffer[start:start + length].decode())
            buffer = buffer[start + length:]

    def _message(self, text):
        match = self.MESSAGE.match(text)
        with self.lock:
            if not match:
                self.bad.append(text)
                return
            pri, _, _, app, _, msgid, chain_id, seq, msg = match.groups()
            self.messages.append((msgid, chain_id, int(seq), json.loads(msg), int(pri), app))

    def rows(self):
        with self.lock:
            return [m[3] for m in self.messages if m[0] == "audit"]

    def checkpoints(self):
        with self.lock:
            return [m[3] for m in self.messages if m[0] == "checkpoint"]


class HecReceiver:
    """A Splunk HEC-compatible collector: POST /services/collector/event with
    `Authorization: Splunk <token>`, a body of concatenated JSON envelopes;
    answers 200 {"text":"Success","code":0}. HTTP/1.0, so stop() refuses the
    very next batch."""

    def __init__(self, tls_context=None):
        self.tls_context = tls_context
        self.port = 0
        self.envelopes = []
        self.unauthorized = 0
        self.lock = threading.Lock()

    def start(self):
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
                if self.headers.get("authorization") != "Splunk " + HEC_TOKEN:
                    with receiver.lock:
                        receiver.unauthorized += 1
                    self._answer(401, {"text": "Invalid token", "code": 4})
                    return
                decoder = json.JSONDecoder()
                at, events = 0, []
                while at < len(body):
                    while at < len(body) and body[at].isspace():
                        at += 1
                    if at == len(body):
                        break
                    envelope, at = decoder.raw_decode(body, at)
                    events.append(envelope)
                with receiver.lock:
                    receiver.envelopes.extend(events)
                self._answer(200, {"text": "Success", "code": 0})

            def _answer(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        if self.tls_context is not None:
            self.server.socket = self.tls_context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def rows(self):
        with self.lock:
            return [e["event"] for e in self.envelopes if e["sourcetype"] == "aegis:audit"]

    def checkpoints(self):
        with self.lock:
            return [e["event"] for e in self.envelopes if e["sourcetype"] == "aegis:checkpoint"]


# --- backends --------------------------------------------------------------

def postgres_base_dsn():
    path = os.environ.get("AEGIS_TEST_POSTGRES_DSN_FILE")
    if not path or not os.path.exists(path):
        return None
    with open(path) as f:
        return f.read().strip()


def psql(dsn, sql):
    r = subprocess.run(["psql", dsn, "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise AssertionError(r.stderr)
    return r.stdout.strip()


class SqliteBackend:
    name = "sqlite"

    def __init__(self, test):
        self.dir = tempfile.mkdtemp(prefix="aegis-export-")
        test.addCleanup(shutil.rmtree, self.dir, True)
        self.db = os.path.join(self.dir, "aegis.db")
        self.env = {}

    def storage_yaml(self):
        return f"storage:\n  sqlite_path: {self.db}\n"

    def audit_rows(self):
        """{request_id: (chain_id, seq) or None when the table has no chain columns}."""
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10)
        try:
            columns = {r[1] for r in conn.execute("PRAGMA table_info(audit)")}
            if {"chain_id", "chain_seq"} <= columns:
                return {r[0]: (r[1], r[2]) for r in conn.execute("SELECT request_id, chain_id, chain_seq FROM audit")}
            return {r[0]: None for r in conn.execute("SELECT request_id FROM audit")}
        finally:
            conn.close()


class PostgresBackend:
    name = "postgres"

    def __init__(self, test):
        self.base = postgres_base_dsn()
        self.schema = "export_" + uuid.uuid4().hex[:12]
        psql(self.base, f"CREATE SCHEMA {self.schema}")
        test.addCleanup(psql, self.base, f"DROP SCHEMA {self.schema} CASCADE")
        self.dsn = f"{self.base} options='-c search_path={self.schema}'"
        self.dir = tempfile.mkdtemp(prefix="aegis-export-pg-")
        test.addCleanup(shutil.rmtree, self.dir, True)
        self.db = os.path.join(self.dir, "unused.db")
        self.env = {"AEGIS_IT_PG_DSN": self.dsn, "AEGIS_IT_JOBS_KEY": JOBS_KEY}

    def storage_yaml(self):
        return (f"storage:\n  sqlite_path: {self.db}\n  postgres_dsn: \"${{AEGIS_IT_PG_DSN}}\"\n"
                "jobs:\n  encryption:\n    active: k1\n    keys:\n      - {id: k1, env: AEGIS_IT_JOBS_KEY}\n")

    def audit_rows(self):
        columns = set(psql(self.dsn, "SELECT column_name FROM information_schema.columns WHERE table_name = 'audit' "
                                     f"AND table_schema = '{self.schema}'").split())
        if {"chain_id", "chain_seq"} <= columns:
            out = psql(self.dsn, "SELECT request_id, chain_id, chain_seq FROM audit")
            return {f[0]: (f[1], int(f[2])) for f in (line.split("\t") for line in out.splitlines() if line)}
        out = psql(self.dsn, "SELECT request_id FROM audit")
        return {line: None for line in out.splitlines() if line}


# --- the scenarios ---------------------------------------------------------

def make_tls_files(directory):
    """A self-signed certificate for `localhost` (and nothing else), with its key."""
    cert, key = os.path.join(directory, "syslog.crt"), os.path.join(directory, "syslog.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost"], check=True, capture_output=True, timeout=60)
    return cert, key


class ExportScenarios:
    """The scenarios, for one backend (make_backend)."""

    def setUp(self):
        self.backend = self.make_backend()
        self.cursor = os.path.join(self.backend.dir, "export-cursor")
        self.gateways = []

    def tearDown(self):
        for gw in self.gateways:
            gw.cleanup()

    def gateway(self, export_yaml, env=None):
        config = (self.backend.storage_yaml() + "audit:\n  export:\n" + export_yaml +
                  f"    batch_rows: 25\n    max_backoff_s: 1\n    poll_interval_ms: 50\n"
                  f"    cursor_file: {self.cursor}\n")
        gw = Gateway(args=["--demo"], config_text=config, env=dict(self.backend.env, **(env or {})))
        self.gateways.append(gw)
        return gw

    def key_for(self, gw):
        name = "export-" + uuid.uuid4().hex[:8]
        status, reply = gw.admin("POST", "/admin/v1/teams", {"name": name, "monthly_budget_usd": 100})
        self.assertEqual(status, 201, reply)
        status, created = gw.admin("POST", "/admin/v1/keys", {"team": name})
        self.assertEqual(status, 201, created)
        return created["key"]

    def traffic(self, gw, key, count, workers=4):
        def one(i):
            status, _, data = gw.request("POST", "/v1/chat/completions",
                                         {"model": "auto", "max_tokens": 8,
                                          "messages": [{"role": "user", "content": f"export check {i}"}]},
                                         {"authorization": f"Bearer {key}"}, timeout=30)
            self.assertEqual(status, 200, data)
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(one, range(count)))

    def assert_every_row_arrives(self, receiver, timeout=60, allow_duplicates=True, at_least=1):
        """Waits until the audit table holds at least `at_least` rows and every one
        of them was received; returns the table. The gateway writes audit rows
        after it answers, so a table read right after the traffic can still be
        short of it: `at_least` keeps a short table from passing as complete."""
        def complete():
            table = self.backend.audit_rows()
            got = {r["request_id"] for r in receiver.rows()}
            return table if len(table) >= at_least and set(table) <= got else None
        table = wait_until(complete, timeout, lambda: "every audit row at the receiver: missing " + str(
            sorted(set(self.backend.audit_rows()) - {r["request_id"] for r in receiver.rows()})[:5]))
        received = receiver.rows()
        links = [(r["chain_id"], r["seq"]) for r in received]
        if next(iter(table.values())) is not None:
            self.assertEqual(set(links), set(table.values()))
            for row in received:
                self.assertEqual(table[row["request_id"]], (row["chain_id"], row["seq"]))
        # Within a chain the rows arrive in seq order, none skipped.
        per_chain = {}
        for chain_id, seq in links:
            per_chain.setdefault(chain_id, []).append(seq)
        for chain_id, seqs in per_chain.items():
            firsts = sorted(set(seqs))
            self.assertEqual(firsts, list(range(firsts[0], firsts[0] + len(firsts))), chain_id)
        if not allow_duplicates:
            self.assertEqual(len(links), len(set(links)), "a row was exported twice")
        for row in received:
            self.assertNotIn("content", row)
            self.assertNotIn("messages", row)
            self.assertEqual(len(row["row_hash"]), 64)
        return table

    def lag(self, gw):
        return gw.metrics().get(("aegis_audit_export_lag_seconds", frozenset()))

    def outage_then_restart(self, receiver, export_yaml, env=None):
        receiver.start()
        gw = self.gateway(export_yaml(receiver), env)
        key = self.key_for(gw)
        self.traffic(gw, key, 30)
        self.assert_every_row_arrives(receiver, at_least=30)
        wait_until(lambda: self.lag(gw) == 0, 10, "the export lag to be 0 when caught up")

        # The receiver goes down while traffic flows: nothing is lost, the lag grows.
        receiver.stop()
        self.traffic(gw, key, 40)
        wait_until(lambda: (self.lag(gw) or 0) > 0, 10, "the export lag to grow during the outage")
        wait_until(lambda: gw.metrics()[("aegis_audit_export_errors_total", frozenset())] > 0, 10,
                   "a failed export batch to be counted")
        time.sleep(1.5)  # a few retries against a receiver that is not there
        receiver.start()
        self.assert_every_row_arrives(receiver, at_least=70)
        wait_until(lambda: self.lag(gw) == 0, 10, "the export lag to return to 0")

        # The gateway stops while rows are waiting (receiver down again), and
        # restarts on the same data: it resumes from the cursor.
        receiver.stop()
        self.traffic(gw, key, 20)
        self.assertEqual(gw.stop(), 0)
        self.assertIn("audit_export_incomplete", gw.log())
        receiver.start()
        gw2 = self.gateway(export_yaml(receiver), env)
        self.traffic(gw2, key, 20)
        table = self.assert_every_row_arrives(receiver, allow_duplicates=False, at_least=110)
        # The first gateway sealed its chains at shutdown; those checkpoints went
        # out after the restart, each after the rows it seals.
        checkpoints = receiver.checkpoints()
        self.assertTrue(checkpoints)
        last_seq = {}
        for row in receiver.rows():
            last_seq[row["chain_id"]] = max(last_seq.get(row["chain_id"], 0), row["seq"])
        for checkpoint in checkpoints:
            self.assertTrue(set(checkpoint) >= {"chain_id", "seq", "head_hash", "sealed_at_ms", "key_id",
                                                "signature"}, checkpoint)
            self.assertLessEqual(checkpoint["seq"], last_seq[checkpoint["chain_id"]])
            self.assertEqual(len(checkpoint["head_hash"]), 64)
        for gw in (gw, gw2):
            self.assertNotIn(HEC_TOKEN, gw.log())
        return table

    # -- tests

    def test_syslog_over_tcp_survives_an_outage_and_a_restart(self):
        receiver = SyslogReceiver()
        self.outage_then_restart(receiver, lambda r: f"    type: syslog\n    host: 127.0.0.1\n    port: {r.port}\n"
                                                     "    app_name: aegis-it\n    facility: 10\n")
        self.assertEqual(receiver.bad, [])
        with receiver.lock:
            self.assertTrue(all(m[4] == 10 * 8 + 6 and m[5] == "aegis-it" for m in receiver.messages if m[0] == "audit"))

    def test_syslog_over_tls_verifies_the_receivers_certificate_and_name(self):
        cert, key = make_tls_files(self.backend.dir)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        receiver = SyslogReceiver(context)
        self.outage_then_restart(
            receiver, lambda r: f"    type: syslog\n    host: localhost\n    port: {r.port}\n    tls: true\n"
                                f"    ca_file: {cert}\n")
        receiver.stop()

        # The same certificate does not name 127.0.0.1: nothing is sent there.
        other = SyslogReceiver(context).start()
        self.addCleanup(other.stop)
        os.remove(self.cursor)
        gw = self.gateway(f"    type: syslog\n    host: 127.0.0.1\n    port: {other.port}\n    tls: true\n"
                          f"    ca_file: {cert}\n")
        gw.wait_for_log("TLS certificate verification failed", timeout=30)
        self.assertEqual(other.rows(), [])

    def test_http_hec_survives_an_outage_and_a_restart(self):
        receiver = HecReceiver()
        self.outage_then_restart(
            receiver, lambda r: f"    type: http\n    url: http://127.0.0.1:{r.port}/services/collector/event\n"
                                "    token_env: AEGIS_IT_HEC_TOKEN\n",
            env={"AEGIS_IT_HEC_TOKEN": HEC_TOKEN})
        self.assertEqual(receiver.unauthorized, 0)
        with receiver.lock:
            for envelope in receiver.envelopes:
                self.assertEqual(envelope["source"], "aegis")
                self.assertIn(envelope["sourcetype"], ("aegis:audit", "aegis:checkpoint"))
                self.assertIsInstance(envelope["time"], (int, float))
        receiver.stop()

    def test_http_hec_over_https_verifies_the_collectors_certificate(self):
        cert, key = make_tls_files(self.backend.dir)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        receiver = HecReceiver(context).start()
        self.addCleanup(receiver.stop)
        gw = self.gateway(f"    type: http\n    url: https://localhost:{receiver.port}/services/collector/event\n"
                          f"    token_env: AEGIS_IT_HEC_TOKEN\n    ca_file: {cert}\n",
                          env={"AEGIS_IT_HEC_TOKEN": HEC_TOKEN})
        self.traffic(gw, self.key_for(gw), 10)
        self.assert_every_row_arrives(receiver, allow_duplicates=False, at_least=10)
        # Trusting only the system's CAs, the self-signed collector is refused.
        gw.stop()
        os.remove(self.cursor)
        untrusted = HecReceiver(context).start()
        self.addCleanup(untrusted.stop)
        gw2 = self.gateway(f"    type: http\n    url: https://localhost:{untrusted.port}/services/collector/event\n"
                           "    token_env: AEGIS_IT_HEC_TOKEN\n", env={"AEGIS_IT_HEC_TOKEN": HEC_TOKEN})
        gw2.wait_for_log("TLS certificate verification failed", timeout=30)
        self.assertEqual(untrusted.rows(), [])

    def test_jsonl_rotates_and_holds_every_row(self):
        path = os.path.join(self.backend.dir, "audit.jsonl")
        gw = self.gateway(f"    type: jsonl\n    path: {path}\n    rotate_bytes: 8192\n    keep_files: 100\n")
        key = self.key_for(gw)
        self.traffic(gw, key, 60)

        class Files:
            def rows(self):
                out = []
                for name in os.listdir(os.path.dirname(path)):
                    if name == "audit.jsonl" or re.fullmatch(r"audit\.jsonl\.\d+", name):
                        with open(os.path.join(os.path.dirname(path), name)) as f:
                            out += [json.loads(line) for line in f]
                return [r for r in out if r["type"] == "audit_row"]
        self.assert_every_row_arrives(Files(), allow_duplicates=False, at_least=60)
        rotated = sorted(n for n in os.listdir(self.backend.dir) if re.fullmatch(r"audit\.jsonl\.\d+", n))
        self.assertGreaterEqual(len(rotated), 3, rotated)
        for name in rotated + ["audit.jsonl"]:
            self.assertLessEqual(os.path.getsize(os.path.join(self.backend.dir, name)), 8192, name)
        # The oldest rows are in the highest-numbered file.
        with open(os.path.join(self.backend.dir, f"audit.jsonl.{len(rotated)}")) as f:
            first = json.loads(f.readline())
        self.assertEqual(first["seq"], 1)

    def test_throughput(self):
        """Rows per second of `aegis audit export --once` for each sink, over the same rows."""
        jsonl = os.path.join(self.backend.dir, "bench.jsonl")
        gw = self.gateway(f"    type: jsonl\n    path: {jsonl}\n")
        key = self.key_for(gw)
        self.traffic(gw, key, 400, workers=8)  # bench/audit_export/run.py measures at scale
        self.assertEqual(gw.stop(), 0)
        rows = len(self.backend.audit_rows())
        syslog, hec = SyslogReceiver().start(), HecReceiver().start()
        self.addCleanup(syslog.stop)
        self.addCleanup(hec.stop)
        sinks = {
            "jsonl": f"    type: jsonl\n    path: {jsonl}.2\n",
            "syslog": f"    type: syslog\n    host: 127.0.0.1\n    port: {syslog.port}\n",
            "http": f"    type: http\n    url: http://127.0.0.1:{hec.port}/services/collector/event\n"
                    "    token_env: AEGIS_IT_HEC_TOKEN\n",
        }
        results = {}
        for name, export_yaml in sinks.items():
            config = os.path.join(self.backend.dir, f"bench-{name}.yaml")
            with open(config, "w") as f:
                f.write(self.backend.storage_yaml() + "audit:\n  export:\n" + export_yaml +
                        f"    batch_rows: 500\n    cursor_file: {self.backend.dir}/bench-{name}.cursor\n")
            r = subprocess.run([AEGIS_BIN, "audit", "export", "--config", config, "--once"], capture_output=True,
                               text=True, timeout=120,
                               env=dict(os.environ, AEGIS_IT_HEC_TOKEN=HEC_TOKEN, **self.backend.env))
            self.assertEqual(r.returncode, 0, r.stderr)
            match = re.search(r"exported (\d+) rows and \d+ checkpoints in ([\d.e-]+) s", r.stdout)
            self.assertIsNotNone(match, r.stdout)
            self.assertGreaterEqual(int(match.group(1)), rows)
            results[name] = int(match.group(1)) / float(match.group(2))
        self.assertEqual(len(syslog.rows()), rows)
        self.assertEqual(len(hec.rows()), rows)
        print(f"\n[{self.backend.name}] export throughput over {rows} rows: " +
              ", ".join(f"{name} {rate:,.0f} rows/s" for name, rate in results.items()), file=sys.stderr)


class SqliteExport(ExportScenarios, unittest.TestCase):
    def make_backend(self):
        return SqliteBackend(self)


@unittest.skipUnless(postgres_base_dsn(), "no PostgreSQL test server (AEGIS_TEST_POSTGRES_DSN_FILE)")
class PostgresExport(ExportScenarios, unittest.TestCase):
    def make_backend(self):
        return PostgresBackend(self)


if __name__ == "__main__":
    unittest.main()
