"""SIGTERM drains: in-flight requests finish, idle connections close, exit 0."""
import json
import re
import signal
import socket
import time
import unittest

from aegis_harness import Gateway, wait_until

CONFIG = """
server:
  drain_timeout_ms: 3000
"""


def read_head(sock):
    """Reads up to the end of a response head; returns the head and what followed it."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed before a response head: {data!r}")
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    return head, rest


def read_response(sock):
    """(head, body) of one response with a content-length."""
    head, body = read_head(sock)
    length = int(re.search(rb"(?i)\r\ncontent-length: *(\d+)", head).group(1))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head, body


def start_request(port, head):
    """A connection whose request `head` (sent with expect: 100-continue) the server has read.

    The server answers 100 Continue once it has read a head, so from then on the
    request is in flight, which no fixed sleep can promise."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(head.replace(b"\r\n\r\n", b"\r\nexpect: 100-continue\r\n\r\n", 1))
    continued, rest = read_head(sock)
    if not continued.startswith(b"HTTP/1.1 100") or rest:
        raise AssertionError(f"expected 100 Continue, got {continued + rest!r}")
    return sock


class GracefulDrain(unittest.TestCase):
    def setUp(self):
        self.gw = Gateway(config_text=CONFIG)

    def tearDown(self):
        self.gw.cleanup()

    def test_in_flight_request_completes_then_exit_0(self):
        body = json.dumps({"name": "drain-team", "monthly_budget_usd": 3}).encode()
        # A keep-alive connection that has had its answer: idle from then on.
        idle = socket.create_connection(("127.0.0.1", self.gw.port), timeout=10)
        s = None
        try:
            idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertTrue(read_response(idle)[0].startswith(b"HTTP/1.1 200"))
            head = (f"POST /admin/v1/teams HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
                    f"authorization: Bearer {self.gw.admin_key}\r\ncontent-length: {len(body)}\r\n\r\n").encode()
            s = start_request(self.gw.port, head)
            s.sendall(body[:10])                 # the request is in flight, its body incomplete
            self.gw.proc.send_signal(signal.SIGTERM)
            # The idle keep-alive connection is closed by the drain.
            idle.settimeout(3)
            self.assertEqual(idle.recv(1024), b"")
            # No new connections are accepted.
            with self.assertRaises(OSError):
                c = socket.create_connection(("127.0.0.1", self.gw.port), timeout=2)
                c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                if not c.recv(1024):
                    raise ConnectionResetError("closed")
            # The drain is under way (both of the above) and the in-flight request still holds it.
            self.assertIsNone(self.gw.proc.poll(), "exited before the in-flight request finished")
            s.sendall(body[10:])
            resp = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                resp += chunk
            self.assertTrue(resp.startswith(b"HTTP/1.1 201"), resp[:300])
            self.assertIn(b"Connection: close", resp)
            self.assertEqual(self.gw.proc.wait(10), 0)
            self.assertIn('"event":"drained","clean":true', self.gw.log())
        finally:
            if s is not None:
                s.close()
            idle.close()

    def test_stuck_request_is_cut_off_after_drain_timeout(self):
        s = start_request(self.gw.port, b"POST /admin/v1/teams HTTP/1.1\r\nHost: x\r\n"
                                        b"content-type: application/json\r\ncontent-length: 100\r\n\r\n")
        try:
            s.sendall(b"{")  # and the rest of the body never comes
            started = time.monotonic()
            self.gw.proc.send_signal(signal.SIGTERM)
            self.assertEqual(self.gw.proc.wait(15), 0)
            waited = time.monotonic() - started
            self.assertGreater(waited, 2.0)   # it did wait for the request ...
            self.assertIn('"event":"drained","clean":false', self.gw.log())
        finally:
            s.close()

    def test_sigint_also_drains(self):
        self.gw.proc.send_signal(signal.SIGINT)
        self.assertEqual(self.gw.proc.wait(10), 0)


if __name__ == "__main__":
    unittest.main()


class JobsAcrossAGracefulRestart(unittest.TestCase):
    """SIGTERM with a job running and a client long-polling it: the poll is answered
    at once (it does not hold up the drain), the job goes back to the queue without
    spending an attempt, and the next process runs it."""

    def setUp(self):
        import tempfile
        self.dir = tempfile.mkdtemp(prefix="aegis-jobs-restart-")
        self.config = (f"server: {{drain_timeout_ms: 5000}}\n"
                       f"storage: {{sqlite_path: \"{self.dir}/aegis.db\"}}\n"
                       f"jobs: {{max_attempts: 1}}\n")
        self.gateways = []

    def tearDown(self):
        for gw in self.gateways:
            gw.cleanup()

    def start(self):
        gw = Gateway(args=["--demo"], config_text=self.config)
        self.gateways.append(gw)
        return gw

    def test_running_job_survives_sigterm_without_losing_its_only_attempt(self):
        import threading
        gw = self.start()
        self.assertEqual(gw.admin("POST", "/admin/v1/teams", {"name": "t", "monthly_budget_usd": 10})[0], 201)
        key = gw.admin("POST", "/admin/v1/keys", {"team": "t"})[1]["key"]
        auth = {"authorization": f"Bearer {key}"}
        for provider in ("anthropic", "azure", "ollama"):
            status, _ = gw.admin("POST", "/admin/v1/demo/faults", {"provider": provider, "mode": "hang", "count": 5})
            self.assertEqual(status, 200)
        status, _, data = gw.request("POST", "/v1/jobs", {"task_type": "chat", "prompt": "hi", "max_tokens": 16}, auth)
        self.assertEqual(status, 202, data)
        job_id = json.loads(data)["id"]
        wait_until(lambda: json.loads(gw.request("GET", f"/v1/jobs/{job_id}", headers=auth)[2])["status"] == "running",
                   10, "the job to start running")

        answer = {}

        def long_poll():
            started = time.time()
            status, _, body = gw.request("GET", f"/v1/jobs/{job_id}?wait=30", headers=auth, timeout=40)
            answer.update(status=status, body=json.loads(body), seconds=time.time() - started)

        poller = threading.Thread(target=long_poll)
        poller.start()
        waiting = ("aegis_job_waiters", frozenset())
        wait_until(lambda: gw.metrics().get(waiting) == 1, 10, "the long-poll to be waiting (aegis_job_waiters 1)")
        gw.proc.send_signal(signal.SIGTERM)
        poller.join(20)
        self.assertEqual(answer.get("status"), 200, answer)
        self.assertEqual(answer["body"]["status"], "running")
        self.assertLess(answer["seconds"], 4.0, "the long-poll held up the drain")
        self.assertEqual(gw.proc.wait(15), 0)
        log = gw.log()
        self.assertIn('"event":"drained","clean":true', log)
        self.assertIn('"event":"jobs_handed_back","jobs":1', log)

        again = self.start()  # same database, providers no longer hanging
        status, _, data = again.request("GET", f"/v1/jobs/{job_id}?wait=20", headers=auth, timeout=30)
        self.assertEqual(status, 200, data)
        job = json.loads(data)
        self.assertEqual(job["status"], "succeeded", job)
        self.assertEqual(job["attempts"], 1, "a graceful stop must not spend an attempt")
