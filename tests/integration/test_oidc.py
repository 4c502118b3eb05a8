"""OIDC access tokens (JWTs) on /v1 and /admin, against the real binary and a
local identity provider (tests/support/test_idp.mjs, run with node).

Every refused token must get the same 401 body, naming no reason, kid,
issuer, host, port or algorithm. The matrix of cases and their statuses is
printed at the end so it can be quoted.
"""
import base64
import json
import time
import unittest

from aegis_harness import Gateway, wait_until
from oidc_idp import TestIdp

CHAT = {"model": "auto", "max_tokens": 16, "messages": [{"role": "user", "content": "hello"}]}
# Words and values a refusal must never carry.
LEAKS = ("expired", "kid", "audience", "issuer", "signature", "alg", "rs256", "ps256", "es256", "eddsa", "hs256",
         "none", "127.0.0.1", "localhost", "jwks", "nbf", "exp")
REFRESH_INTERVAL_S = 2


def config_for(idp, auth_failures_per_minute=0):
    return f"""
rate_limits:
  auth_failures_per_minute: {auth_failures_per_minute}
oidc:
  issuers:
    - issuer: "{idp.issuer}"
      audience: "aegis"
      team_claim: "groups"
      admin_values: ["aegis-admins"]
      jwks_min_refresh_interval_s: {REFRESH_INTERVAL_S}
      console_client_secret: "${{OIDC_TEST_SECRET}}"
"""


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Oidc(unittest.TestCase):
    matrix = []

    @classmethod
    def setUpClass(cls):
        cls.idp = TestIdp()
        try:
            cls.gw = Gateway(["--demo"], config_text=config_for(cls.idp), env={"OIDC_TEST_SECRET": "s3cret-value"})
        except Exception:
            cls.idp.stop()
            raise
        for team in ("oidc-a", "oidc-b", "oidc-c"):
            status, body = cls.gw.admin("POST", "/admin/v1/teams", {"name": team, "monthly_budget_usd": 100})
            assert status == 201, body
        cls.tokens = []

    @classmethod
    def tearDownClass(cls):
        try:
            log = cls.gw.log()
            cls.gw.cleanup()
        finally:
            cls.idp.stop()
        print("\nOIDC matrix (case -> status):")
        for name, status in cls.matrix:
            print(f"  {name:<48} {status}")
        # No token, and no console secret, ever reaches the log.
        for token in cls.tokens:
            signature = token.rsplit(".", 1)[-1]
            if len(signature) > 16:
                assert signature not in log, "a token's signature is in the gateway log"
        assert "s3cret-value" not in log, "the console client secret is in the gateway log"

    def token(self, **request):
        claims = request.pop("claims", {})
        claims.setdefault("groups", ["oidc-a"])
        token = self.idp.sign(claims=claims, **request)
        self.tokens.append(token)
        return token

    def send(self, name, token, path="/v1/chat/completions", method="POST", headers=None):
        hdrs = {"authorization": f"Bearer {token}"}
        hdrs.update(headers or {})
        status, _, data = self.gw.request(method, path, CHAT if method == "POST" else None, hdrs)
        self.matrix.append((name, status))
        return status, data

    def assert_refused(self, name, token, **kwargs):
        status, data = self.send(name, token, **kwargs)
        self.assertEqual(status, 401, f"{name}: {data!r}")
        error = json.loads(data)["error"]
        self.assertEqual(error["message"], "invalid token", name)
        self.assertEqual(error["type"], "authentication_error", name)
        text = json.dumps({"type": error["type"], "message": error["message"]}).lower()
        self.assertEqual(set(error) - {"type", "message", "request_id"}, set(), name)
        for leak in LEAKS + (str(self.idp.port), str(self.gw.port)):
            self.assertNotIn(leak, text, f"{name}: the refusal names {leak!r}: {text}")

    def test_valid_tokens_of_every_algorithm(self):
        for alg in ("RS256", "PS256", "ES256", "EdDSA"):
            status, data = self.send(f"valid {alg}", self.token(alg=alg))
            self.assertEqual(status, 200, f"{alg}: {data!r}")

    def test_whoami_shows_the_team_and_an_oidc_key_id(self):
        status, data = self.send("whoami", self.token(), path="/v1/whoami", method="GET")
        self.assertEqual(status, 200, data)
        body = json.loads(data)
        self.assertEqual(body["team"], "oidc-a")
        self.assertRegex(body["key_id"], r"^oidc:[0-9a-f]{16}$")

    def test_id_token_style_array_audience(self):
        status, _ = self.send("aud array holding aegis", self.token(claims={"aud": ["aegis-console", "aegis"]}))
        self.assertEqual(status, 200)

    def test_time_claims(self):
        now = int(time.time())
        self.assert_refused("expired", self.token(claims={"exp": now - 3600, "iat": now - 7200}))
        self.assert_refused("not yet valid (nbf)", self.token(claims={"nbf": now + 3600}))
        self.assert_refused("issued in the future (iat)", self.token(claims={"iat": now + 3600}))
        self.assert_refused("no exp", self.token(claims={"exp": None}))

    def test_audience_and_issuer(self):
        self.assert_refused("wrong audience", self.token(claims={"aud": "someone-else"}))
        self.assert_refused("wrong issuer", self.token(claims={"iss": "https://idp.invalid"}))

    def test_forged_algorithms(self):
        self.assert_refused("alg none", self.token(alg="none"))
        self.assert_refused("HS256 keyed with the RSA public key PEM", self.token(alg="HS256"))

    def test_tampering(self):
        good = self.token()
        head, payload, signature = good.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        claims["groups"] = ["oidc-b", "aegis-admins"]
        forged = ".".join([head, b64url(json.dumps(claims).encode()), signature])
        self.assert_refused("tampered payload", forged)
        flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
        self.assert_refused("tampered signature", ".".join([head, payload, flipped]))

    def test_oversized_token(self):
        token = self.token(claims={"pad": "x" * 9000})
        self.assertGreater(len(token), 8 * 1024)
        self.assertLess(len(token), 15 * 1024)  # under server.max_header_bytes (16 KiB)
        self.assert_refused("oversized (> 8 KiB)", token)

    def test_malformed_jwt_shapes(self):
        self.assert_refused("garbage three segments", "abc.def.ghi")

    def test_z1_rotated_key_is_used_after_one_refetch(self):
        # The JWKS has been fetched by the earlier requests (or now).
        self.assertEqual(self.send("warm-up", self.token())[0], 200)
        time.sleep(REFRESH_INTERVAL_S + 0.3)  # past the refetch rate limit
        before = self.idp.jwks_fetches()
        new_kid = self.idp.call("POST", "/test/rotate", {"alg": "RS256"})["kid"]
        status, data = self.send("unknown kid, then rotated in", self.token(kid=new_kid))
        self.assertEqual(status, 200, data)
        self.assertEqual(self.idp.jwks_fetches(), before + 1)

    def test_z2_unknown_kid_repeated_fetches_at_most_once_per_interval(self):
        time.sleep(REFRESH_INTERVAL_S + 0.3)
        before = self.idp.jwks_fetches()
        started = time.monotonic()
        for i in range(25):
            self.assert_refused(f"unknown kid #{i + 1}" if i in (0, 24) else "unknown kid (repeat)",
                                self.token(unpublished=True))
        elapsed = time.monotonic() - started
        grown = self.idp.jwks_fetches() - before
        allowed = 1 + int(elapsed // REFRESH_INTERVAL_S)
        self.assertLessEqual(grown, allowed, f"{grown} fetches in {elapsed:.2f}s")
        self.assertGreaterEqual(grown, 1)

    def test_admin_routes(self):
        status, data = self.send("admin group on /admin/v1/teams", self.token(claims={"groups": ["aegis-admins"]}),
                                 path="/admin/v1/teams", method="GET")
        self.assertEqual(status, 200, data)
        self.assertIn("oidc-a", [t["name"] for t in json.loads(data)["teams"]])
        status, data = self.send("no admin group on /admin/v1/teams", self.token(), path="/admin/v1/teams",
                                 method="GET")
        self.assertEqual(status, 403, data)
        self.assert_refused("expired admin token on admin", self.token(
            claims={"groups": ["aegis-admins"], "exp": int(time.time()) - 3600}), path="/admin/v1/teams",
            method="GET")
        # The admin key keeps working beside tokens.
        self.assertEqual(self.gw.admin("GET", "/admin/v1/teams")[0], 200)

    def test_team_selection(self):
        multi = self.token(claims={"groups": ["oidc-a", "oidc-b", "not-a-team"]})
        status, data = self.send("multi-team, no x-aegis-team", multi)
        self.assertEqual(status, 400, data)
        self.assertIn("x-aegis-team", json.loads(data)["error"]["message"])
        status, data = self.send("multi-team, x-aegis-team: oidc-b", multi, headers={"x-aegis-team": "oidc-b"})
        self.assertEqual(status, 200, data)
        status, data = self.send("multi-team whoami, x-aegis-team: oidc-b", multi, path="/v1/whoami", method="GET",
                                 headers={"x-aegis-team": "oidc-b"})
        self.assertEqual(json.loads(data)["team"], "oidc-b")
        status, data = self.send("multi-team, foreign x-aegis-team", multi, headers={"x-aegis-team": "oidc-c"})
        self.assertEqual(status, 403, data)
        status, data = self.send("token mapping to no team", self.token(claims={"groups": ["nobody"]}))
        self.assertEqual(status, 403, data)

    def test_virtual_keys_still_work(self):
        _, key = self.gw.admin("POST", "/admin/v1/keys", {"team": "oidc-a"})
        status, _, _ = self.gw.request("POST", "/v1/chat/completions", CHAT,
                                       {"authorization": f"Bearer {key['key']}"})
        self.assertEqual(status, 200)

    def test_z3_metrics_count_results(self):
        self.send("metrics: valid", self.token())
        self.assert_refused("metrics: expired", self.token(claims={"exp": int(time.time()) - 3600}))
        metrics = self.gw.metrics()
        ok = metrics.get(("aegis_auth_jwt_total", frozenset({("result", "ok")})), 0)
        expired = metrics.get(("aegis_auth_jwt_total", frozenset({("result", "expired")})), 0)
        self.assertGreaterEqual(ok, 1)
        self.assertGreaterEqual(expired, 1)
        # The reason is in the log (never the token).
        wait_until(lambda: '"jwt_rejected"' in self.gw.log(), 5, "a jwt_rejected log line")


class OidcThrottle(unittest.TestCase):
    """Bad tokens spend the failed-authentication bucket like bad keys."""

    def test_failed_tokens_are_throttled(self):
        idp = TestIdp()
        try:
            gw = Gateway(["--demo"], config_text=config_for(idp, auth_failures_per_minute=3),
                         env={"OIDC_TEST_SECRET": "x"})
            try:
                bad = idp.sign(claims={"aud": "someone-else"})
                statuses = [gw.request("GET", "/v1/models", headers={"authorization": f"Bearer {bad}"})[0]
                            for _ in range(4)]
                self.assertEqual(statuses[:3], [401, 401, 401])
                self.assertEqual(statuses[3], 429)
            finally:
                gw.cleanup()
        finally:
            idp.stop()


if __name__ == "__main__":
    unittest.main()
