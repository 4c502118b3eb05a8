"""Starts the real aegis binary on a free loopback port for integration tests."""
import http.client
import json
import re
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

AEGIS_BIN = os.environ.get("AEGIS_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "aegis")
SOURCE_DIR = os.environ.get("AEGIS_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", "..")


def listening_port(log):
    """The API port from a gateway log's `listening` line, or None before it is written."""
    for line in log.splitlines():
        if '"listening"' not in line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line still being written
        if entry.get("event") == "listening":
            return entry["port"]
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, what, interval=0.05):
    """Calls predicate() until it returns something truthy, and returns that.

    Fails the test (AssertionError) naming `what` (a string, or a function
    giving one then) and the last value seen when `timeout` seconds pass
    first. The wait for an observable event (a log line, a metric, a status,
    an upstream-log entry) that stands where a fixed sleep would."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            said = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout:g}s waiting for {said} (last: {value!r})")
        time.sleep(interval)


def parse_metrics(text):
    """{(name, frozenset(labels.items())): value} for every sample line."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        series, value = line.rsplit(" ", 1)
        if "{" in series:
            name, labels = series.split("{", 1)
            pairs = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', labels[:-1]))
        else:
            name, pairs = series, {}
        samples[(name, frozenset(pairs.items()))] = float(value)
    return samples


class Gateway:
    """One `aegis serve` process in its own temporary working directory."""

    def __init__(self, args=(), env=None, config_text=None, admin_key="test-admin-key"):
        self.workdir = tempfile.mkdtemp(prefix="aegis-it-")
        # Port 0, then the port its `listening` log line names: a port picked
        # here and bound later could meanwhile go to another process (the
        # --demo upstreams bind ephemeral ports too).
        self.port = None
        self.admin_key = admin_key
        cmd = [AEGIS_BIN, "serve", "--listen", "127.0.0.1:0"]
        if config_text is not None:
            path = os.path.join(self.workdir, "aegis.yaml")
            with open(path, "w") as f:
                f.write(config_text)
            cmd += ["--config", path]
        cmd += list(args)
        full_env = dict(os.environ)
        full_env.pop("AEGIS_ADMIN_KEY", None)
        if admin_key is not None:
            full_env["AEGIS_ADMIN_KEY"] = admin_key
        full_env.update(env or {})
        self.log_path = os.path.join(self.workdir, "aegis.log")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, cwd=self.workdir, env=full_env, stdout=self._log, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _wait_ready(self, timeout=20):
        def healthy():
            if self.proc.poll() is not None:
                raise RuntimeError(f"aegis exited with {self.proc.returncode}: {self.log()}")
            if self.port is None:
                self.port = listening_port(self.log())
                if self.port is None:
                    return False
            try:
                return self.request("GET", "/healthz")[0] == 200
            except OSError:
                return False
        try:
            wait_until(healthy, timeout, "GET /healthz to answer 200")
        except AssertionError:
            raise RuntimeError("aegis did not become healthy: " + self.log()) from None

    def log(self):
        if not self._log.closed:
            self._log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_for_log(self, needle, timeout=5):
        """The log once it holds `needle` (log lines are written by a background thread)."""
        def seen():
            text = self.log()
            return text if needle in text else None
        return wait_until(seen, timeout, f"{needle!r} in the gateway log")

    def metrics(self):
        """parse_metrics() of GET /metrics."""
        status, _, data = self.request("GET", "/metrics")
        if status != 200:
            raise AssertionError(f"GET /metrics answered {status}: {data[:200]!r}")
        return parse_metrics(data.decode())

    def connection(self, timeout=10):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=10):
        """Returns (status, headers dict with lower-case names, body bytes)."""
        conn = self.connection(timeout)
        try:
            hdrs = dict(headers or {})
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
                hdrs.setdefault("content-type", "application/json")
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

    def admin(self, method, path, body=None):
        status, headers, data = self.request(method, path, body,
                                             {"authorization": f"Bearer {self.admin_key}"})
        return status, (json.loads(data) if data else None)

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def cleanup(self):
        self.stop()
        report = sanitizer_report(self.log())
        shutil.rmtree(self.workdir, ignore_errors=True)
        if report:
            raise AssertionError("the gateway's sanitizer reported an error:\n" + report)


# What ASan, UBSan and TSan print when they find something (the asan and tsan
# presets run the integration tests against instrumented binaries; a report
# there fails the test that started the process, whatever its exit code).
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "WARNING: ThreadSanitizer", "ERROR: LeakSanitizer", "runtime error: ")


def sanitizer_report(log):
    starts = [log.find(marker) for marker in SANITIZER_MARKERS if marker in log]
    if not starts:
        return ""
    start = max(0, log.rfind("\n", 0, min(starts)) + 1)
    return log[start:start + 6000]



def route_of(headers):
    """x-aegis-route ("tier=…; provider=…; model=…; reason=…") as a dict; the reason may hold "; " itself."""
    head, reason = headers["x-aegis-route"].split("; reason=", 1)
    route = dict(part.split("=", 1) for part in head.split("; "))
    route["reason"] = reason
    return route


class DemoUpstreams:
    """For test classes holding a `--demo` gateway in self.gw: its simulated providers."""

    def fault(self, provider, mode, count=None):
        body = {"provider": provider, "mode": mode}
        if count is not None:
            body["count"] = count
        status, reply = self.gw.admin("POST", "/admin/v1/demo/faults", body)
        self.assertEqual(status, 200, reply)

    def upstream_log(self):
        status, body = self.gw.admin("GET", "/admin/v1/demo/upstream-log")
        self.assertEqual(status, 200, body)
        return [r for r in body["requests"] if r["method"] == "POST"]


class GatewayTestCase(unittest.TestCase):
    gateway_args = ()
    gateway_env = None
    config_text = None

    @classmethod
    def setUpClass(cls):
        cls.gw = Gateway(cls.gateway_args, cls.gateway_env, cls.config_text)

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()

    _teams = 0

    def new_team(self, prefix, clearance=None, budget=50):
        """A team with a name no other test uses, and a key for it: (name, key)."""
        GatewayTestCase._teams += 1
        name = f"{prefix}-{GatewayTestCase._teams}-{int(time.time() * 1000) % 100000}"
        body = {"name": name, "monthly_budget_usd": budget}
        if clearance is not None:
            body["clearance"] = clearance
        status, reply = self.gw.admin("POST", "/admin/v1/teams", body)
        self.assertEqual(status, 201, reply)
        status, created = self.gw.admin("POST", "/admin/v1/keys", {"team": name})
        self.assertEqual(status, 201, created)
        return name, created["key"]

    def call_json(self, key, method, path, body=None, timeout=30):
        """A call with the key: (status, headers, the JSON body or None)."""
        status, headers, data = self.gw.request(method, path, body, {"authorization": f"Bearer {key}"},
                                                timeout=timeout)
        return status, headers, (json.loads(data) if data else None)

    def assertError(self, status, data, want_status, want_type):
        self.assertEqual(status, want_status, data)
        body = json.loads(data)
        # Anthropic-shaped errors also carry "type": "error" at the top level.
        self.assertTrue(set(body.keys()) <= {"error", "type"}, body)
        self.assertEqual(body["error"]["type"], want_type)
        self.assertTrue(body["error"]["message"])
        self.assertTrue(body["error"]["request_id"].startswith("req_") or body["error"]["request_id"])
        return body
