"""`aegis sim`: the provider simulator speaks each provider's documented wire
protocol (Anthropic Messages, Azure OpenAI, OpenAI-compatible, Ollama), answers
deterministically, records what it received without credentials, and injects
the faults it is told to."""
import base64
import http.client
import json
import math
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

from aegis_harness import AEGIS_BIN, free_port, wait_until

ANTHROPIC_HEADERS = {"x-api-key": "sk-ant-secret", "anthropic-version": "2023-06-01",
                     "content-type": "application/json"}
OPENAI_HEADERS = {"authorization": "Bearer sk-openai-secret", "content-type": "application/json"}
AZURE_HEADERS = {"api-key": "azure-secret", "content-type": "application/json"}
OLLAMA_HEADERS = {"content-type": "application/json"}
AZURE_CHAT = "/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21"
AZURE_EMBED = "/openai/deployments/embed-prod/embeddings?api-version=2024-10-21"
ANTHROPIC_EVENT_ORDER_PREFIX = ["message_start", "content_block_start", "ping"]


def pieces(text):
    return re.findall(r"\s*\S+", text)


def tokens(nbytes):
    return (nbytes + 3) // 4


def sse_events(raw):
    """[(event or None, data string)] from an SSE body."""
    events = []
    for block in raw.decode().split("\n\n"):
        if not block.strip():
            continue
        event, data = None, []
        for line in block.split("\n"):
            if line.startswith("event: "):
                event = line[len("event: "):]
            elif line.startswith("data: "):
                data.append(line[len("data: "):])
        events.append((event, "\n".join(data)))
    return events


def norm(vector):
    return math.sqrt(sum(v * v for v in vector))


class Sim:
    """One `aegis sim` process on a free loopback port."""

    def __init__(self, *args):
        self.port = free_port()
        self.workdir = tempfile.mkdtemp(prefix="aegis-sim-")
        self.log_path = os.path.join(self.workdir, "sim.log")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([AEGIS_BIN, "sim", "--listen", f"127.0.0.1:{self.port}", "--threads", "2", *args],
                                     stdout=self._log, stderr=subprocess.STDOUT)

        def healthy():
            if self.proc.poll() is not None:
                raise RuntimeError(f"aegis sim exited with {self.proc.returncode}: {self.log()}")
            try:
                return self.request("GET", "/_sim/health")[0] == 200
            except OSError:
                return False
        try:
            wait_until(healthy, 20, "GET /_sim/health to answer 200")
        except AssertionError:
            raise RuntimeError("aegis sim did not come up: " + self.log()) from None

    def log(self):
        if not self._log.closed:
            self._log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def connection(self, timeout=10):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=10):
        """(status, lower-case headers, body bytes)."""
        conn = self.connection(timeout)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
            conn.request(method, path, body=body, headers=dict(headers or {}))
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

    def json(self, method, path, body=None, headers=None, timeout=10):
        status, hdrs, data = self.request(method, path, body, headers, timeout)
        return status, hdrs, (json.loads(data) if data else None)

    def fault(self, **settings):
        status, _, body = self.json("POST", "/_sim/faults", settings, {"content-type": "application/json"})
        return status, body

    def stop(self, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def cleanup(self):
        """Stops the process; its log if it did not exit 0 (e.g. a sanitizer report), else None."""
        rc = self.stop()
        problem = None if rc == 0 else f"aegis sim exited with {rc}:\n{self.log()}"
        shutil.rmtree(self.workdir, ignore_errors=True)
        return problem


def anthropic_body(text="hello PERSON_0 and EMAIL_1", **extra):
    body = {"model": "claude-sonnet-4-5", "max_tokens": 256, "system": "You are terse.",
            "messages": [{"role": "user", "content": text}]}
    body.update(extra)
    return body


def openai_body(text="hello PERSON_0 and EMAIL_1", **extra):
    body = {"model": "gpt-4o-mini", "messages": [{"role": "system", "content": "You are terse."},
                                                  {"role": "user", "content": text}]}
    body.update(extra)
    return body


def ollama_body(text="hello PERSON_0 and EMAIL_1", **extra):
    body = {"model": "llama3.2", "messages": [{"role": "user", "content": text}]}
    body.update(extra)
    return body


TOOL_ANTHROPIC = [{"name": "get_weather", "description": "weather", "input_schema": {"type": "object"}},
                  {"name": "other", "input_schema": {"type": "object"}}]
TOOL_OPENAI = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}},
               {"type": "function", "function": {"name": "other"}}]


class SimTestCase(unittest.TestCase):
    sim_args = ()

    @classmethod
    def setUpClass(cls):
        cls.sim = Sim(*cls.sim_args)

    @classmethod
    def tearDownClass(cls):
        problem = cls.sim.cleanup()
        if problem:
            raise AssertionError(problem)

    def setUp(self):
        self.assertEqual(self.sim.fault(mode="none", ttft_ms=0, per_token_ms=0)[0], 200)
        self.assertEqual(self.sim.request("DELETE", "/_sim/requests")[0], 204)


