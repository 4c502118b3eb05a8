"""Every registered route x path spelling x credential, against the real binary.

The route list comes from the gateway's own route table (GET /admin/v1/routes),
so a route added later is covered without editing this file. Besides keys, two
OIDC access tokens from the local identity provider (oidc_idp.py) are
presented: a team's token must behave like the team's key and an admin
token like the admin key. For each cell the
answer must be decided by the route's declared credential on the one normal
spelling of its path: non-normal spellings are 400 whatever the credential,
equivalent spellings (percent-encoded letters, absolute-form targets) behave
exactly like the normal one, and a wrong credential never reaches a handler.
"""
import http.client
import json
import re
import time
import unittest

from aegis_harness import Gateway
from oidc_idp import TestIdp

WRONG_FOR = {
    # credential the route declares -> the presented credentials that must be refused
    "none": set(),
    "metrics_token": set(),  # no server.metrics_token in this gateway: open
    "api_key": {"none", "malformed_bearer", "malformed_x_api_key", "revoked", "admin_key", "admin_jwt"},
    "admin_key": {"none", "malformed_bearer", "malformed_x_api_key", "revoked", "team_key", "other_team_key",
                  "team_jwt"},
}


def encode_first_letter(path, upper=True):
    """'/v1/models' -> '/%761/models': the same path, spelled with a percent-escape."""
    for i, c in enumerate(path):
        if c.isalpha():
            escape = "%{:02X}".format(ord(c)) if upper else "%{:02x}".format(ord(c))
            return path[:i] + escape + path[i + 1:]
    return path


def variants(path, port):
    """(name, target, kind): kind is 'same' (must answer like the normal path),
    'refused' (400 before anything else) or 'unmatched' (no route: never a handler)."""
    first, _, rest = path[1:].partition("/")
    out = [
        ("normal", path, "same"),
        ("encoded_upper", encode_first_letter(path, True), "same"),
        ("encoded_lower", encode_first_letter(path, False), "same"),
        ("absolute_form", f"http://127.0.0.1:{port}{path}", "same"),
        ("double_slash", "/" + path, "refused"),
        ("triple_slash", "//" + path, "refused"),
        ("trailing_slash", path + "/", "refused"),
        ("semicolon", path + ";x=1", "unmatched"),
    ]
    if rest:
        out += [
            ("dot", f"/{first}/./{rest}", "refused"),
            ("dot_dot", f"/{first}/x/../{rest}", "refused"),
            ("encoded_slash_upper", f"/{first}%2F{rest}", "refused"),
            ("encoded_slash_lower", f"/{first}%2f{rest}", "refused"),
            ("encoded_dot_dot", f"/{first}/%2E%2E/{first}/{rest}", "refused"),
        ]
    return out


