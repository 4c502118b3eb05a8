"""Images and PDFs through the real binary (`aegis serve`), issue 20.

The test images and PDFs are generated here (tests/media/media_fixtures.py:
ImageMagick in DejaVu Sans, hand-written PDFs). What each simulated provider
received is read back from /admin/v1/demo/upstream-log, and an image a cloud
provider received is read again with `aegis redact --json` (the same OCR,
run offline on the received bytes): redacted regions must hold nothing
readable.
"""
import base64
import json
import os
import subprocess
import sys
import tempfile
import unittest

from aegis_harness import AEGIS_BIN, DemoUpstreams, GatewayTestCase, route_of, wait_until

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "media"))
import media_fixtures  # noqa: E402

FIXTURES = media_fixtures.write(os.path.join(tempfile.gettempdir(), f"aegis-media-{os.getuid()}"))
SIN_DIGITS = "046454286"
CARD_DIGITS = "4111111111111111"


def fixture(name):
    with open(os.path.join(FIXTURES, name), "rb") as f:
        return f.read()


def media_type(name):
    return {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp", "gif": "image/gif",
            "pdf": "application/pdf"}[name.rsplit(".", 1)[1]]


def data_url(name):
    return f"data:{media_type(name)};base64," + base64.b64encode(fixture(name)).decode()


def openai_parts(text, name):
    if name.endswith(".pdf"):
        part = {"type": "file", "file": {"file_data": data_url(name), "filename": name}}
    else:
        part = {"type": "image_url", "image_url": {"url": data_url(name)}}
    return [{"type": "text", "text": text}, part]


def anthropic_blocks(text, name):
    kind = "document" if name.endswith(".pdf") else "image"
    source = {"type": "base64", "media_type": media_type(name), "data": base64.b64encode(fixture(name)).decode()}
    return [{"type": kind, "source": source}, {"type": "text", "text": text}]


def attachments_in(body):
    """Every image or PDF in a provider request body, as bytes."""
    found = []

    def walk(value):
        if isinstance(value, dict):
            if value.get("type") == "base64" and isinstance(value.get("data"), str):
                found.append(base64.b64decode(value["data"]))
            for key, item in value.items():
                if key == "images" and isinstance(item, list):
                    found.extend(base64.b64decode(i) for i in item if isinstance(i, str))
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str) and value.startswith("data:") and ";base64," in value:
            found.append(base64.b64decode(value.split(";base64,", 1)[1]))

    walk(json.loads(body))
    return found


def digits(text):
    return "".join(c for c in text if c.isdigit())


