"""The aegis command line: help, version, config check exit codes and positions."""
import os
import subprocess
import tempfile
import unittest

from aegis_harness import AEGIS_BIN, SOURCE_DIR


def run(*args, env=None):
    return subprocess.run([AEGIS_BIN, *args], capture_output=True, text=True, timeout=30, env=env)


class Cli(unittest.TestCase):
    def test_help_everywhere(self):
        for args in ([], ["serve"], ["config", "check"], ["admin"], ["admin", "keys"], ["version"]):
            r = run(*args, "--help")
            self.assertEqual(r.returncode, 0, (args, r.stderr))
            self.assertIn("Usage", r.stdout + r.stderr)

    def test_version(self):
        r = run("version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^aegis \d+\.\d+\.\d+")

    def test_unknown_subcommand_fails(self):
        self.assertNotEqual(run("frobnicate").returncode, 0)

    def test_config_check_accepts_the_example(self):
        env = dict(os.environ, ANTHROPIC_API_KEY="x", AZURE_OPENAI_API_KEY="y", AZURE_OPENAI_ENDPOINT="https://example.openai.azure.com")
        r = run("config", "check", os.path.join(SOURCE_DIR, "examples", "aegis.yaml"), env=env)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_config_check_reports_positions_and_exits_2(self):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write("server:\n  listen: \"127.0.0.1:8080\"\n  threads: many\n  max_body_byts: 10\n")
            path = f.name
        try:
            r = run("config", "check", path)
            self.assertEqual(r.returncode, 2)
            lines = r.stderr.strip().splitlines()
            self.assertTrue(any(l.startswith(f"{path}:3:12:") and "threads" in l for l in lines), r.stderr)
            self.assertTrue(any(l.startswith(f"{path}:4:3:") and "max_body_byts" in l for l in lines), r.stderr)
        finally:
            os.unlink(path)

    def test_serve_with_bad_config_exits_2(self):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write("storage:\n  sqlite_path: [a]\n")
            path = f.name
        try:
            r = run("serve", "--config", path)
            self.assertEqual(r.returncode, 2)
            self.assertIn(f"{path}:2:16:", r.stderr)
        finally:
            os.unlink(path)

    def test_removed_keys_are_unknown_keys(self):
        # The backend is chosen by storage.postgres_dsn alone: a "backend" switch is refused like
        # any unknown key, and the DSN's ${ENV} reference must be set.
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write("storage:\n  backend: postgres\n  postgres_dsn: \"${AEGIS_PG_DSN_NEVER_SET}\"\n")
            path = f.name
        try:
            r = run("config", "check", path)
            self.assertEqual(r.returncode, 2, r.stdout)
            lines = r.stderr.strip().splitlines()
            self.assertEqual(lines, [f"{path}:2:3: storage.backend: unknown key; expected one of: sqlite_path, postgres_dsn, audit_retention_months",
                                     f"{path}:3:17: storage.postgres_dsn: environment variable AEGIS_PG_DSN_NEVER_SET is not set"])
        finally:
            os.unlink(path)

    def test_config_check_refuses_the_recognizer_patterns_serve_refuses(self):
        # config check compiles custom recognizer patterns exactly as serve does at start-up:
        # RE2 syntax errors, and patterns that match the empty string.
        cases = [("'EMP-(\\d{6}'", "invalid pattern: missing ): EMP-(\\d{6}"),
                 ("'x*'", "pattern matches the empty string")]
        for pattern, message in cases:
            with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
                f.write("classification:\n  custom_recognizers:\n    - name: employee_id\n"
                        f"      pattern: {pattern}\n      entity_type: EMPLOYEE_ID\n")
                path = f.name
            try:
                expected = f"{path}:4:16: classification.custom_recognizers[0].pattern: {message}"
                check = run("config", "check", path)
                self.assertEqual(check.returncode, 2, (pattern, check.stdout))
                self.assertEqual(check.stderr.strip(), expected)
                with tempfile.TemporaryDirectory() as d:
                    serve = subprocess.run([AEGIS_BIN, "serve", "--config", path, "--listen", "127.0.0.1:0"], cwd=d,
                                           capture_output=True, text=True, timeout=30)
                self.assertEqual(serve.returncode, 2, (pattern, serve.stderr))
                self.assertIn(expected, serve.stderr)
            finally:
                os.unlink(path)

    def test_serve_on_a_taken_port_exits_3(self):
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            port = s.getsockname()[1]
            with tempfile.TemporaryDirectory() as d:
                r = subprocess.run([AEGIS_BIN, "serve", "--listen", f"127.0.0.1:{port}"], cwd=d,
                                   capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 3, r.stderr)
            self.assertIn("Address already in use", r.stderr)


if __name__ == "__main__":
    unittest.main()
