"""The local identity provider of the OIDC tests (tests/support/test_idp.mjs), run with node."""
import json
import os
import subprocess
import urllib.request

from aegis_harness import SOURCE_DIR

IDP_SCRIPT = os.path.join(SOURCE_DIR, "tests", "support", "test_idp.mjs")


class TestIdp:
    """The node identity provider on a port of its own."""

    def __init__(self):
        self.proc = subprocess.Popen(["node", IDP_SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the test identity provider did not start")
        info = json.loads(line)
        self.port, self.issuer = info["port"], info["issuer"]

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.issuer + path, data=data, method=method,
                                     headers={"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def sign(self, **request):
        return self.call("POST", "/test/sign", request)["token"]

    def jwks_fetches(self):
        return self.call("GET", "/test/stats")["jwks_fetches"]

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