def reread(data, suffix):
    """`aegis redact --json` on bytes: what OCR finds in them."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "in" + suffix)
        with open(path, "wb") as f:
            f.write(data)
        out = subprocess.run([AEGIS_BIN, "redact", path, "-o", os.path.join(d, "out" + suffix), "--json"],
                             check=True, capture_output=True, text=True, timeout=120)
        return json.loads(out.stdout)


class MultimodalDemo(DemoUpstreams, GatewayTestCase):
    gateway_args = ("--demo",)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()

    def setUp(self):
        self.team, self.key = self.new_team("media")

    def chat(self, text, name, path="/v1/chat/completions"):
        if path == "/v1/messages":
            body = {"model": "auto", "max_tokens": 200, "messages": [{"role": "user", "content": anthropic_blocks(text, name)}]}
        else:
            body = {"model": "auto", "max_tokens": 200, "messages": [{"role": "user", "content": openai_parts(text, name)}]}
        return self.call_json(self.key, "POST", path, body, timeout=120)

    def cloud_bodies_since(self, before):
        return [r for r in self.upstream_log()[before:] if r["locality"] == "cloud"]

    def assertStayedLocal(self, name, path="/v1/chat/completions"):
        before = len(self.upstream_log())
        status, headers, body = self.chat("What does this say?", name, path)
        self.assertEqual(status, 200, body)
        self.assertEqual(headers["x-aegis-classification"], "RESTRICTED", name)
        self.assertEqual(route_of(headers)["provider"], "ollama", headers["x-aegis-route"])
        sent = self.upstream_log()[before:]
        self.assertTrue(sent, "no upstream request")
        for row in sent:
            self.assertEqual(row["locality"], "local", (name, row["provider"]))
        local = [a for row in sent for a in attachments_in(row["body"])]
        return sent, local

    def test_an_image_with_a_sin_runs_on_the_local_vision_provider(self):
        _, local = self.assertStayedLocal("sin.png")
        self.assertEqual(local, [fixture("sin.png")])  # the local provider saw the original image

    def test_the_anthropic_shape_too(self):
        self.assertStayedLocal("sin.png", "/v1/messages")

    def test_cheques_cards_french_turned_faint_and_scanned_pdfs_stay_local(self):
        for name in ("cheque.png", "card.png", "sin_fr.png", "sin_rot90.png", "sin_low.png", "sin.jpg", "sin.webp",
                     "sin.gif", "two_pages.pdf"):
            with self.subTest(name=name):
                self.assertStayedLocal(name)

    def test_a_pdf_for_a_local_provider_without_documents_is_sent_as_its_text(self):
        sent, local = self.assertStayedLocal("two_pages.pdf")
        self.assertEqual(local, [])  # Ollama takes no documents: the PDF went as text
        body = json.loads(sent[-1]["body"])
        text = json.dumps(body)
        self.assertIn("[document 1: two_pages.pdf]", text)
        self.assertIn("Employee record", text)

    def test_a_name_and_email_image_reaches_the_cloud_redacted(self):
        before = len(self.upstream_log())
        status, headers, body = self.chat("Who should I write to?", "person_email.png")
        self.assertEqual(status, 200, body)
        self.assertNotEqual(headers["x-aegis-classification"], "RESTRICTED")
        cloud = self.cloud_bodies_since(before)
        self.assertTrue(cloud, headers["x-aegis-route"])
        images = attachments_in(cloud[-1]["body"])
        self.assertEqual(len(images), 1)
        self.assertTrue(images[0].startswith(b"\x89PNG"))
        self.assertNotEqual(images[0], fixture("person_email.png"))
        again = reread(images[0], ".png")
        self.assertEqual(again["findings"], [], again)  # nothing readable left where the values were
        self.assertGreater(again["words"], 0)          # the rest of the image is still there
        raw = cloud[-1]["body"]
        self.assertNotIn("jane.tremblay@example.com", raw)
        self.assertNotIn("Tremblay", raw)
        self.assertIn("PERSON_0", raw)
        self.assertIn("EMAIL_ADDRESS_0", raw)
        self.assertIn("hidden under black boxes", raw)
        # The model's answer (the simulator echoes the text part) is restored for the client.
        answer = body["choices"][0]["message"]["content"]
        self.assertIn("jane.tremblay@example.com", answer)
        self.assertGreaterEqual(int(headers.get("x-aegis-masked", "0")), 2)

    def test_the_consoles_try_it_shows_the_redacted_image_a_cloud_provider_would_receive(self):
        before = len(self.upstream_log())

        def inspect(name):
            attachment = {"media_type": media_type(name), "data": base64.b64encode(fixture(name)).decode()}
            status, _, data = self.gw.request("POST", "/admin/v1/inspect",
                                              {"team": self.team, "prompt": "Who should I write to?",
                                               "attachments": [attachment]},
                                              {"authorization": f"Bearer {self.gw.admin_key}"}, timeout=120)
            self.assertEqual(status, 200, data)
            return json.loads(data)
        shown = inspect("person_email.png")
        self.assertNotEqual(shown["level"], "RESTRICTED", shown["findings"])
        self.assertEqual({f["type"] for f in shown["findings"]}, {"PERSON", "EMAIL_ADDRESS"}, shown["findings"])
        redacted = shown["attachments"][0]["redacted"]
        self.assertEqual(redacted["media_type"], "image/png")
        image = base64.b64decode(redacted["data"])
        self.assertTrue(image.startswith(b"\x89PNG"))
        self.assertNotEqual(image, fixture("person_email.png"))
        again = reread(image, ".png")
        self.assertEqual(again["findings"], [], again)  # nothing readable where the values were
        self.assertGreater(again["words"], 0)
        # A RESTRICTED image goes to no cloud provider: nothing redacted to show.
        shown = inspect("sin.png")
        self.assertEqual(shown["level"], "RESTRICTED")
        self.assertIsNone(shown["masked"])
        self.assertIsNone(shown["attachments"][0]["redacted"])
        # An image without findings is sent as it is.
        self.assertIsNone(inspect("plain.png")["attachments"][0]["redacted"])
        self.assertEqual(len(self.upstream_log()), before, "inspecting called no provider")

    def test_a_pdf_with_a_name_and_email_reaches_the_cloud_as_redacted_page_images(self):
        before = len(self.upstream_log())
        status, headers, body = self.chat("Summarise", "text_only.pdf", "/v1/messages")
        self.assertEqual(status, 200, body)
        cloud = self.cloud_bodies_since(before)
        self.assertTrue(cloud, headers["x-aegis-route"])
        docs = attachments_in(cloud[-1]["body"])
        self.assertEqual(len(docs), 1)
        self.assertTrue(docs[0].startswith(b"%PDF-"))
        again = reread(docs[0], ".pdf")
        self.assertEqual(again["findings"], [], again)
        self.assertGreater(again["words"], 0)
        self.assertNotIn("example.com", cloud[-1]["body"])

    def test_an_async_job_with_a_scanned_sin_is_restricted_at_submit_and_runs_locally(self):
        before = len(self.upstream_log())
        body = {"task_type": "summarize", "max_tokens": 50, "messages": [{"role": "user", "content": "read it",
                "attachments": [{"type": "image", "media_type": "image/png",
                                 "data": base64.b64encode(fixture("sin.png")).decode()}]}]}
        status, _, job = self.call_json(self.key, "POST", "/v1/jobs", body)
        self.assertEqual(status, 202, job)
        self.assertEqual(job["classification"], "RESTRICTED")

        def finished():
            s, _, j = self.call_json(self.key, "GET", f"/v1/jobs/{job['id']}")
            return j if j and j.get("status") in ("succeeded", "failed") else None
        done = wait_until(finished, 60, "the job to finish")
        self.assertEqual(done["status"], "succeeded", done)
        sent = self.upstream_log()[before:]
        self.assertTrue(sent)
        self.assertTrue(all(r["locality"] == "local" for r in sent))

    def test_an_image_that_cannot_be_read_is_restricted(self):
        broken = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64).decode()
        before = len(self.upstream_log())
        body = {"model": "auto", "max_tokens": 50, "messages": [{"role": "user", "content": [
            {"type": "text", "text": "and this?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64," + broken}}]}]}
        status, headers, reply = self.call_json(self.key, "POST", "/v1/chat/completions", body)
        self.assertEqual(status, 200, reply)
        self.assertEqual(headers["x-aegis-classification"], "RESTRICTED")
        self.assertIn("could not be read in full", headers["x-aegis-route"])
        self.assertTrue(all(r["locality"] == "local" for r in self.upstream_log()[before:]))

    def test_an_image_url_is_refused_without_naming_it(self):
        body = {"model": "auto", "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "https://images.example.net/cheque.png"}}]}]}
        status, headers, reply = self.call_json(self.key, "POST", "/v1/chat/completions", body)
        self.assertEqual(status, 400, reply)
        self.assertEqual(reply["error"]["type"], "invalid_request")
        self.assertNotIn("images.example.net", json.dumps(reply))

    def test_the_same_image_is_read_once(self):
        def cached():
            key = ("aegis_media_extractions_total", frozenset({("kind", "image"), ("result", "cached")}))
            return self.gw.metrics().get(key, 0)
        start = cached()
        for _ in range(2):
            status, _, body = self.chat("again", "plain.png")
            self.assertEqual(status, 200, body)
        self.assertGreaterEqual(cached(), start + 1)

    def test_a_text_only_request_never_reaches_the_media_reader(self):
        def reads():
            m = self.gw.metrics()
            return sum(v for (name, _), v in m.items() if name == "aegis_media_extractions_total")
        before = reads()
        status, _, body = self.call_json(self.key, "POST", "/v1/chat/completions",
                                         {"model": "auto", "messages": [{"role": "user", "content": "hello"}]})
        self.assertEqual(status, 200, body)
        self.assertEqual(reads(), before)


LOCAL_WITHOUT_VISION = """
providers:
  - name: cloudsim
    type: sim
    locality: cloud
    capabilities: [vision]
    models: {haiku: sim-small, sonnet: sim-medium, opus: sim-large}
  - name: localsim
    type: sim
    locality: local
    models: {haiku: local-small, sonnet: local-medium, opus: local-large}
