"""HTTP behaviour of the real server: errors, limits, request ids, keep-alive."""
import json
import re
import resource
import socket
import unittest

from aegis_harness import Gateway, GatewayTestCase, wait_until

CONFIG = """
server:
  max_body_bytes: 2048
  max_header_bytes: 2048
"""


class HttpBehaviour(GatewayTestCase):
    config_text = CONFIG

    def raw(self, data: bytes, read_timeout=5) -> bytes:
        with socket.create_connection(("127.0.0.1", self.gw.port), timeout=read_timeout) as s:
            s.sendall(data)
            chunks = []
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    chunks.append(chunk)
            except socket.timeout:
                pass
            return b"".join(chunks)

    def open_connections(self):
        samples = self.gw.metrics()
        return samples[("aegis_http_connections", frozenset())]

    def test_open_connections_are_a_gauge(self):
        idle = []
        try:
            for _ in range(6):
                conn = self.gw.connection()
                conn.request("GET", "/healthz")
                conn.getresponse().read()
                idle.append(conn)  # kept alive, idle
            # The scrape's own connection is open too.
            self.assertGreaterEqual(self.open_connections(), 7)
        finally:
            for conn in idle:
                conn.close()
        wait_until(lambda: self.open_connections() <= 2, 5, "closed connections to leave the gauge")

    def test_healthz_has_request_id(self):
        status, headers, data = self.gw.request("GET", "/healthz")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(data), {"status": "ok"})
        self.assertRegex(headers["x-request-id"], r"^req_[0-9a-f]{24}$")

    def test_request_id_is_propagated_or_replaced(self):
        _, headers, _ = self.gw.request("GET", "/healthz", headers={"x-request-id": "trace-123.abc:9"})
        self.assertEqual(headers["x-request-id"], "trace-123.abc:9")
        _, headers, _ = self.gw.request("GET", "/healthz", headers={"x-request-id": "bad id<script>"})
        self.assertRegex(headers["x-request-id"], r"^req_[0-9a-f]{24}$")

    def test_request_id_in_error_body_matches_header(self):
        status, headers, data = self.gw.request("GET", "/no/such/route")
        body = self.assertError(status, data, 404, "not_found")
        self.assertEqual(body["error"]["request_id"], headers["x-request-id"])

    def test_readyz(self):
        status, _, data = self.gw.request("GET", "/readyz")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(data)["checks"]["store"], "ok")

    def test_method_not_allowed_lists_allowed_methods(self):
        status, headers, data = self.gw.request("DELETE", "/healthz")
        self.assertError(status, data, 405, "method_not_allowed")
        self.assertEqual(headers["allow"], "GET")

    def test_v1_requires_a_key_before_routing(self):
        for path in ("/v1/whoami", "/v1/does-not-exist"):
            status, headers, data = self.gw.request("GET", path)
            self.assertError(status, data, 401, "authentication_error")
            self.assertEqual(headers.get("www-authenticate"), "Bearer")
        status, _, data = self.gw.request("GET", "/v1/whoami", headers={"authorization": "Bearer nope"})
        self.assertError(status, data, 401, "authentication_error")
        status, _, data = self.gw.request("GET", "/v1/whoami", headers={"x-api-key": "aeg_0123456789abcdef_" + "A" * 43})
        self.assertError(status, data, 401, "authentication_error")

    def test_malformed_json_is_400(self):
        status, _, data = self.gw.request("POST", "/admin/v1/teams", body=b'{"name": ',
                                          headers={"authorization": "Bearer test-admin-key",
                                                   "content-type": "application/json"})
        self.assertError(status, data, 400, "invalid_json")

    def test_invalid_utf8_is_400(self):
        status, _, data = self.gw.request("POST", "/admin/v1/teams", body=b'{"name": "\xff\xfe", "monthly_budget_usd": 1}',
                                          headers={"authorization": "Bearer test-admin-key",
                                                   "content-type": "application/json"})
        self.assertError(status, data, 400, "invalid_json")

    def test_wrong_content_type_is_415(self):
        status, _, data = self.gw.request("POST", "/admin/v1/teams", body=b'name=x',
                                          headers={"authorization": "Bearer test-admin-key",
                                                   "content-type": "application/x-www-form-urlencoded"})
        self.assertError(status, data, 415, "unsupported_media_type")

    def test_oversized_body_is_413(self):
        big = json.dumps({"name": "x" * 5000, "monthly_budget_usd": 1}).encode()
        status, _, data = self.gw.request("POST", "/admin/v1/teams", body=big,
                                          headers={"authorization": "Bearer test-admin-key",
                                                   "content-type": "application/json"})
        self.assertError(status, data, 413, "payload_too_large")

    def test_oversized_chunked_body_is_413(self):
        chunk = b"y" * 1500
        req = (b"POST /admin/v1/teams HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
               b"transfer-encoding: chunked\r\n\r\n" +
               (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * 2 + b"0\r\n\r\n")
        resp = self.raw(req)
        self.assertTrue(resp.startswith(b"HTTP/1.1 413"), resp[:200])
        self.assertIn(b'"payload_too_large"', resp)

    def test_oversized_headers_are_431(self):
        status, _, data = self.gw.request("GET", "/healthz", headers={"x-filler": "z" * 4096})
        self.assertError(status, data, 431, "headers_too_large")

    def test_garbage_request_line_is_400(self):
        resp = self.raw(b"THIS IS NOT HTTP\r\n\r\n")
        self.assertTrue(resp.startswith(b"HTTP/1.1 400"), resp[:200])
        self.assertIn(b'"invalid_request"', resp)

    def test_keep_alive_serves_several_requests_on_one_connection(self):
        conn = self.gw.connection()
        try:
            ids = set()
            for _ in range(5):
                conn.request("GET", "/healthz")
                resp = conn.getresponse()
                resp.read()
                self.assertEqual(resp.status, 200)
                ids.add(resp.getheader("x-request-id"))
            self.assertEqual(len(ids), 5)
        finally:
            conn.close()

    def test_head_has_no_body(self):
        status, headers, data = self.gw.request("HEAD", "/healthz")
        self.assertEqual(status, 200)
        self.assertEqual(data, b"")
        self.assertEqual(headers["content-length"], str(len(b'{"status":"ok"}')))

    def test_metrics_count_requests_by_route_pattern_and_code(self):
        self.gw.request("GET", "/no/such/route")
        # An exchange is counted after its response is written: the client may ask first.
        def scraped_with_the_404():
            got = self.gw.request("GET", "/metrics")
            return got if re.search(r'aegis_http_requests_total\{route="unmatched",code="404"\} [1-9]',
                                    got[2].decode()) else None

        status, headers, data = wait_until(scraped_with_the_404, 5, "the 404 to be counted")
        text = data.decode()
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("text/plain; version=0.0.4"))
        self.assertRegex(text, r'aegis_http_requests_total\{route="unmatched",code="404"\} [1-9]')
        self.assertRegex(text, r'aegis_build_info\{version="[0-9.]+"\} 1')
        # The raw path never becomes a label.
        self.assertNotIn("/no/such/route", text)

    def test_access_log_has_no_bodies_or_keys(self):
        secret_body = {"name": "log-probe-team", "monthly_budget_usd": 1}
        status, _, _ = self.gw.request("POST", "/admin/v1/teams", secret_body,
                                       {"authorization": f"Bearer {self.gw.admin_key}",
                                        "x-request-id": "log-probe"})
        self.assertEqual(status, 201)
        # The access line is written after the response: wait for it.
        self.gw.wait_for_log('"request_id":"log-probe"')
        log = self.gw.log()
        self.assertIn('"event":"access"', log)
        self.assertNotIn("log-probe-team", log)
        self.assertNotIn("test-admin-key", log)

    def test_access_log_names_the_callers_team_and_key_id_not_the_key(self):
        status, team = self.gw.admin("POST", "/admin/v1/teams", {"name": "log-caller", "monthly_budget_usd": 1})
        self.assertEqual(status, 201, team)
        status, created = self.gw.admin("POST", "/admin/v1/keys", {"team": "log-caller"})
        self.assertEqual(status, 201, created)
        key = created["key"]
        for path, want in (("/v1/whoami", 200), ("/v1/no-such-route", 404)):
            request_id = "log-caller" + path.replace("/", ".")
            status, _, data = self.gw.request("GET", path, headers={"authorization": f"Bearer {key}",
                                                                    "x-request-id": request_id})
            self.assertEqual(status, want, data)
            self.gw.wait_for_log(f'"request_id":"{request_id}"')
            lines = [json.loads(line) for line in self.gw.log().splitlines()
                     if '"event":"access"' in line and request_id in line]
            self.assertEqual(len(lines), 1, lines)
            self.assertEqual(lines[0]["team"], "log-caller")
            self.assertEqual(lines[0]["key_id"], created["id"])
            self.assertEqual(lines[0]["request_id"], request_id)
        # An anonymous request names no one, and the key itself is never written.
        self.gw.request("GET", "/v1/whoami", headers={"x-request-id": "log-anonymous"})
        self.gw.wait_for_log('"request_id":"log-anonymous"')
        log = self.gw.log()
        anonymous = [json.loads(line) for line in log.splitlines() if "log-anonymous" in line]
        self.assertTrue(anonymous)
        self.assertNotIn("team", anonymous[0])
        self.assertNotIn(key, log)
        self.assertNotIn(key[len("aeg_") + 16 + 1:], log)  # aeg_<16 hex id>_<secret>


class OpenFileLimit(unittest.TestCase):
    """Two descriptors per stream: `aegis serve` lifts its soft limit to the hard one."""

    def test_serve_raises_its_open_file_soft_limit_to_the_hard_limit(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or hard <= 256:
            self.skipTest(f"needs a finite hard limit above 256 (hard limit {hard})")
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))  # inherited by the gateway
        try:
            gw = Gateway()
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        try:
            with open(f"/proc/{gw.proc.pid}/limits") as f:
                line = next(l for l in f if l.startswith("Max open files"))
            self.assertEqual(line.split()[3:5], [str(hard), str(hard)], line)
            logged = json.loads(next(l for l in gw.wait_for_log('"open_file_limit"').splitlines()
                                     if '"open_file_limit"' in l))
            self.assertEqual((logged["from"], logged["to"]), (256, hard), logged)
        finally:
            gw.cleanup()


if __name__ == "__main__":
    unittest.main()