class Anthropic(SimTestCase):
    def test_non_stream_message(self):
        body = anthropic_body()
        status, headers, msg = self.sim.json("POST", "/v1/messages", body, ANTHROPIC_HEADERS)
        self.assertEqual(status, 200, msg)
        self.assertTrue(headers["content-type"].startswith("application/json"))
        self.assertTrue(headers["request-id"].startswith("req_"))
        self.assertTrue(msg["id"].startswith("msg_"))
        self.assertEqual((msg["type"], msg["role"], msg["model"]), ("message", "assistant", "claude-sonnet-4-5"))
        answer = "Echo: hello PERSON_0 and EMAIL_1"
        self.assertEqual(msg["content"], [{"type": "text", "text": answer}])
        self.assertEqual(msg["stop_reason"], "end_turn")
        self.assertIsNone(msg["stop_sequence"])
        self.assertEqual(msg["usage"]["input_tokens"], tokens(len("You are terse.") + len(body["messages"][0]["content"])))
        self.assertEqual(msg["usage"]["output_tokens"], len(pieces(answer)))

    def test_stream_event_order_and_text(self):
        status, headers, data = self.sim.request("POST", "/v1/messages", anthropic_body(stream=True), ANTHROPIC_HEADERS)
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("text/event-stream"))
        self.assertEqual(headers.get("transfer-encoding"), "chunked")
        events = sse_events(data)
        names = [e for e, _ in events]
        answer = "Echo: hello PERSON_0 and EMAIL_1"
        n = len(pieces(answer))
        self.assertEqual(names, ANTHROPIC_EVENT_ORDER_PREFIX + ["content_block_delta"] * n +
                         ["content_block_stop", "message_delta", "message_stop"])
        payloads = [json.loads(d) for _, d in events]
        for name, payload in zip(names, payloads):
            self.assertEqual(payload["type"], name)
        start = payloads[0]["message"]
        self.assertEqual((start["role"], start["model"], start["content"], start["stop_reason"]),
                         ("assistant", "claude-sonnet-4-5", [], None))
        self.assertEqual(payloads[1]["content_block"], {"type": "text", "text": ""})
        deltas = [p["delta"] for p in payloads if p["type"] == "content_block_delta"]
        self.assertTrue(all(d["type"] == "text_delta" for d in deltas))
        self.assertEqual("".join(d["text"] for d in deltas), answer)
        final = payloads[-2]
        self.assertEqual(final["delta"], {"stop_reason": "end_turn", "stop_sequence": None})
        self.assertEqual(final["usage"]["output_tokens"], n)

    def test_max_tokens_and_stop_sequences(self):
        _, _, msg = self.sim.json("POST", "/v1/messages", anthropic_body("a b c d", max_tokens=2), ANTHROPIC_HEADERS)
        self.assertEqual(msg["content"][0]["text"], "Echo: a")
        self.assertEqual((msg["stop_reason"], msg["usage"]["output_tokens"]), ("max_tokens", 2))
        _, _, msg = self.sim.json("POST", "/v1/messages", anthropic_body("a b STOP c", stop_sequences=["STOP"]),
                                  ANTHROPIC_HEADERS)
        self.assertEqual(msg["content"][0]["text"], "Echo: a b ")
        self.assertEqual((msg["stop_reason"], msg["stop_sequence"]), ("stop_sequence", "STOP"))

    def test_tool_use(self):
        body = anthropic_body("please use tool now", tools=TOOL_ANTHROPIC)
        _, _, msg = self.sim.json("POST", "/v1/messages", body, ANTHROPIC_HEADERS)
        self.assertEqual(msg["stop_reason"], "tool_use")
        block = msg["content"][0]
        self.assertEqual((block["type"], block["name"], block["input"]), ("tool_use", "get_weather", {}))
        self.assertTrue(block["id"].startswith("toolu_"))
        # Streamed: a tool_use block whose input_json_delta pieces join to {}.
        _, _, data = self.sim.request("POST", "/v1/messages", dict(body, stream=True), ANTHROPIC_HEADERS)
        payloads = [json.loads(d) for _, d in sse_events(data)]
        self.assertEqual(payloads[1]["content_block"]["type"], "tool_use")
        partial = "".join(p["delta"]["partial_json"] for p in payloads if p["type"] == "content_block_delta")
        self.assertEqual(json.loads(partial), {})
        self.assertEqual(payloads[-2]["delta"]["stop_reason"], "tool_use")
        # A tool result is echoed, not answered with another call.
        follow = anthropic_body(tools=TOOL_ANTHROPIC)
        follow["messages"] = [{"role": "user", "content": "please use tool now"},
                              {"role": "assistant", "content": [dict(block)]},
                              {"role": "user", "content": [{"type": "tool_result", "tool_use_id": block["id"],
                                                            "content": "sunny, use tool again"}]}]
        _, _, msg = self.sim.json("POST", "/v1/messages", follow, ANTHROPIC_HEADERS)
        self.assertEqual(msg["stop_reason"], "end_turn")
        self.assertEqual(msg["content"][0]["text"], "Echo: sunny, use tool again")

    def test_deterministic(self):
        a = self.sim.json("POST", "/v1/messages", anthropic_body("same words"), ANTHROPIC_HEADERS)[2]
        b = self.sim.json("POST", "/v1/messages", anthropic_body("same words"), ANTHROPIC_HEADERS)[2]
        self.assertEqual((a["content"], a["usage"], a["stop_reason"]), (b["content"], b["usage"], b["stop_reason"]))

    def assertAnthropicError(self, status, body, want_status, want_type, mentions=None):
        self.assertEqual(status, want_status, body)
        self.assertEqual(body["type"], "error")
        self.assertEqual(body["error"]["type"], want_type)
        self.assertTrue(body["error"]["message"])
        if mentions:
            self.assertIn(mentions, body["error"]["message"])

    def test_errors_like_the_real_api(self):
        no_key = {k: v for k, v in ANTHROPIC_HEADERS.items() if k != "x-api-key"}
        status, _, body = self.sim.json("POST", "/v1/messages", anthropic_body(), no_key)
        self.assertAnthropicError(status, body, 401, "authentication_error")
        no_version = {k: v for k, v in ANTHROPIC_HEADERS.items() if k != "anthropic-version"}
        status, _, body = self.sim.json("POST", "/v1/messages", anthropic_body(), no_version)
        self.assertAnthropicError(status, body, 400, "invalid_request_error", "anthropic-version")
        without_max = anthropic_body()
        del without_max["max_tokens"]
        status, _, body = self.sim.json("POST", "/v1/messages", without_max, ANTHROPIC_HEADERS)
        self.assertAnthropicError(status, body, 400, "invalid_request_error", "max_tokens")
        without_messages = anthropic_body()
        del without_messages["messages"]
        status, _, body = self.sim.json("POST", "/v1/messages", without_messages, ANTHROPIC_HEADERS)
        self.assertAnthropicError(status, body, 400, "invalid_request_error", "messages")
        status, _, body = self.sim.json("POST", "/v1/messages", b'{"model": "x", ', ANTHROPIC_HEADERS)
        self.assertAnthropicError(status, body, 400, "invalid_request_error")
        status, _, body = self.sim.json("POST", "/v1/messages", anthropic_body(max_tokens="many"), ANTHROPIC_HEADERS)
        self.assertAnthropicError(status, body, 400, "invalid_request_error", "max_tokens")
        status, _, body = self.sim.json("POST", "/v1/messages", anthropic_body(temperature=1.5), ANTHROPIC_HEADERS)
        self.assertAnthropicError(status, body, 400, "invalid_request_error", "temperature")
        bad_role = anthropic_body()
        bad_role["messages"][0]["role"] = "system"
        status, _, body = self.sim.json("POST", "/v1/messages", bad_role, ANTHROPIC_HEADERS)
        self.assertAnthropicError(status, body, 400, "invalid_request_error", "role")

    def test_models_in_anthropic_shape(self):
        status, _, body = self.sim.json("GET", "/v1/models", None, ANTHROPIC_HEADERS)
        self.assertEqual(status, 200)
        self.assertFalse(body["has_more"])
        self.assertTrue(all(m["type"] == "model" and m["id"].startswith("claude") for m in body["data"]))