routing:
  fallback_chain: [cloudsim, localsim]
resilience:
  health_check_interval_s: 0
"""


class NoLocalVision(GatewayTestCase):
    config_text = LOCAL_WITHOUT_VISION

    def setUp(self):
        _, self.key = self.new_team("vision")

    def test_a_restricted_image_without_a_local_vision_provider_is_503_naming_the_capability(self):
        body = {"model": "auto", "messages": [{"role": "user", "content": openai_parts("read it", "sin.png")}]}
        status, headers, reply = self.call_json(self.key, "POST", "/v1/chat/completions", body, timeout=120)
        self.assertEqual(status, 503, reply)
        self.assertEqual(reply["error"]["type"], "no_local_provider")
        self.assertIn("vision", reply["error"]["message"])
        self.assertEqual(headers["x-aegis-classification"], "RESTRICTED")

    def test_an_internal_image_goes_to_the_provider_that_declares_vision(self):
        body = {"model": "auto", "messages": [{"role": "user", "content": openai_parts("read it", "plain.png")}]}
        status, headers, reply = self.call_json(self.key, "POST", "/v1/chat/completions", body, timeout=120)
        self.assertEqual(status, 200, reply)
        self.assertEqual(route_of(headers)["provider"], "cloudsim")

    def test_a_restricted_pdf_goes_to_the_local_provider_as_text(self):
        body = {"model": "auto", "messages": [{"role": "user", "content": openai_parts("read it", "two_pages.pdf")}]}
        status, headers, reply = self.call_json(self.key, "POST", "/v1/chat/completions", body, timeout=120)
        self.assertEqual(status, 200, reply)
        self.assertEqual(route_of(headers)["provider"], "localsim")
        self.assertEqual(headers["x-aegis-classification"], "RESTRICTED")


class ImageServer:
    """A loopback HTTP server of the fixtures; records the paths asked for."""

    def __init__(self):
        import http.server
        import threading
        seen = self.seen = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                seen.append(self.path)
                name = self.path.lstrip("/").split("?")[0]
                if name not in media_fixtures.FIXTURES:
                    self.send_error(404)
                    return
                data = fixture(name)
                self.send_response(200)
                self.send_header("content-type", media_type(name))
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}/{path}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class FetchedUrls(DemoUpstreams, GatewayTestCase):
    """media.fetch_urls with fetch_local on (the image server is on loopback)."""
    gateway_args = ("--demo",)
    config_text = "media:\n  fetch_urls: true\n  fetch_local: true\n"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.images = ImageServer()

    @classmethod
    def tearDownClass(cls):
        cls.images.close()
        super().tearDownClass()

    def setUp(self):
        _, self.key = self.new_team("fetch")

    def ask(self, url):
        body = {"model": "auto", "max_tokens": 50, "messages": [{"role": "user", "content": [
            {"type": "text", "text": "read it"}, {"type": "image_url", "image_url": {"url": url}}]}]}
        return self.call_json(self.key, "POST", "/v1/chat/completions", body, timeout=120)

    def test_a_fetched_image_is_classified_and_the_provider_gets_its_bytes_not_the_url(self):
        before = len(self.upstream_log())
        status, headers, reply = self.ask(self.images.url("sin.png"))
        self.assertEqual(status, 200, reply)
        self.assertEqual(headers["x-aegis-classification"], "RESTRICTED")
        sent = self.upstream_log()[before:]
        self.assertTrue(all(r["locality"] == "local" for r in sent))
        self.assertEqual([a for r in sent for a in attachments_in(r["body"])], [fixture("sin.png")])
        self.assertNotIn("127.0.0.1:%d" % self.images.port, json.dumps(sent))

    def test_a_url_that_carries_data_is_never_fetched(self):
        before = len(self.images.seen)
        status, _, reply = self.ask(self.images.url("sin.png?sin=046-454-286"))
        self.assertEqual(status, 400, reply)
        self.assertEqual(len(self.images.seen), before)

    def test_a_missing_image_is_400_naming_no_host(self):
        status, _, reply = self.ask(self.images.url("nothing.png"))
        self.assertEqual(status, 400, reply)
        self.assertIn("HTTP 404", reply["error"]["message"])
        self.assertNotIn("127.0.0.1", reply["error"]["message"])


class FetchNotIntoTheLocalNetwork(GatewayTestCase):
    gateway_args = ("--demo",)
    config_text = "media:\n  fetch_urls: true\n"

    def test_a_url_into_the_gateways_own_network_is_refused_before_a_byte_is_sent(self):
        images = ImageServer()
        try:
            _, key = self.new_team("ssrf")
            body = {"model": "auto", "messages": [{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": images.url("sin.png")}}]}]}
            status, _, reply = self.call_json(key, "POST", "/v1/chat/completions", body)
            self.assertEqual(status, 400, reply)
            self.assertIn("media.fetch_local", reply["error"]["message"])
            self.assertEqual(images.seen, [])
        finally:
            images.close()


class RedactCli(unittest.TestCase):
    def redact(self, name, *extra):
        out = os.path.join(tempfile.mkdtemp(), "out" + os.path.splitext(name)[1])
        done = subprocess.run([AEGIS_BIN, "redact", os.path.join(FIXTURES, name), "-o", out, *extra],
                              capture_output=True, text=True, timeout=120)
        self.assertEqual(done.returncode, 0, done.stderr)
        return done.stdout, out

    def test_restricted_files_are_never_for_the_cloud(self):
        stdout, _ = self.redact("sin.png", "--json")
        report = json.loads(stdout)
        self.assertEqual(report["level"], "RESTRICTED")
        self.assertEqual(report["cloud"], "never")
        self.assertIn("CA_SIN", [f["type"] for f in report["findings"]])
        self.assertNotIn("046", stdout)  # values are never printed

    def test_the_redacted_copy_has_nothing_left_to_find(self):
        stdout, out = self.redact("person_email.png")
        self.assertIn("redacted copy", stdout)
        with open(out, "rb") as f:
            self.assertEqual(reread(f.read(), ".png")["findings"], [])

    def test_a_pdf_is_redacted_page_by_page(self):
        stdout, out = self.redact("two_pages.pdf", "--json")
        report = json.loads(stdout)
        self.assertEqual(report["pages"], 2)
        self.assertEqual(sorted({f["page"] for f in report["findings"]}), [1, 2])
        with open(out, "rb") as f:
            self.assertEqual(reread(f.read(), ".pdf")["findings"], [])

    def test_an_unreadable_file_is_restricted(self):
        with tempfile.NamedTemporaryFile(suffix=".png") as f:
            f.write(b"\x89PNG\r\n\x1a\nnot really")
            f.flush()
            done = subprocess.run([AEGIS_BIN, "redact", f.name, "-o", f.name + ".out", "--json"],
                                  capture_output=True, text=True, timeout=60)
        report = json.loads(done.stdout)
        self.assertFalse(report["complete"])
        self.assertEqual(report["level"], "RESTRICTED")


if __name__ == "__main__":
    unittest.main()
