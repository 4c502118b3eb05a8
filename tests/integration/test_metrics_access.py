"""/metrics is labelled by team: server.metrics_token and server.metrics_listen.

A real Prometheus (Debian package `prometheus`) scrapes with the token in its
`authorization` scrape setting; one without the token is refused.
"""
import json
import os
import subprocess
import time
import unittest

from aegis_harness import AEGIS_BIN, Gateway, free_port, wait_until

TOKEN = "metrics-secret-7f3a"


class MetricsToken(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.gw = Gateway(["--demo"], env={"AEGIS_METRICS_TOKEN": TOKEN},
                         config_text='server:\n  metrics_token: "${AEGIS_METRICS_TOKEN}"\n')
        status, _ = cls.gw.admin("POST", "/admin/v1/teams", {"name": "secret-team-name", "monthly_budget_usd": 5})
        assert status == 201

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()

    def test_metrics_need_the_token(self):
        for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": "Bearer"},
                        {"x-api-key": TOKEN}, {"authorization": f"Bearer {self.gw.admin_key}"}):
            status, _, body = self.gw.request("GET", "/metrics", headers=headers)
            self.assertEqual(status, 401, headers)
            self.assertNotIn(b"aegis_", body)
        status, _, body = self.gw.request("GET", "/metrics", headers={"authorization": f"Bearer {TOKEN}"})
        self.assertEqual(status, 200)
        self.assertIn(b"aegis_build_info", body)

    def test_probes_stay_open_and_say_nothing_about_teams(self):
        for path in ("/healthz", "/readyz"):
            status, _, body = self.gw.request("GET", path)
            self.assertEqual(status, 200, path)
            self.assertNotIn(b"secret-team-name", body)
            self.assertNotIn(b"team", body)

    def test_real_prometheus_scrapes_with_the_token(self):
        prometheus = "/usr/bin/prometheus"
        self.assertTrue(os.access(prometheus, os.X_OK), "prometheus not found: install the Debian package 'prometheus'")
        prom_port = free_port()
        config = os.path.join(self.gw.workdir, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n"
                    "  - job_name: with_token\n"
                    "    authorization:\n"
                    f"      credentials: {TOKEN}\n"
                    f"    static_configs: [{{targets: ['127.0.0.1:{self.gw.port}']}}]\n"
                    "  - job_name: without_token\n"
                    f"    static_configs: [{{targets: ['127.0.0.1:{self.gw.port}']}}]\n")
        log = open(os.path.join(self.gw.workdir, "prometheus.log"), "wb")
        proc = subprocess.Popen([prometheus, f"--config.file={config}",
                                 f"--storage.tsdb.path={os.path.join(self.gw.workdir, 'tsdb')}",
                                 f"--web.listen-address=127.0.0.1:{prom_port}"],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            health = {}
            import urllib.request

            def scraped_both():
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{prom_port}/api/v1/targets", timeout=2) as r:
                        targets = json.loads(r.read())["data"]["activeTargets"]
                except OSError:
                    return False
                health.clear()
                health.update({t["labels"]["job"]: (t["health"], t.get("lastError", "")) for t in targets})
                return health.get("with_token", ("unknown",))[0] == "up" and \
                    health.get("without_token", ("unknown",))[0] == "down"

            try:
                wait_until(scraped_both, 40, "Prometheus to scrape both targets", interval=0.5)
            except AssertionError:
                pass  # the assertions below show each target's health
            self.assertEqual(health.get("with_token", ("missing",))[0], "up", health)
            self.assertEqual(health.get("without_token", ("missing",))[0], "down", health)
            self.assertIn("401", health["without_token"][1])
        finally:
            proc.terminate()
            proc.wait(10)
            log.close()


class MetricsListener(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.metrics_port = free_port()
        cls.gw = Gateway(["--demo"], config_text=f'server:\n  metrics_listen: "127.0.0.1:{cls.metrics_port}"\n')

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()

    def metrics_request(self, path):
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.metrics_port, timeout=10)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def test_metrics_move_to_their_own_listener(self):
        status, _, _ = self.gw.request("GET", "/metrics")
        self.assertEqual(status, 404)
        status, body = self.metrics_request("/metrics")
        self.assertEqual(status, 200)
        self.assertIn(b"aegis_build_info", body)
        for probe in ("/healthz", "/readyz"):
            self.assertEqual(self.metrics_request(probe)[0], 200, probe)

    def test_the_metrics_listener_serves_nothing_else(self):
        for path in ("/v1/models", "/admin/v1/teams", "/admin/v1/routes"):
            status, _ = self.metrics_request(path)
            self.assertEqual(status, 404, path)


class ExposedMetricsWarning(unittest.TestCase):
    def start(self, listen, config_text=None):
        import tempfile
        workdir = tempfile.mkdtemp(prefix="aegis-it-")
        cmd = [AEGIS_BIN, "serve", "--listen", listen]
        if config_text:
            path = os.path.join(workdir, "aegis.yaml")
            with open(path, "w") as f:
                f.write(config_text)
            cmd += ["--config", path]
        proc = subprocess.Popen(cmd, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        lines = []
        while time.monotonic() < deadline:
            line = proc.stdout.readline().decode(errors="replace")
            lines.append(line)
            if '"listening"' in line or "listening" in line or proc.poll() is not None:
                break
        proc.terminate()
        rest = proc.communicate(timeout=20)[0].decode(errors="replace")
        return "".join(lines) + rest

    def test_warns_when_listening_beyond_loopback_without_protection(self):
        port = free_port()
        log = self.start(f"0.0.0.0:{port}")
        self.assertIn("metrics_exposed", log)
        log = self.start(f"0.0.0.0:{free_port()}", 'server:\n  metrics_token: "abc"\n')
        self.assertNotIn("metrics_exposed", log)
        log = self.start(f"127.0.0.1:{free_port()}")
        self.assertNotIn("metrics_exposed", log)


if __name__ == "__main__":
    unittest.main()