class OpenAICompatible(SimTestCase):
    def test_non_stream_completion(self):
        body = openai_body()
        status, _, c = self.sim.json("POST", "/v1/chat/completions", body, OPENAI_HEADERS)
        self.assertEqual(status, 200, c)
        self.assertTrue(c["id"].startswith("chatcmpl-"))
        self.assertEqual((c["object"], c["model"]), ("chat.completion", "gpt-4o-mini"))
        self.assertIsInstance(c["created"], int)
        choice = c["choices"][0]
        answer = "Echo: hello PERSON_0 and EMAIL_1"
        self.assertEqual((choice["index"], choice["message"]["role"], choice["message"]["content"], choice["finish_reason"]),
                         (0, "assistant", answer, "stop"))
        usage = c["usage"]
        self.assertEqual(usage["prompt_tokens"], tokens(len("You are terse.") + len(body["messages"][1]["content"])))
        self.assertEqual(usage["completion_tokens"], len(pieces(answer)))
        self.assertEqual(usage["total_tokens"], usage["prompt_tokens"] + usage["completion_tokens"])

    def test_stream_without_usage(self):
        status, headers, data = self.sim.request("POST", "/v1/chat/completions", openai_body(stream=True), OPENAI_HEADERS)
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("text/event-stream"))
        events = sse_events(data)
        self.assertTrue(all(e is None for e, _ in events))
        self.assertEqual(events[-1][1], "[DONE]")
        chunks = [json.loads(d) for _, d in events[:-1]]
        self.assertTrue(all(c["object"] == "chat.completion.chunk" and "usage" not in c for c in chunks))
        self.assertEqual(len({c["id"] for c in chunks}), 1)
        self.assertEqual(chunks[0]["choices"][0]["delta"]["role"], "assistant")
        text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
        self.assertEqual(text, "Echo: hello PERSON_0 and EMAIL_1")
        self.assertEqual(chunks[-1]["choices"][0]["finish_reason"], "stop")
        self.assertTrue(all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1]))

    def test_stream_with_include_usage(self):
        body = openai_body("a b c", stream=True, stream_options={"include_usage": True}, max_tokens=2)
        _, _, data = self.sim.request("POST", "/v1/chat/completions", body, OPENAI_HEADERS)
        events = sse_events(data)
        self.assertEqual(events[-1][1], "[DONE]")
        chunks = [json.loads(d) for _, d in events[:-1]]
        last = chunks[-1]
        self.assertEqual(last["choices"], [])
        self.assertEqual(last["usage"]["completion_tokens"], 2)
        self.assertTrue(all(c["usage"] is None for c in chunks[:-1]))
        self.assertEqual(chunks[-2]["choices"][0]["finish_reason"], "length")

    def test_tool_calls(self):
        body = openai_body("Use tool please", tools=TOOL_OPENAI)
        _, _, c = self.sim.json("POST", "/v1/chat/completions", body, OPENAI_HEADERS)
        choice = c["choices"][0]
        self.assertEqual(choice["finish_reason"], "tool_calls")
        call = choice["message"]["tool_calls"][0]
        self.assertEqual((call["type"], call["function"]["name"], json.loads(call["function"]["arguments"])),
                         ("function", "get_weather", {}))
        _, _, data = self.sim.request("POST", "/v1/chat/completions", dict(body, stream=True), OPENAI_HEADERS)
        chunks = [json.loads(d) for _, d in sse_events(data)[:-1]]
        args = "".join(tc["function"].get("arguments", "") for c in chunks
                       for tc in c["choices"][0]["delta"].get("tool_calls") or [])
        self.assertEqual(json.loads(args), {})
        self.assertEqual(chunks[-1]["choices"][0]["finish_reason"], "tool_calls")
        self.assertEqual(self.sim.json("POST", "/v1/chat/completions", dict(body, tool_choice="none"),
                                       OPENAI_HEADERS)[2]["choices"][0]["finish_reason"], "stop")

    def test_errors(self):
        status, _, body = self.sim.json("POST", "/v1/chat/completions", openai_body(), OLLAMA_HEADERS)
        self.assertEqual(status, 401)
        self.assertEqual(body["error"]["type"], "invalid_request_error")
        no_messages = openai_body()
        del no_messages["messages"]
        status, _, body = self.sim.json("POST", "/v1/chat/completions", no_messages, OPENAI_HEADERS)
        self.assertEqual(status, 400)
        self.assertEqual(set(body["error"]), {"message", "type", "param", "code"})
        self.assertEqual(body["error"]["param"], "messages")
        status, _, body = self.sim.json("POST", "/v1/chat/completions", b"{nope", OPENAI_HEADERS)
        self.assertEqual((status, body["error"]["type"]), (400, "invalid_request_error"))
        status, _, body = self.sim.json("POST", "/v1/chat/completions", openai_body(stream_options={"include_usage": True}),
                                        OPENAI_HEADERS)
        self.assertEqual(status, 400)
        self.assertEqual(self.sim.json("POST", "/v1/chat/completions", openai_body(max_tokens="x"), OPENAI_HEADERS)[0], 400)

    def test_embeddings(self):
        status, _, e = self.sim.json("POST", "/v1/embeddings", {"model": "text-embedding-3-small",
                                                                "input": ["alpha beta", "gamma"]}, OPENAI_HEADERS)
        self.assertEqual(status, 200, e)
        self.assertEqual((e["object"], e["model"]), ("list", "text-embedding-3-small"))
        self.assertEqual([d["index"] for d in e["data"]], [0, 1])
        for d in e["data"]:
            self.assertEqual(d["object"], "embedding")
            self.assertEqual(len(d["embedding"]), 1536)
            self.assertAlmostEqual(norm(d["embedding"]), 1.0, places=4)
        self.assertEqual(e["usage"]["prompt_tokens"], tokens(10) + tokens(5))
        again = self.sim.json("POST", "/v1/embeddings", {"model": "m", "input": "alpha beta"}, OPENAI_HEADERS)[2]
        self.assertEqual(again["data"][0]["embedding"], e["data"][0]["embedding"])
        small = self.sim.json("POST", "/v1/embeddings", {"model": "m", "input": "x", "dimensions": 256}, OPENAI_HEADERS)[2]
        self.assertEqual(len(small["data"][0]["embedding"]), 256)
        b64 = self.sim.json("POST", "/v1/embeddings", {"model": "m", "input": "alpha beta", "encoding_format": "base64"},
                            OPENAI_HEADERS)[2]
        raw = base64.b64decode(b64["data"][0]["embedding"])
        floats = struct.unpack(f"<{len(raw) // 4}f", raw)
        self.assertEqual(len(floats), 1536)
        for got, want in zip(floats, e["data"][0]["embedding"]):
            self.assertAlmostEqual(got, want, places=6)
        self.assertEqual(self.sim.json("POST", "/v1/embeddings", {"model": "m", "input": ""}, OPENAI_HEADERS)[0], 400)

    def test_models_in_openai_shape(self):
        status, _, body = self.sim.json("GET", "/v1/models", None, OPENAI_HEADERS)
        self.assertEqual((status, body["object"]), (200, "list"))
        self.assertTrue(all(m["object"] == "model" for m in body["data"]))