class AccessMatrix(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Hundreds of refused credentials from one address: the failed-authentication
        # throttle (rate_limits.auth_failures_per_minute) would answer 429 to the rest.
        cls.idp = TestIdp()
        config = (f"rate_limits:\n  auth_failures_per_minute: 0\noidc:\n  issuers:\n"
                  f"    - issuer: \"{cls.idp.issuer}\"\n      audience: aegis\n      admin_values: [aegis-admins]\n")
        try:
            cls.gw = Gateway(["--demo"], config_text=config)
        except Exception:
            cls.idp.stop()
            raise
        gw = cls.gw
        for team in ("matrix-a", "matrix-b"):
            status, body = gw.admin("POST", "/admin/v1/teams", {"name": team, "monthly_budget_usd": 100})
            assert status == 201, body
        _, a = gw.admin("POST", "/admin/v1/keys", {"team": "matrix-a"})
        _, b = gw.admin("POST", "/admin/v1/keys", {"team": "matrix-b"})
        _, revoked = gw.admin("POST", "/admin/v1/keys", {"team": "matrix-a"})
        status, _ = gw.admin("DELETE", f"/admin/v1/keys/{revoked['id']}")
        assert status == 200
        cls.team_key, cls.other_key = a["key"], b["key"]
        cls.credentials = {
            "none": {},
            "malformed_bearer": {"authorization": "Bearer"},
            "malformed_x_api_key": {"x-api-key": "aeg_not_a_key"},
            "revoked": {"authorization": f"Bearer {revoked['key']}"},
            "other_team_key": {"authorization": f"Bearer {b['key']}"},
            "team_key": {"x-api-key": a["key"]},
            "admin_key": {"authorization": f"Bearer {gw.admin_key}"},
            # Long-lived enough for the whole matrix.
            "team_jwt": {"authorization": "Bearer " + cls.idp.sign(
                claims={"groups": ["matrix-a"], "exp": int(time.time()) + 3600})},
            "admin_jwt": {"authorization": "Bearer " + cls.idp.sign(
                claims={"groups": ["aegis-admins"], "exp": int(time.time()) + 3600})},
        }
        # A real job of team A, so that /v1/jobs/{id} cells name an existing resource.
        status, _, data = gw.request("POST", "/v1/jobs",
                                     {"task_type": "chat", "prompt": "hello", "max_tokens": 16},
                                     {"authorization": f"Bearer {a['key']}"})
        assert status == 202, data
        cls.job_id = json.loads(data)["id"]
        status, routes = gw.admin("GET", "/admin/v1/routes")
        assert status == 200, routes
        cls.routes = routes["data"]

    @classmethod
    def tearDownClass(cls):
        try:
            cls.gw.cleanup()
        finally:
            cls.idp.stop()

    def concrete(self, pattern):
        values = {"id": self.job_id if pattern.startswith("/v1/jobs") else "k_does_not_exist",
                  "name": "matrix-a"}
        return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "x"), pattern)

    def send(self, conn, method, target, headers):
        hdrs = dict(headers)
        body = None
        if method in ("POST", "PATCH", "PUT"):
            body = b"{}"  # never a valid request: a handler that runs answers 400 from validation
            hdrs["content-type"] = "application/json"
        conn.request(method, target, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, data

    def test_route_table_declares_a_credential_for_every_route(self):
        self.assertGreaterEqual(len(self.routes), 20)
        for route in self.routes:
            self.assertIn(route["credential"], WRONG_FOR, route)
            if route["path"].startswith("/v1/"):
                self.assertEqual(route["credential"], "api_key", route)
            if route["path"].startswith("/admin/"):
                self.assertEqual(route["credential"], "admin_key", route)

    def test_every_route_path_and_credential(self):
        creds = self.credentials
        cells = 0
        conn = self.gw.connection(timeout=30)
        try:
            for route in self.routes:
                method, declared = route["method"], route["credential"]
                path = self.concrete(route["path"])
                wrong = WRONG_FOR[declared]
                baseline = {}
                for name, target, kind in variants(path, self.gw.port):
                    for cred_name, headers in creds.items():
                        cells += 1
                        where = f"{method} {target} [{cred_name}] (route {route['path']}, needs {declared})"
                        try:
                            status, data = self.send(conn, method, target, headers)
                        except (http.client.HTTPException, OSError):
                            conn.close()
                            conn = self.gw.connection(timeout=30)
                            status, data = self.send(conn, method, target, headers)
                        self.assertNotEqual(status, 500, where + " " + data.decode(errors="replace"))
                        if kind == "refused":
                            self.assertEqual(status, 400, where)
                            self.assertEqual(json.loads(data)["error"]["type"], "invalid_request", where)
                            self.assertIn("normal form", json.loads(data)["error"]["message"], where)
                            continue
                        if kind == "unmatched":
                            # ";x=1" is part of the last segment: a literal route no longer matches
                            # (404), a {param} route captures it and its handler answers.
                            if cred_name in wrong:
                                self.assertIn(status, (401, 403, 404), where)
                            elif not route["path"].endswith("}"):
                                self.assertEqual(status, 404, where)
                            continue
                        if cred_name in wrong:
                            self.assertIn(status, (401, 403), where + " " + data.decode(errors="replace"))
                        else:
                            self.assertNotIn(status, (401, 403), where + " " + data.decode(errors="replace"))
                        if kind == "same" and name == "normal":
                            baseline[cred_name] = status
                        elif kind == "same":
                            if method == "DELETE" and cred_name in ("team_key", "team_jwt") and status in (200, 409):
                                pass  # the first cancel succeeded; a repeat is 409
                            else:
                                self.assertEqual(status, baseline[cred_name], where)
        finally:
            conn.close()
        self.assertGreater(cells, 1000)

    def test_other_teams_job_is_404_and_no_row_without_a_team(self):
        status, _, _ = self.gw.request("GET", f"/v1/jobs/{self.job_id}",
                                       headers={"authorization": f"Bearer {self.other_key}"})
        self.assertEqual(status, 404)
        # The bypass this file guards against wrote governed rows with an empty team.
        status, _, _ = self.gw.request("POST", "//v1/chat/completions",
                                       {"model": "auto", "max_tokens": 16,
                                        "messages": [{"role": "user", "content": "hi"}]})
        self.assertEqual(status, 400)
        status, rows = self.gw.admin("GET", "/admin/v1/audit?limit=1000")
        self.assertEqual(status, 200)
        for row in rows["data"]:
            self.assertTrue(row["team"], row)


if __name__ == "__main__":
    unittest.main()
