"""A real Prometheus scrapes `aegis serve --demo` and finds its series.

Environment: AEGIS_BIN (path to the aegis binary). Needs /usr/bin/prometheus
and /usr/bin/promtool (Debian package `prometheus`); a missing tool is a
failure, not a skip. Everything listens on 127.0.0.1 on free ports.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import unittest
import urllib.error
import urllib.parse
import urllib.request

from aegis_harness import wait_until

STARTUP_TIMEOUT_S = 30.0
SERIES_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_tool(name):
    path = "/usr/bin/" + name
    if os.access(path, os.X_OK):
        return path
    return shutil.which(name)


def http_get(url, timeout=5.0):
    """Returns (status, body bytes); never raises on an HTTP error status."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def tail(path, limit=4000):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return "<no log>"
    return data[-limit:].decode("utf-8", "replace")


class PrometheusScrapeTest(unittest.TestCase):
    def setUp(self):
        self.aegis_bin = os.environ.get("AEGIS_BIN")
        self.assertTrue(self.aegis_bin, "AEGIS_BIN is not set")
        self.assertTrue(os.access(self.aegis_bin, os.X_OK), f"AEGIS_BIN={self.aegis_bin} is not executable")
        self.tmp = tempfile.mkdtemp(prefix="aegis-prom-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.procs = []  # (name, Popen, log path)
        # tearDown is skipped when setUp fails; cleanups always run (before the rmtree above).
        self.addCleanup(self.stop_all)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.aegis_log = os.path.join(self.tmp, "aegis.log")
        self.aegis = self.start(
            "aegis",
            [self.aegis_bin, "serve", "--demo", "--listen", f"127.0.0.1:{self.port}"],
            self.aegis_log,
        )
        self.wait_for_http(self.aegis, self.base + "/healthz", self.aegis_log)

    def tearDown(self):
        self.stop_all()

    def stop_all(self):
        """Terminate, then kill after a timeout; reverse start order (Prometheus first)."""
        for name, proc, _ in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=STOP_TIMEOUT_S)
        self.procs.clear()

    # -- helpers -----------------------------------------------------------

    def start(self, name, argv, log_path):
        log = open(log_path, "wb")
        try:
            proc = subprocess.Popen(argv, cwd=self.tmp, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        finally:
            log.close()  # the child keeps its own descriptor
        self.procs.append((name, proc, log_path))
        return proc

    def wait_for_http(self, proc, url, log_path, timeout=STARTUP_TIMEOUT_S):
        last = {}

        def answered():
            if proc.poll() is not None:
                self.fail(f"{proc.args[0]} exited with {proc.returncode} before {url} answered:\n{tail(log_path)}")
            try:
                status, _ = http_get(url, timeout=1.0)
                last["seen"] = f"status {status}"
                return status == 200
            except (OSError, urllib.error.URLError) as err:
                last["seen"] = repr(err)
                return False

        wait_until(answered, timeout, lambda: f"{url} to return 200 (last: {last.get('seen')}):\n{tail(log_path)}",
                   interval=0.1)

    def make_traffic(self):
        for _ in range(3):
            self.assertEqual(http_get(self.base + "/healthz")[0], 200)
        self.assertEqual(http_get(self.base + "/no-such-route")[0], 404)
        status, body = http_get(self.base + "/metrics")
        self.assertEqual(status, 200)
        return body

    def query(self, prom, expr):
        url = f"{prom}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        status, body = http_get(url)
        self.assertEqual(status, 200, f"{url}: {body[:500]!r}")
        doc = json.loads(body)
        self.assertEqual(doc.get("status"), "success", doc)
        return doc["data"]["result"]

    # -- tests -------------------------------------------------------------

    def test_metrics_pass_promtool(self):
        promtool = find_tool("promtool")
        self.assertIsNotNone(promtool, "promtool not found: install the Debian package 'prometheus'")
        self.make_traffic()
        status, body = http_get(self.base + "/metrics")  # includes the requests just made
        self.assertEqual(status, 200)
        text = body.decode("utf-8")
        for needle in ("aegis_build_info{", "aegis_http_requests_total{", "aegis_http_request_duration_seconds_bucket{"):
            self.assertIn(needle, text)
        self.assertIn("# TYPE aegis_http_request_duration_seconds histogram", text)
        check = subprocess.run(
            [promtool, "check", "metrics"], input=body, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60
        )
        output = check.stdout.decode("utf-8", "replace")
        self.assertEqual(check.returncode, 0, f"promtool check metrics failed:\n{output}\n--- /metrics ---\n{text}")
        self.assertEqual(output.strip(), "", f"promtool lint complaints:\n{output}")

    def test_real_prometheus_scrapes_the_series(self):
        prometheus = find_tool("prometheus")
        self.assertIsNotNone(prometheus, "prometheus not found: install the Debian package 'prometheus'")
        self.make_traffic()

        prom_port = free_port()
        prom = f"http://127.0.0.1:{prom_port}"
        config = os.path.join(self.tmp, "prometheus.yml")
        with open(config, "w", encoding="utf-8") as f:
            f.write(
                "global:\n"
                "  scrape_interval: 1s\n"
                "  scrape_timeout: 1s\n"
                "  evaluation_interval: 1s\n"
                "scrape_configs:\n"
                "  - job_name: aegis\n"
                "    metrics_path: /metrics\n"
                "    static_configs:\n"
                f"      - targets: ['127.0.0.1:{self.port}']\n"
            )
        prom_log = os.path.join(self.tmp, "prometheus.log")
        proc = self.start(
            "prometheus",
            [
                prometheus,
                f"--config.file={config}",
                f"--storage.tsdb.path={os.path.join(self.tmp, 'tsdb')}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            prom_log,
        )
        self.wait_for_http(proc, prom + "/-/ready", prom_log)

        found = {}

        def scraped():
            if proc.poll() is not None:
                self.fail(f"prometheus exited with {proc.returncode}:\n{tail(prom_log)}")
            found["build_info"] = self.query(prom, "aegis_build_info")
            found["requests"] = self.query(prom, "aegis_http_requests_total")
            found["duration"] = self.query(prom, 'aegis_http_request_duration_seconds_bucket{le="+Inf"}')
            return all(found.values())

        try:
            wait_until(scraped, SERIES_TIMEOUT_S, "the aegis series in Prometheus", interval=0.5)
        except AssertionError:
            pass  # the assertions below say which series never appeared
        build_info, requests, duration = found["build_info"], found["requests"], found["duration"]
        diagnostics = f"\n--- prometheus log ---\n{tail(prom_log)}\n--- aegis log ---\n{tail(self.aegis_log)}"
        self.assertTrue(build_info, "aegis_build_info never appeared in Prometheus" + diagnostics)
        self.assertTrue(requests, "aegis_http_requests_total never appeared in Prometheus" + diagnostics)
        self.assertTrue(duration, "aegis_http_request_duration_seconds never appeared in Prometheus" + diagnostics)

        info = build_info[0]
        self.assertEqual(info["metric"].get("job"), "aegis")
        self.assertTrue(info["metric"].get("version"), f"aegis_build_info has no version label: {info}")
        self.assertEqual(float(info["value"][1]), 1.0)
        for series in requests:
            self.assertIn("route", series["metric"], series)
            self.assertIn("code", series["metric"], series)
        self.assertTrue(
            any(s["metric"].get("code") == "200" and float(s["value"][1]) >= 1 for s in requests),
            f"no aegis_http_requests_total{{code=\"200\"}} >= 1 among {requests}",
        )

        status, body = http_get(prom + "/api/v1/targets")
        self.assertEqual(status, 200)
        targets = [t for t in json.loads(body)["data"]["activeTargets"] if t["labels"].get("job") == "aegis"]
        self.assertEqual(len(targets), 1, targets)
        self.assertEqual(targets[0]["health"], "up", targets[0])
        self.assertEqual(targets[0].get("lastError", ""), "", targets[0])


if __name__ == "__main__":
    unittest.main()
