"""`aegis serve --demo`'s first minute: it prints a demo team key and two curl
lines; run exactly as printed, the first shows masking (values replaced before the
cloud model saw them, restored in the answer), the second RESTRICTED data staying
on the local model. The key is printed, never logged."""
import json
import re
import shlex
import subprocess
import unittest

from aegis_harness import Gateway, wait_until


class FirstMinute(unittest.TestCase):
    def setUp(self):
        self.gw = Gateway(args=["--demo"])
        self.addCleanup(self.gw.cleanup)

    def curl_lines(self):
        lines = [l.strip() for l in self.gw.log().splitlines() if l.strip().startswith("curl ")]
        return lines if len(lines) == 2 else None

    def run_curl(self, line):
        r = subprocess.run(shlex.split(line), capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        head, _, body = r.stdout.replace("\r\n", "\n").partition("\n\n")
        headers = dict((k.lower(), v.strip()) for k, _, v in (h.partition(":") for h in head.splitlines()[1:]))
        return int(head.split()[1]), headers, json.loads(body)

    def test_the_printed_requests_show_masking_and_restricted_data_staying_local(self):
        masking, restricted = wait_until(self.curl_lines, 10, "the demo's two curl lines")
        key = re.search(r"shown once: (\S+)", self.gw.log()).group(1)
        # The printed key works, and it is not in any structured log line.
        for line in self.gw.log().splitlines():
            if line.startswith("{"):
                self.assertNotIn(key, line)

        status, headers, body = self.run_curl(masking)
        self.assertEqual(status, 200, body)
        self.assertIn("provider=anthropic", headers["x-aegis-route"])
        self.assertGreaterEqual(int(headers["x-aegis-masked"]), 2)
        # What the client reads has the values back; what the cloud model saw did not.
        self.assertIn("jane.doe@example.com", body["choices"][0]["message"]["content"])
        status, log = self.gw.admin("GET", "/admin/v1/demo/upstream-log")
        self.assertEqual(status, 200, log)
        seen = json.dumps(log)
        self.assertIn("Draft a reply to", seen)
        self.assertNotIn("jane.doe@example.com", seen)
        self.assertNotIn("Jane Doe", seen)

        status, headers, body = self.run_curl(restricted)
        self.assertEqual(status, 200, body)
        self.assertEqual(headers["x-aegis-classification"], "RESTRICTED")
        self.assertIn("provider=ollama", headers["x-aegis-route"])
        self.assertEqual(headers["x-aegis-masked"], "0")


if __name__ == "__main__":
    unittest.main()