class AzureOpenAI(SimTestCase):
    def test_chat_uses_the_deployment(self):
        body = openai_body()
        del body["model"]
        status, _, c = self.sim.json("POST", AZURE_CHAT, body, AZURE_HEADERS)
        self.assertEqual(status, 200, c)
        self.assertEqual(c["model"], "gpt4o-prod")
        self.assertEqual(c["choices"][0]["message"]["content"], "Echo: hello PERSON_0 and EMAIL_1")
        self.assertIn("prompt_filter_results", c)
        # Entra ID bearer tokens are accepted too.
        self.assertEqual(self.sim.request("POST", AZURE_CHAT, body, {"authorization": "Bearer entra-token"})[0], 200)

    def test_stream(self):
        body = openai_body(stream=True, stream_options={"include_usage": True})
        _, _, data = self.sim.request("POST", AZURE_CHAT, body, AZURE_HEADERS)
        events = sse_events(data)
        self.assertEqual(events[-1][1], "[DONE]")
        chunks = [json.loads(d) for _, d in events[:-1]]
        self.assertEqual(chunks[0]["choices"], [])  # Azure's prompt filter results come first
        self.assertIn("prompt_filter_results", chunks[0])
        text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks[1:-1])
        self.assertEqual(text, "Echo: hello PERSON_0 and EMAIL_1")
        self.assertEqual(chunks[-1]["usage"]["completion_tokens"], len(pieces(text)))

    def test_api_version_and_key_required(self):
        path = AZURE_CHAT.split("?")[0]
        status, _, body = self.sim.json("POST", path, openai_body(), AZURE_HEADERS)
        self.assertEqual(status, 404)
        self.assertEqual(set(body["error"]), {"code", "message"})
        self.assertEqual(self.sim.request("POST", path + "?api-version=latest", openai_body(), AZURE_HEADERS)[0], 400)
        status, _, body = self.sim.json("POST", AZURE_CHAT, openai_body(), {"content-type": "application/json"})
        self.assertEqual((status, body["error"]["code"]), (401, "401"))

    def test_embeddings(self):
        status, _, e = self.sim.json("POST", AZURE_EMBED, {"input": "hello"}, AZURE_HEADERS)
        self.assertEqual(status, 200, e)
        self.assertEqual(e["model"], "embed-prod")
        self.assertEqual(len(e["data"][0]["embedding"]), 1536)


