"""What this machine can check of deploy/ without a container engine or a cluster:
the Dockerfile's runtime stage installs what the binary links and runs it as a
non-root user behind a real health check; the compose file renders with
Debian's docker-compose (and refuses to without its secrets); every gateway
config it mounts passes `aegis config check`; its Prometheus config passes
`promtool check config` with the shipped rules; every metric the alert rules
read is one a running gateway serves; every runbook link has its section in
docs/OPERATIONS.md; yamllint passes. The rules' own unit tests are the ctest
deploy.prometheus_rules."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import yaml

from aegis_harness import AEGIS_BIN, Gateway

ROOT = os.path.abspath(os.environ.get("AEGIS_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..")))
DEPLOY = os.path.join(ROOT, "deploy")
COMPOSE = os.path.join(DEPLOY, "compose", "docker-compose.yml")
SECRETS = {"AEGIS_ADMIN_KEY": "test-admin", "AEGIS_JOBS_KEY": "5f" * 32, "AEGIS_PG_PASSWORD": "pg-secret",
           "AEGIS_CONSOLE_SECRET": "c" * 40,
           "ANTHROPIC_API_KEY": "sk-test"}
# In debian:12-slim already.
BASE_PACKAGES = {"libc6", "libstdc++6", "libgcc-s1"}


def run(cmd, env=None, cwd=None):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, cwd=cwd)


def mounts_of(service):
    """target -> source of a rendered service's bind mounts (long or short syntax)."""
    out = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            out[volume["target"]] = volume["source"]
        else:
            source, target = volume.split(":")[:2]
            out[target] = source
    return out


