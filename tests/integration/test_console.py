"""The console's HTTP contract against the real binary: its page and assets, the
security headers, signing in with the admin key, the session cookie's
attributes, CSRF on every write, cross-site refusal, signing out.

The browser tests (tests/js/console.test.mjs) drive the same pages in
Chromium; this file pins what a browser cannot show, such as a write without
the CSRF token."""
import hashlib
import http.client
import json
import os
import re
import subprocess
import tempfile
import unittest
import urllib.parse

from aegis_harness import Gateway

SESSION_COOKIE = "aegis_session"


def set_cookies(headers_list):
    return [v for k, v in headers_list if k.lower() == "set-cookie"]


class Console(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.gw = Gateway(["--demo"], config_text="rate_limits:\n  auth_failures_per_minute: 0\n")

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()

    def raw(self, method, path, body=None, headers=None):
        """(status, [(name, value)...], body bytes): keeps repeated headers."""
        conn = self.gw.connection()
        try:
            hdrs = dict(headers or {})
            if isinstance(body, dict):
                body = json.dumps(body).encode()
                hdrs.setdefault("content-type", "application/json")
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            return resp.status, resp.getheaders(), resp.read()
        finally:
            conn.close()

    def sign_in(self):
        status, headers, data = self.raw("POST", "/ui/auth/key", {"admin_key": self.gw.admin_key})
        self.assertEqual(status, 200, data)
        cookies = set_cookies(headers)
        self.assertEqual(len(cookies), 1, cookies)
        value = re.match(rf"{SESSION_COOKIE}=([^;]+)", cookies[0]).group(1)
        return value, json.loads(data)["csrf_token"], cookies[0]

    def test_page_and_assets_carry_a_strict_policy(self):
        status, headers, data = self.gw.request("GET", "/ui")
        self.assertEqual(status, 200)
        self.assertIn("text/html", headers["content-type"])
        self.assertIn(b'src="/ui/assets/console.js"', data)
        csp = headers["content-security-policy"]
        for directive in ("default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "base-uri 'none'",
                          "connect-src 'self'"):
            self.assertIn(directive, csp)
        self.assertNotIn("unsafe-inline", csp)
        self.assertEqual(headers["x-content-type-options"], "nosniff")
        self.assertEqual(headers["x-frame-options"], "DENY")
        # Every script and stylesheet the page names is served from the binary.
        for asset in re.findall(rb'(?:src|href)="(/ui/assets/[^"]+)"', data):
            status, headers, body = self.gw.request("GET", asset.decode())
            self.assertEqual(status, 200, asset)
            self.assertTrue(body)
            self.assertIn("content-security-policy", headers)
            etag = headers["etag"]
            status, _, body = self.gw.request("GET", asset.decode(), headers={"if-none-match": etag})
            self.assertEqual(status, 304)
            self.assertEqual(body, b"")
        # No inline script anywhere: the policy would refuse it.
        self.assertNotRegex(data, rb"<script(?![^>]*\ssrc=)")
        status, _, _ = self.gw.request("GET", "/ui/assets/nothing.js")
        self.assertEqual(status, 404)

    def test_sign_in_sets_a_strict_http_only_cookie_and_never_the_key(self):
        value, csrf, cookie = self.sign_in()
        attributes = [a.strip().lower() for a in cookie.split(";")[1:]]
        self.assertIn("httponly", attributes)
        self.assertIn("samesite=strict", attributes)
        self.assertIn("path=/", attributes)
        self.assertNotIn("secure", attributes)  # plain HTTP on loopback
        self.assertNotIn(self.gw.admin_key, cookie)
        self.assertTrue(csrf)
        status, headers, data = self.gw.request("GET", "/ui/session", headers={"cookie": f"{SESSION_COOKIE}={value}"})
        self.assertEqual(status, 200, data)
        session = json.loads(data)
        self.assertEqual(session["method"], "admin_key")
        self.assertEqual(session["csrf_token"], csrf)
        self.assertEqual(headers["cache-control"], "no-store")
        # Behind a TLS proxy the cookie is Secure.
        status, headers, _ = self.raw("POST", "/ui/auth/key", {"admin_key": self.gw.admin_key},
                                      {"x-forwarded-proto": "https"})
        self.assertEqual(status, 200)
        self.assertIn("; Secure", set_cookies(headers)[0])

    def test_a_session_reads_the_admin_api_and_writes_only_with_its_csrf_token(self):
        value, csrf, _ = self.sign_in()
        cookie = {"cookie": f"{SESSION_COOKIE}={value}"}
        status, _, data = self.gw.request("GET", "/admin/v1/teams", headers=cookie)
        self.assertEqual(status, 200, data)
        body = {"name": "console-csrf", "monthly_budget_usd": 10}
        status, _, data = self.gw.request("POST", "/admin/v1/teams", body, headers=cookie)
        self.assertEqual(status, 403, data)
        self.assertIn("x-csrf-token", json.loads(data)["error"]["message"])
        status, _, data = self.gw.request("POST", "/admin/v1/teams", body, headers={**cookie, "x-csrf-token": "wrong"})
        self.assertEqual(status, 403, data)
        other_value, other_csrf, _ = self.sign_in()
        status, _, data = self.gw.request("POST", "/admin/v1/teams", body, headers={**cookie, "x-csrf-token": other_csrf})
        self.assertEqual(status, 403, "another session's token must not do")
        status, _, data = self.gw.request("POST", "/admin/v1/teams", body, headers={**cookie, "x-csrf-token": csrf})
        self.assertEqual(status, 201, data)
        # A cross-site request is refused even with the token.
        status, _, data = self.gw.request("GET", "/admin/v1/teams",
                                          headers={**cookie, "sec-fetch-site": "cross-site"})
        self.assertEqual(status, 403, data)
        status, _, data = self.gw.request("GET", "/admin/v1/teams",
                                          headers={**cookie, "sec-fetch-site": "same-origin"})
        self.assertEqual(status, 200, data)
        # A session opens admin routes only: not the team API.
        status, _, data = self.gw.request("POST", "/v1/chat/completions",
                                          {"model": "auto", "messages": [{"role": "user", "content": "hi"}]},
                                          headers={**cookie, "x-csrf-token": csrf})
        self.assertEqual(status, 401, data)

    def test_tampered_or_unknown_cookies_are_401_without_detail(self):
        value, csrf, _ = self.sign_in()
        payload, mac = value.split(".")
        forged_payload = payload[:-2] + ("00" if payload[-2:] != "00" else "11")
        # A character in the middle of the MAC, made sure to differ (the last one
        # may already be the replacement, or differ only in padding bits).
        forged_mac = mac[:10] + ("A" if mac[10] != "A" else "B") + mac[11:]
        for bad in (f"{forged_payload}.{mac}", f"{payload}.{forged_mac}", "garbage", ""):
            status, _, data = self.gw.request("GET", "/admin/v1/teams", headers={"cookie": f"{SESSION_COOKIE}={bad}"})
            self.assertEqual(status, 401, bad)
            self.assertEqual(json.loads(data)["error"]["message"], "not signed in")

    def test_signing_out_ends_the_session(self):
        value, csrf, _ = self.sign_in()
        cookie = {"cookie": f"{SESSION_COOKIE}={value}"}
        status, headers, _ = self.raw("POST", "/ui/auth/logout", headers={**cookie})
        self.assertEqual(status, 403, "signing out is a write: it needs the token too")
        status, headers, _ = self.raw("POST", "/ui/auth/logout", headers={**cookie, "x-csrf-token": csrf})
        self.assertEqual(status, 204)
        self.assertIn("Max-Age=0", set_cookies(headers)[0])
        status, _, _ = self.gw.request("GET", "/ui/session", headers=cookie)
        self.assertEqual(status, 401)

    def test_admin_key_sign_in_refuses_wrong_keys_and_forms(self):
        status, _, data = self.gw.request("POST", "/ui/auth/key", {"admin_key": "wrong"})
        self.assertEqual(status, 401)
        self.assertNotIn(b"wrong", data)
        # A form post (what another site could make a browser send) is not JSON.
        status, _, _ = self.gw.request("POST", "/ui/auth/key", b"admin_key=" + self.gw.admin_key.encode(),
                                       headers={"content-type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 415)
        status, _, _ = self.gw.request("POST", "/ui/auth/key", {"admin_key": self.gw.admin_key, "extra": 1})
        self.assertEqual(status, 400)
        status, _, data = self.gw.request("GET", "/ui/auth/methods")
        self.assertEqual(status, 200)
        methods = json.loads(data)
        self.assertTrue(methods["admin_key"])
        self.assertEqual(methods["oidc"], [])
        status, _, _ = self.gw.request("GET", "/ui/auth/oidc/start?issuer=0")
        self.assertEqual(status, 404)


class SignInThrottle(unittest.TestCase):
    def test_wrong_admin_keys_spend_the_addresss_failed_sign_in_budget(self):
        gw = Gateway(["--demo"], config_text="rate_limits:\n  auth_failures_per_minute: 3\n")
        try:
            statuses = [gw.request("POST", "/ui/auth/key", {"admin_key": f"wrong-{i}"})[0] for i in range(3)]
            self.assertEqual(statuses, [401, 401, 401])
            status, _, data = gw.request("POST", "/ui/auth/key", {"admin_key": gw.admin_key})
            self.assertEqual(status, 429, data)
        finally:
            gw.cleanup()


class ConsoleOff(unittest.TestCase):
    def test_disabled_console_serves_nothing_and_cookies_open_nothing(self):
        gw = Gateway(["--demo"], config_text="console:\n  enabled: false\n")
        try:
            status, _, _ = gw.request("GET", "/ui")
            self.assertEqual(status, 404)
            status, _, _ = gw.request("GET", "/admin/v1/teams", headers={"cookie": f"{SESSION_COOKIE}=x.y"})
            self.assertEqual(status, 401)
        finally:
            gw.cleanup()


class SharedSecret(unittest.TestCase):
    def test_signing_out_on_one_replica_ends_the_session_on_every_replica(self):
        shared = tempfile.mkdtemp(prefix="aegis-console-shared-")
        config = ('console:\n  session_secret: "${AEGIS_CONSOLE_SECRET}"\n'
                  f'storage:\n  sqlite_path: {os.path.join(shared, "aegis.db")}\n')
        env = {"AEGIS_CONSOLE_SECRET": "s" * 40}
        a = Gateway(["--demo"], env=env, config_text=config)
        b = Gateway(["--demo"], env=env, config_text=config)
        try:
            status, headers, data = a.request("POST", "/ui/auth/key", {"admin_key": a.admin_key})
            self.assertEqual(status, 200, data)
            cookie = {"cookie": headers["set-cookie"].split(";")[0]}
            status, _, data = b.request("GET", "/ui/session", headers=cookie)
            self.assertEqual(status, 200, data)
            csrf = json.loads(data)["csrf_token"]
            status, _, _ = b.request("GET", "/admin/v1/teams", headers=cookie)
            self.assertEqual(status, 200)
            status, _, _ = a.request("POST", "/ui/auth/logout", headers={**cookie, "x-csrf-token": csrf})
            self.assertEqual(status, 204)
            for gw in (a, b):
                status, _, data = gw.request("GET", "/admin/v1/teams", headers=cookie)
                self.assertEqual(status, 401, data)
                self.assertEqual(json.loads(data)["error"]["message"], "not signed in")
            # The store keeps a digest of the session id, never the id or the cookie.
            rows = subprocess.run(["sqlite3", os.path.join(shared, "aegis.db"),
                                   "SELECT id_digest FROM console_revocations"],
                                  capture_output=True, text=True, check=True).stdout.split()
            self.assertEqual(len(rows), 1)
            self.assertEqual(len(rows[0]), 64)
            self.assertNotIn(rows[0], cookie["cookie"])
        finally:
            for gw in (a, b):
                gw.cleanup()

    def test_replicas_with_one_secret_accept_each_others_sessions(self):
        config = 'console:\n  session_secret: "${AEGIS_CONSOLE_SECRET}"\n'
        env = {"AEGIS_CONSOLE_SECRET": "s" * 40}
        a = Gateway(["--demo"], env=env, config_text=config)
        b = Gateway(["--demo"], env=env, config_text=config)
        c = Gateway(["--demo"])
        try:
            status, headers, data = a.request("POST", "/ui/auth/key", {"admin_key": a.admin_key})
            self.assertEqual(status, 200, data)
            cookie = headers["set-cookie"].split(";")[0]
            self.assertEqual(b.request("GET", "/ui/session", headers={"cookie": cookie})[0], 200)
            self.assertEqual(c.request("GET", "/ui/session", headers={"cookie": cookie})[0], 401)
        finally:
            for gw in (a, b, c):
                gw.cleanup()
        bad = None
        try:
            bad = Gateway(["--demo"], config_text='console:\n  session_secret: "tiny-secret"\n')
            self.fail("a short secret must stop start-up")
        except RuntimeError as e:
            self.assertIn("session_secret", str(e))
            self.assertNotIn("tiny-secret", str(e).split("session_secret", 1)[1][:80])
        finally:
            if bad:
                bad.cleanup()


if __name__ == "__main__":
    unittest.main()


class ConsoleOidcSignIn(unittest.TestCase):
    """The authorization-code flow with PKCE at the HTTP level, against the
    test identity provider (tests/support/test_idp.mjs); the browser test
    drives the same flow in Chromium."""

    @classmethod
    def setUpClass(cls):
        from oidc_idp import TestIdp
        cls.idp = TestIdp()
        config = f"""
rate_limits:
  auth_failures_per_minute: 0
oidc:
  issuers:
    - issuer: "{cls.idp.issuer}"
      audience: "aegis"
      team_claim: "groups"
      admin_values: ["aegis-admins"]
      console_client_id: "aegis-console"
"""
        try:
            cls.gw = Gateway(["--demo"], config_text=config)
        except Exception:
            cls.idp.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()
        cls.idp.stop()

    def set_user(self, groups):
        self.idp.call("POST", "/test/user", {"sub": "oidc-console-user", "email": "ada@example.test", "name": "Ada",
                                             "groups": groups})

    def start(self):
        status, headers, _ = self.gw.request("GET", "/ui/auth/oidc/start?issuer=0")
        self.assertEqual(status, 302)
        flow_cookie = headers["set-cookie"]
        return urllib.parse.urlparse(headers["location"]), flow_cookie

    def authorize(self, location):
        """The identity provider's answer to the browser: the redirect back, with code and state."""
        conn = http.client.HTTPConnection("127.0.0.1", self.idp.port, timeout=10)
        try:
            conn.request("GET", location.path + "?" + location.query)
            resp = conn.getresponse()
            resp.read()
            self.assertEqual(resp.status, 302)
            return urllib.parse.urlparse(resp.getheader("location"))
        finally:
            conn.close()

    def callback(self, back, flow_cookie):
        cookie = flow_cookie.split(";")[0]
        return self.gw.request("GET", back.path + "?" + back.query, headers={"cookie": cookie})

    def test_start_sends_a_pkce_challenge_state_and_nonce(self):
        location, flow_cookie = self.start()
        params = urllib.parse.parse_qs(location.query)
        self.assertTrue(f"{location.scheme}://{location.netloc}".startswith(self.idp.issuer))
        self.assertEqual(params["response_type"], ["code"])
        self.assertEqual(params["client_id"], ["aegis-console"])
        self.assertEqual(params["code_challenge_method"], ["S256"])
        self.assertRegex(params["code_challenge"][0], r"^[A-Za-z0-9_-]{43}$")
        self.assertEqual(params["redirect_uri"], [f"http://127.0.0.1:{self.gw.port}/ui/auth/oidc/callback"])
        self.assertTrue(params["state"][0] and params["nonce"][0])
        attributes = [a.strip() for a in flow_cookie.split(";")]
        self.assertTrue(attributes[0].startswith("aegis_oidc="))
        self.assertIn("HttpOnly", attributes)
        self.assertIn("SameSite=Lax", attributes)
        self.assertIn("Path=/ui/auth/oidc", attributes)
        # The verifier never leaves the gateway in the clear.
        self.assertNotIn(params["code_challenge"][0], flow_cookie)

    def test_an_admin_signs_in_and_a_code_works_once(self):
        self.set_user(["aegis-admins"])
        location, flow_cookie = self.start()
        back = self.authorize(location)
        status, headers, _ = self.callback(back, flow_cookie)
        self.assertEqual(status, 302)
        self.assertEqual(headers["location"], "/ui#/overview")
        session = re.search(r"aegis_session=([^;]+); Path=/; Max-Age=\d+; HttpOnly; SameSite=Strict",
                            headers["set-cookie"])
        self.assertTrue(session, headers["set-cookie"])
        status, _, data = self.gw.request("GET", "/ui/session", headers={"cookie": f"aegis_session={session.group(1)}"})
        self.assertEqual(status, 200, data)
        self.assertEqual(json.loads(data)["name"], "ada@example.test")
        self.assertEqual(json.loads(data)["method"], "oidc")
        # The session names the admin as their tokens do (an admin change's
        # actor, e.g. a breach's updated_by), not by the provider's raw subject.
        expected = "oidc:" + hashlib.sha256(f"{self.idp.issuer}\noidc-console-user".encode()).hexdigest()[:16]
        self.assertEqual(json.loads(data)["subject"], expected)
        # The same code again: the identity provider refuses it, no session.
        status, headers, _ = self.callback(back, flow_cookie)
        self.assertEqual(status, 302)
        self.assertEqual(headers["location"], "/ui#/sign-in?error=failed")
        self.assertNotIn("set-cookie", headers)

    def test_a_non_admin_a_forged_state_and_a_missing_flow_get_no_session(self):
        self.set_user(["some-team"])
        location, flow_cookie = self.start()
        back = self.authorize(location)
        status, headers, _ = self.callback(back, flow_cookie)
        self.assertEqual((status, headers["location"]), (302, "/ui#/sign-in?error=not-admin"))
        self.assertNotIn("set-cookie", headers)
        self.set_user(["aegis-admins"])
        location, flow_cookie = self.start()
        back = self.authorize(location)
        forged = back._replace(query=re.sub(r"state=[^&]+", "state=forged", back.query))
        status, headers, _ = self.callback(forged, flow_cookie)
        self.assertEqual((status, headers["location"]), (302, "/ui#/sign-in?error=expired"))
        status, headers, _ = self.gw.request("GET", back.path + "?" + back.query)  # no flow cookie
        self.assertEqual((status, headers["location"]), (302, "/ui#/sign-in?error=expired"))
        # Another flow's cookie does not fit this state either.
        _, other_cookie = self.start()
        status, headers, _ = self.callback(back, other_cookie)
        self.assertEqual((status, headers["location"]), (302, "/ui#/sign-in?error=expired"))
        status, _, _ = self.gw.request("GET", "/ui/auth/oidc/start?issuer=1")
        self.assertEqual(status, 404)
        status, _, data = self.gw.request("GET", "/ui/auth/methods")
        self.assertEqual(json.loads(data)["oidc"], [{"id": 0, "label": "Single sign-on"}])