class Ollama(SimTestCase):
    def test_chat_streams_ndjson_by_default(self):
        status, headers, data = self.sim.request("POST", "/api/chat", ollama_body(), OLLAMA_HEADERS)
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "application/x-ndjson")
        lines = data.decode().splitlines()
        objs = [json.loads(line) for line in lines]
        self.assertTrue(all(not o["done"] for o in objs[:-1]))
        last = objs[-1]
        self.assertTrue(last["done"])
        self.assertEqual(last["done_reason"], "stop")
        answer = "Echo: hello PERSON_0 and EMAIL_1"
        self.assertEqual("".join(o["message"]["content"] for o in objs), answer)
        self.assertEqual(last["eval_count"], len(pieces(answer)))
        self.assertEqual(last["prompt_eval_count"], tokens(len("hello PERSON_0 and EMAIL_1")))
        for key in ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration"):
            self.assertIsInstance(last[key], int)

    def test_chat_non_stream(self):
        status, _, o = self.sim.json("POST", "/api/chat", ollama_body("x y z", stream=False, options={"num_predict": 2}),
                                     OLLAMA_HEADERS)
        self.assertEqual(status, 200)
        self.assertEqual((o["model"], o["done"], o["done_reason"]), ("llama3.2", True, "length"))
        self.assertEqual(o["message"], {"role": "assistant", "content": "Echo: x"})
        self.assertEqual(o["eval_count"], 2)

    def test_tool_calls(self):
        _, _, o = self.sim.json("POST", "/api/chat", ollama_body("use tool", stream=False, tools=TOOL_OPENAI),
                                OLLAMA_HEADERS)
        self.assertEqual(o["message"]["tool_calls"], [{"function": {"name": "get_weather", "arguments": {}}}])

    def test_embed_768_dimensions(self):
        status, _, o = self.sim.json("POST", "/api/embed", {"model": "nomic-embed-text", "input": ["a b", "c"]},
                                     OLLAMA_HEADERS)
        self.assertEqual(status, 200, o)
        self.assertEqual(len(o["embeddings"]), 2)
        for v in o["embeddings"]:
            self.assertEqual(len(v), 768)
            self.assertAlmostEqual(norm(v), 1.0, places=4)
        again = self.sim.json("POST", "/api/embed", {"model": "nomic-embed-text", "input": "a b"}, OLLAMA_HEADERS)[2]
        self.assertEqual(again["embeddings"][0], o["embeddings"][0])

    def test_tags_and_errors(self):
        status, _, o = self.sim.json("GET", "/api/tags")
        self.assertEqual(status, 200)
        self.assertTrue(all("name" in m and "details" in m for m in o["models"]))
        status, _, o = self.sim.json("POST", "/api/chat", {"messages": []}, OLLAMA_HEADERS)
        self.assertEqual((status, o), (400, {"error": "model is required"}))
        status, _, o = self.sim.json("POST", "/api/chat", b"{bad", OLLAMA_HEADERS)
        self.assertEqual(status, 400)
        self.assertEqual(set(o), {"error"})