def read_text(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def owning_package(path):
    for candidate in (path, os.path.realpath(path), re.sub(r"^/usr/lib/", "/lib/", path),
                      re.sub(r"^/lib/", "/usr/lib/", path)):
        r = run(["dpkg", "-S", candidate])
        if r.returncode == 0:
            return r.stdout.split(":")[0]
    return None


def dockerfile_stage(name):
    text = read_text(os.path.join(DEPLOY, "docker", "Dockerfile")).replace("\\\n", " ")
    stages = re.split(r"^FROM ", text, flags=re.M)
    return next(s for s in stages if re.match(rf"\S+ AS {name}\b", s))


class Dockerfile(unittest.TestCase):
    def test_the_runtime_stage_installs_every_library_the_binary_links(self):
        needed = re.findall(r"NEEDED\s+(\S+)", run(["objdump", "-p", AEGIS_BIN]).stdout)
        if any(lib.startswith(("libasan", "libtsan", "libubsan")) for lib in needed):
            # The image builds the release preset; a sanitizer build links other
            # runtimes (and boost_container) that the image never contains.
            self.skipTest("sanitizer build: the image ships the release build")
        self.assertIn("libpq.so.5", needed)
        resolved = dict(re.findall(r"^\s*(\S+) => (\S+)", run(["ldd", AEGIS_BIN]).stdout, re.M))
        packages = set()
        for lib in needed:
            owner = owning_package(resolved[lib])
            self.assertTrue(owner, f"no package owns {lib} ({resolved[lib]})")
            packages.add(owner)
        runtime = dockerfile_stage("runtime")
        installed = set(re.search(r"apt-get install [^&]*", runtime).group(0).split())
        self.assertEqual(packages - BASE_PACKAGES - installed, set(), "runtime libraries the image lacks")

    def test_it_runs_aegis_serve_as_a_non_root_user_with_a_health_check(self):
        runtime = dockerfile_stage("runtime")
        user = re.search(r"^USER (\d+):(\d+)", runtime, re.M)
        self.assertIsNotNone(user, "USER must be numeric (runAsNonRoot can only verify a numeric user)")
        self.assertNotEqual(user.group(1), "0")
        self.assertRegex(runtime, r"HEALTHCHECK .*http://127\.0\.0\.1:8080/healthz")
        entry = json.loads(re.search(r"^ENTRYPOINT (\[.*\])", runtime, re.M).group(1))
        self.assertEqual(entry[:2], ["/usr/local/bin/aegis", "serve"])
        self.assertIn("EXPOSE 8080", runtime)
        # The built-in config is valid, listens where the health check and EXPOSE say, and writes only under the volume.
        config = os.path.join(DEPLOY, "docker", "aegis.yaml")
        self.assertEqual(run([AEGIS_BIN, "config", "check", config]).returncode, 0)
        parsed = yaml.safe_load(read_text(config))
        self.assertEqual(parsed["server"]["listen"], "0.0.0.0:8080")
        self.assertTrue(parsed["storage"]["sqlite_path"].startswith("/var/lib/aegis/"))
        self.assertIn('VOLUME ["/var/lib/aegis"]', runtime)


class Compose(unittest.TestCase):
    def setUp(self):
        if shutil.which("docker-compose") is None:
            self.fail("docker-compose is missing: scripts/setup installs it")

    def compose(self, *args, env_overrides=None, drop=()):
        env = dict(os.environ, **SECRETS, **(env_overrides or {}))
        for name in drop:
            env.pop(name, None)
        return run(["docker-compose", "-f", COMPOSE, *args], env=env)

    def test_it_renders_both_profiles_and_refuses_to_without_its_secrets(self):
        r = self.compose("--profile", "prod", "--profile", "demo", "config")
        self.assertEqual(r.returncode, 0, r.stderr)
        rendered = yaml.safe_load(r.stdout)
        services = rendered["services"]
        self.assertEqual({"postgres", "gateway", "gateway-demo", "sim", "ollama", "prometheus", "grafana"},
                         set(services))
        for name in ("gateway", "gateway-demo"):
            gw = services[name]
            self.assertEqual(gw["scale"], 2, name)
            self.assertTrue(gw["read_only"], name)
            self.assertEqual(gw["user"], "10001:10001", name)
            self.assertEqual(gw["depends_on"]["postgres"]["condition"], "service_healthy", name)
        self.assertEqual(services["gateway"]["profiles"], ["prod"])
        self.assertEqual(services["gateway-demo"]["profiles"], ["demo"])
        self.assertEqual(services["sim"]["profiles"], ["demo"])
        self.assertIn("sim", services["sim"]["entrypoint"])
        # No secret is written into the file: each comes from the environment.
        text = read_text(COMPOSE)
        for value in SECRETS.values():
            self.assertNotIn(value, text)
        r = self.compose("config", drop=("AEGIS_PG_PASSWORD",))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("AEGIS_PG_PASSWORD", r.stderr)

    def test_every_gateway_config_it_mounts_passes_aegis_config_check(self):
        rendered = yaml.safe_load(self.compose("--profile", "prod", "--profile", "demo", "config").stdout)
        checked = 0
        for name in ("gateway", "gateway-demo"):
            service = rendered["services"][name]
            env = dict(os.environ, **SECRETS)
            env.update({k: str(v) for k, v in service["environment"].items()})
            source = mounts_of(service)["/etc/aegis/aegis.yaml"]
            r = run([AEGIS_BIN, "config", "check", source], env=env)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            checked += 1
        self.assertEqual(checked, 2)

    def test_its_prometheus_config_loads_the_shipped_rules(self):
        rendered = yaml.safe_load(self.compose("config").stdout)
        mounts = mounts_of(rendered["services"]["prometheus"])
        config = yaml.safe_load(read_text(mounts["/etc/prometheus/prometheus.yml"]))
        self.assertEqual(os.path.realpath(mounts[config["rule_files"][0]]),
                         os.path.realpath(os.path.join(DEPLOY, "prometheus", "rules.yml")))
        # promtool checks the config with the rule path as this machine sees it.
        with tempfile.TemporaryDirectory() as tmp:
            config["rule_files"] = [mounts[config["rule_files"][0]]]
            path = os.path.join(tmp, "prometheus.yml")
            with open(path, "w") as f:
                yaml.safe_dump(config, f)
            r = run(["promtool", "check", "config", path])
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


class RulesAndRunbooks(unittest.TestCase):
    def rules(self):
        return yaml.safe_load(read_text(os.path.join(DEPLOY, "prometheus", "rules.yml")))["groups"]

    def test_every_metric_the_rules_read_is_served_by_a_gateway(self):
        gw = Gateway(args=["--demo"])
        self.addCleanup(gw.cleanup)
        # One governed request (with the demo team's printed key) publishes the per-team series.
        key = re.search(r"shown once: (\S+)", gw.log()).group(1)
        status, _, _ = gw.request("POST", "/v1/chat/completions",
                                  {"model": "auto", "messages": [{"role": "user", "content": "hello"}]},
                                  {"authorization": f"Bearer {key}"})
        self.assertEqual(status, 200)
        status, _, body = gw.request("GET", "/metrics")
        self.assertEqual(status, 200)
        served = set(re.findall(r"^# TYPE (\S+) ", body.decode(), re.M))
        used = set()
        for group in self.rules():
            for rule in group["rules"]:
                # Metric names, not recording rules' (level:metric:operation).
                used |= set(re.findall(r"(?<![:\w])aegis_[a-z_]+(?![:\w])", rule["expr"]))
        histogram_parts = {"_bucket", "_count", "_sum"}
        missing = {m for m in used if m not in served
                   and not any(m.endswith(p) and m[: -len(p)] in served for p in histogram_parts)}
        self.assertEqual(missing, set())
        self.assertGreaterEqual(len(used), 12)

    def test_every_alert_has_a_summary_a_description_and_a_runbook_section(self):
        operations = read_text(os.path.join(ROOT, "docs", "OPERATIONS.md"))
        anchors = {re.sub(r"[^a-z0-9 -]", "", h.strip().lower()).replace(" ", "-")
                   for h in re.findall(r"^#+ (.*)$", operations, re.M)}
        alerts = 0
        for group in self.rules():
            for rule in group["rules"]:
                if "alert" not in rule:
                    continue
                alerts += 1
                annotations = rule["annotations"]
                self.assertTrue(annotations.get("summary") and annotations.get("description"), rule["alert"])
                link = annotations["runbook_url"]
                self.assertTrue(link.startswith("docs/OPERATIONS.md#"), link)
                self.assertIn(link.split("#", 1)[1], anchors, f"{rule['alert']}: no section for {link}")
        self.assertGreaterEqual(alerts, 12)

    def test_yamllint_passes(self):
        r = run(["yamllint", "-s", "-c", os.path.join(DEPLOY, ".yamllint"), DEPLOY])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()