class RequestLog(SimTestCase):
    def test_records_without_credentials(self):
        sent = json.dumps(anthropic_body("remember PERSON_0")).encode()
        self.sim.request("POST", "/v1/messages", sent, dict(ANTHROPIC_HEADERS, **{"X-Trace": "t1"}))
        self.sim.request("POST", AZURE_CHAT, openai_body(), AZURE_HEADERS)
        self.sim.request("POST", "/v1/chat/completions", openai_body(), OPENAI_HEADERS)
        self.sim.request("GET", "/_sim/faults")  # control requests are not recorded
        status, _, log = self.sim.json("GET", "/_sim/requests")
        self.assertEqual(status, 200)
        reqs = log["requests"]
        self.assertEqual([r["path"] for r in reqs],
                         ["/v1/messages", "/openai/deployments/gpt4o-prod/chat/completions", "/v1/chat/completions"])
        first = reqs[0]
        self.assertEqual(first["method"], "POST")
        self.assertEqual(first["body"], sent.decode())
        self.assertEqual(first["headers"]["anthropic-version"], "2023-06-01")
        self.assertEqual(first["headers"]["x-trace"], "t1")
        self.assertRegex(first["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertEqual(reqs[1]["query"], "api-version=2024-10-21")
        for r in reqs:
            for secret in ("authorization", "x-api-key", "api-key"):
                self.assertNotIn(secret, r["headers"])
        raw = json.dumps(log)
        for secret in ("sk-ant-secret", "azure-secret", "sk-openai-secret"):
            self.assertNotIn(secret, raw)
        self.assertEqual(self.sim.request("DELETE", "/_sim/requests")[0], 204)
        self.assertEqual(self.sim.json("GET", "/_sim/requests")[2], {"requests": []})


class Faults(SimTestCase):
    def anthropic(self, timeout=10, **extra):
        return self.sim.request("POST", "/v1/messages", anthropic_body(**extra), ANTHROPIC_HEADERS, timeout)

    def test_status_429_with_retry_after_per_protocol(self):
        self.assertEqual(self.sim.fault(mode="status_429", count=4)[0], 200)
        status, headers, data = self.anthropic()
        self.assertEqual((status, headers.get("retry-after")), (429, "1"))
        body = json.loads(data)
        self.assertEqual((body["type"], body["error"]["type"]), ("error", "rate_limit_error"))
        status, headers, data = self.sim.request("POST", "/v1/chat/completions", openai_body(), OPENAI_HEADERS)
        self.assertEqual((status, headers.get("retry-after")), (429, "1"))
        self.assertEqual(json.loads(data)["error"]["code"], "rate_limit_exceeded")
        status, headers, data = self.sim.request("POST", AZURE_CHAT, openai_body(), AZURE_HEADERS)
        self.assertEqual((status, headers.get("retry-after")), (429, "1"))
        self.assertEqual(json.loads(data)["error"]["code"], "429")
        status, headers, data = self.sim.request("POST", "/api/chat", ollama_body(), OLLAMA_HEADERS)
        self.assertEqual(status, 429)
        self.assertIn("error", json.loads(data))
        self.assertEqual(self.anthropic()[0], 200)  # the count is used up

    def test_status_500_and_503(self):
        self.sim.fault(mode="status_500", count=1)
        status, _, data = self.anthropic()
        self.assertEqual((status, json.loads(data)["error"]["type"]), (500, "api_error"))
        self.sim.fault(mode="status_503", count=1)
        status, headers, data = self.anthropic()
        self.assertEqual((status, json.loads(data)["error"]["type"]), (503, "overloaded_error"))
        self.assertEqual(headers.get("retry-after"), "1")
        self.sim.fault(mode="status_500", count=1)
        status, _, data = self.sim.request("POST", "/v1/chat/completions", openai_body(), OPENAI_HEADERS)
        self.assertEqual((status, json.loads(data)["error"]["type"]), (500, "server_error"))

    def test_reset(self):
        self.sim.fault(mode="reset", count=1)
        with self.assertRaises((ConnectionError, http.client.HTTPException)):
            self.anthropic()
        self.assertEqual(self.anthropic()[0], 200)

    def test_hang_until_client_gives_up(self):
        self.sim.fault(mode="hang", count=1)
        started = time.time()
        with self.assertRaises((TimeoutError, socket.timeout)):
            self.anthropic(timeout=1)
        self.assertGreaterEqual(time.time() - started, 0.9)
        self.assertEqual(self.anthropic()[0], 200)
        # The hung request was recorded like any other.
        self.assertEqual(len(self.sim.json("GET", "/_sim/requests")[2]["requests"]), 2)

    def read_stream(self, path, body, headers):
        """Reads a streamed (chunked) body over a raw socket; (lines, error or None).

        A body counts as truncated when the connection ends before the
        terminating zero-length chunk, whether by FIN or by reset."""
        payload = json.dumps(body).encode()
        head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close",
                f"Content-Length: {len(payload)}"] + [f"{k}: {v}" for k, v in headers.items()]
        raw, error = b"", None
        with socket.create_connection(("127.0.0.1", self.sim.port), timeout=10) as s:
            s.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    raw += chunk
            except ConnectionError as e:
                error = e
        header_end = raw.find(b"\r\n\r\n")
        self.assertTrue(raw.startswith(b"HTTP/1.1 200"), raw[:200])
        rest, body_bytes, complete = raw[header_end + 4:], b"", False
        while True:
            line_end = rest.find(b"\r\n")
            if line_end < 0:
                break
            size = int(rest[:line_end].split(b";")[0], 16)
            if size == 0:
                complete = True
                break
            if len(rest) < line_end + 2 + size:
                body_bytes += rest[line_end + 2:]
                break
            body_bytes += rest[line_end + 2:line_end + 2 + size]
            rest = rest[line_end + 2 + size + 2:]
        if not complete and error is None:
            error = http.client.IncompleteRead(body_bytes)
        lines = body_bytes.decode("utf-8", "replace").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        return lines, error

    def test_truncate_stream_never_sends_the_final_event(self):
        self.sim.fault(mode="truncate", count=1, per_token_ms=30)
        lines, error = self.read_stream("/v1/messages", anthropic_body("one two three four five", stream=True),
                                        ANTHROPIC_HEADERS)
        self.assertIsNotNone(error, lines)
        self.assertIn("event: message_start", lines)
        self.assertNotIn("event: message_stop", lines)
        # The same request then completes.
        lines, error = self.read_stream("/v1/messages", anthropic_body("one two three four five", stream=True),
                                        ANTHROPIC_HEADERS)
        self.assertIsNone(error)
        self.assertIn("event: message_stop", lines)

    def test_truncate_openai_and_ollama_streams(self):
        self.sim.fault(mode="truncate", count=2, per_token_ms=30)
        lines, error = self.read_stream("/v1/chat/completions", openai_body("a b c d e", stream=True), OPENAI_HEADERS)
        self.assertIsNotNone(error)
        self.assertNotIn("data: [DONE]", lines)
        lines, error = self.read_stream("/api/chat", ollama_body("a b c d e"), OLLAMA_HEADERS)
        self.assertIsNotNone(error)
        self.assertFalse(any(json.loads(line).get("done") for line in lines if line))

    def test_truncate_non_stream_body(self):
        self.sim.fault(mode="truncate", count=1)
        with self.assertRaises((http.client.IncompleteRead, ConnectionError)):
            self.anthropic()

    def test_garbage(self):
        self.sim.fault(mode="garbage", count=3)
        status, _, data = self.anthropic()
        self.assertEqual(status, 200)
        with self.assertRaises(json.JSONDecodeError):
            json.loads(data)
        # Streams carry one malformed data line.
        status, _, data = self.sim.request("POST", "/v1/chat/completions", openai_body(stream=True), OPENAI_HEADERS)
        self.assertEqual(status, 200)
        bad = 0
        for _, d in sse_events(data):
            if d == "[DONE]":
                continue
            try:
                json.loads(d)
            except json.JSONDecodeError:
                bad += 1
        self.assertEqual(bad, 1)
        status, _, data = self.sim.request("POST", "/api/chat", ollama_body(), OLLAMA_HEADERS)
        bad = 0
        for line in data.decode().splitlines():
            try:
                json.loads(line)
            except json.JSONDecodeError:
                bad += 1
        self.assertEqual(bad, 1)
        self.assertEqual(json.loads(self.anthropic()[2])["type"], "message")

    def outcomes(self, n):
        return [self.sim.request("GET", "/api/tags")[0] for _ in range(n)]

    def test_count_versus_rate(self):
        self.sim.fault(mode="status_500", count=3)
        self.assertEqual(self.outcomes(5), [500, 500, 500, 200, 200])
        status, body = self.sim.fault(mode="status_500", rate=0.5, seed=7)
        self.assertEqual((status, body["rate"], body["seed"]), (200, 0.5, 7))
        first = self.outcomes(40)
        self.sim.fault(mode="status_500", rate=0.5, seed=7)
        second = self.outcomes(40)
        self.assertEqual(first, second)  # a seeded, repeatable sequence
        self.assertTrue(8 <= first.count(500) <= 32, first)
        self.sim.fault(mode="status_500", rate=0)
        self.assertEqual(set(self.outcomes(10)), {200})
        self.sim.fault(mode="status_500", rate=1)
        self.assertEqual(set(self.outcomes(10)), {500})
        # Control endpoints are never faulted.
        self.assertEqual(self.sim.request("GET", "/_sim/requests")[0], 200)
        self.sim.fault(mode="none")
        self.assertEqual(set(self.outcomes(3)), {200})

    def test_bad_fault_settings(self):
        for settings in ({"mode": "explode", "count": 1}, {"mode": "reset", "count": 1, "rate": 0.5},
                         {"mode": "reset"}, {"mode": "reset", "rate": 1.5}, {"mode": "reset", "count": "x"},
                         {"mode": "reset", "count": 1, "bogus": 1}):
            status, body = self.sim.fault(**settings)
            self.assertEqual(status, 400, settings)
            self.assertIn("message", body["error"])
        self.assertEqual(self.sim.json("GET", "/_sim/faults")[2]["mode"], "none")


class Latency(SimTestCase):
    sim_args = ("--ttft-ms", "300", "--per-token-ms", "50")

    def setUp(self):
        pass  # keep the latency given on the command line

    def test_command_line_latency(self):
        started = time.time()
        _, _, msg = self.sim.json("POST", "/v1/messages", anthropic_body("a b c"), ANTHROPIC_HEADERS)
        elapsed = time.time() - started
        self.assertEqual(msg["usage"]["output_tokens"], 4)
        self.assertGreaterEqual(elapsed, 0.3 + 3 * 0.05 - 0.02)

    def test_stream_pacing_and_runtime_knobs(self):
        self.sim.fault(ttft_ms=200, per_token_ms=100)
        try:
            conn = self.sim.connection(10)
            started = time.time()
            conn.request("POST", "/api/chat", body=json.dumps(ollama_body("a b")).encode(), headers=OLLAMA_HEADERS)
            resp = conn.getresponse()
            arrivals = []
            while True:
                line = resp.readline()
                if not line:
                    break
                arrivals.append(time.time() - started)
            conn.close()
            self.assertEqual(len(arrivals), 4)  # "Echo:", " a", " b", done
            self.assertGreaterEqual(arrivals[0], 0.18)
            self.assertGreaterEqual(arrivals[2] - arrivals[0], 0.18)
        finally:
            self.sim.fault(ttft_ms=300, per_token_ms=50)


class Lifecycle(unittest.TestCase):
    def test_sigterm_releases_hung_requests_and_exits_0(self):
        sim = Sim()
        try:
            self.assertIn("simulator", sim.log().lower())
            sim.fault(mode="hang", count=1)
            errors = []

            def call():
                try:
                    sim.request("POST", "/api/tags", timeout=30)
                except Exception as e:  # noqa: BLE001 - any failure is what we want
                    errors.append(e)

            t = threading.Thread(target=call)
            t.start()
            # The simulator records a request before it applies the fault: once it is in the log, it hangs.
            wait_until(lambda: sim.json("GET", "/_sim/requests")[2]["requests"], 10, "the request to reach the simulator")
            started = time.time()
            sim.proc.send_signal(signal.SIGTERM)
            t.join(10)
            self.assertFalse(t.is_alive())
            self.assertEqual(len(errors), 1)
            self.assertEqual(sim.proc.wait(10), 0)
            self.assertLess(time.time() - started, 5)
            self.assertIn('"event":"sim_listening"', sim.log())
        finally:
            self.assertIsNone(sim.cleanup())

    def test_bad_listen_address(self):
        result = subprocess.run([AEGIS_BIN, "sim", "--listen", "nonsense"], capture_output=True, timeout=10)
        self.assertEqual(result.returncode, 2)


if __name__ == "__main__":
    unittest.main()
