"""End-to-end governance through the real binary (`aegis serve --demo`).

Each request goes through the whole pipeline: classify -> mask for cloud ->
route -> budget preflight -> breakers + fallback (anthropic -> azure -> ollama)
-> egress guard -> restore -> audit row + metrics -> reconcile. What the
simulated upstreams actually received is read back from
/admin/v1/demo/upstream-log, so "never left the machine" is checked on the
bytes the cloud simulators saw, not on what the gateway says it did.

GovernancePipeline shares one gateway between its tests; every request it
sends is registered with what it should have produced, and the `test_zz_*`
tests (unittest runs methods in name order) check the audit trail and the
metrics for all of them. Breakers are disabled there (`failure_threshold:
1000`) so that injected faults only change the request they were meant for.
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import unittest
import uuid

from aegis_harness import DemoUpstreams, Gateway, GatewayTestCase, parse_metrics, route_of, wait_until

CONFIG = """
resilience:
  failure_threshold: 1000
"""

SIN = "046 454 286"
CARD = "4111 1111 1111 1111"
NAME = "Jennifer Walsh"
EMAIL = "jennifer.walsh@acme-mail.com"
RESTRICTED_DIGITS = ("046454286", "4111111111111111")
PROMPT_VALUES = (SIN, CARD, NAME, EMAIL, "046-454-286", "4111-1111-1111-1111") + RESTRICTED_DIGITS
CLOUD = ("anthropic", "azure")
SEPARATORS = re.compile(r"[\s\-.\u00a0\u2009\u202f_/]|\\u00a0|\\n|\\t")


def digits_only(text):
    """The text with the separators a number may be written with removed."""
    return SEPARATORS.sub("", text)


def new_request_id():
    return "req_e2e_" + uuid.uuid4().hex[:16]


def openai_text(data):
    """The assistant text of an OpenAI SSE stream, and whether it ended with [DONE]."""
    text, done = "", False
    for block in data.decode().split("\n\n"):
        block = block.strip()
        if not block.startswith("data: "):
            continue
        payload = block[len("data: "):]
        if payload == "[DONE]":
            done = True
            continue
        event = json.loads(payload)
        for choice in event.get("choices", []):
            text += choice.get("delta", {}).get("content") or ""
    return text, done


def anthropic_text(data):
    """The text of an Anthropic SSE stream, and the event names in order."""
    text, events = "", []
    for block in data.decode().split("\n\n"):
        lines = [l for l in block.strip().split("\n") if l]
        if not lines:
            continue
        name = lines[0][len("event: "):] if lines[0].startswith("event: ") else ""
        events.append(name)
        data_line = next((l for l in lines if l.startswith("data: ")), None)
        if name == "content_block_delta" and data_line:
            delta = json.loads(data_line[len("data: "):])["delta"]
            if delta.get("type") == "text_delta":
                text += delta["text"]
    return text, events




def series_of(samples, name, **labels):
    want = set(labels.items())
    return {k: v for k, v in samples.items() if k[0] == name and want <= set(k[1])}


def promtool():
    path = "/usr/bin/promtool"
    return path if os.access(path, os.X_OK) else shutil.which("promtool")


class Governed(DemoUpstreams):
    """Helpers shared by the classes below; `gw` is the class's gateway."""

    def make_team(self, name, budget):
        status, body = self.gw.admin("POST", "/admin/v1/teams", {"name": name, "monthly_budget_usd": budget})
        self.assertEqual(status, 201, body)
        status, created = self.gw.admin("POST", "/admin/v1/keys", {"team": name})
        self.assertEqual(status, 201, created)
        return created["key"]

    def send(self, key, path, body, headers=None, request_id=None):
        """POSTs as the key's team; returns (status, headers with UTF-8 values, body bytes, request id)."""
        request_id = request_id or new_request_id()
        hdrs = {"authorization": f"Bearer {key}", "x-request-id": request_id}
        hdrs.update(headers or {})
        status, got, data = self.gw.request("POST", path, body, hdrs, timeout=30)
        # http.client decodes header bytes as Latin-1; the route reason holds UTF-8 arrows.
        got = {k: v.encode("latin-1").decode("utf-8", "replace") for k, v in got.items()}
        self.assertEqual(got.get("x-request-id"), request_id)
        return status, got, data, request_id

    def cloud_requests(self):
        return [r for r in self.upstream_log() if r["locality"] == "cloud"]

    def assertNoRestrictedAtCloud(self):
        cloud = self.cloud_requests()
        for r in cloud:
            self.assertIn(r["provider"], CLOUD, r)
            flat = digits_only(r["body"])
            for digits in RESTRICTED_DIGITS:
                self.assertNotIn(digits, flat, f"RESTRICTED digits reached {r['provider']}: {r['body'][:500]}")
        return cloud

    def spend(self, team):
        status, body = self.gw.admin("GET", f"/admin/v1/teams/{team}/spend")
        self.assertEqual(status, 200, body)
        return body

    def metrics_text(self):
        status, _, data = self.gw.request("GET", "/metrics")
        self.assertEqual(status, 200)
        return data.decode()

    def audit_rows(self, team, want_ids, timeout=5.0):
        """The team's audit rows (raw JSON text, parsed rows), polling until every wanted id is there."""
        last = {}

        def all_there():
            status, _, data = self.gw.request("GET", f"/admin/v1/audit?team={team}&limit=1000",
                                              headers={"authorization": f"Bearer {self.gw.admin_key}"})
            self.assertEqual(status, 200, data)
            rows = json.loads(data)["data"]
            last["found"] = (data.decode(), rows)
            return set(want_ids) <= {r["request_id"] for r in rows}

        try:
            wait_until(all_there, timeout, f"audit rows of {team} for {sorted(want_ids)}")
        except AssertionError:
            pass  # the caller's assertions say which row is missing
        return last["found"]


class GovernancePipeline(Governed, GatewayTestCase):
    # The demo upstream log keeps the last 200 requests per simulator: this class stays well below that,
    # so "never reached a cloud upstream" is checked against everything the class sent.
    gateway_args = ("--demo",)
    config_text = CONFIG

    # request id -> what its audit row must say (filled in by every test).
    expected = {}
    # team -> key
    keys = {}
    # Sends the egress guard stopped (aegis_pipeda_blocked_total must count them).
    egress_blocked_requests = 0

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.expected = {}
        cls.keys = {}
        cls.egress_blocked_requests = 0

    def key(self, team, budget=50):
        if team not in self.keys:
            self.keys[team] = self.make_team(team, budget)
        return self.keys[team]

    def expect(self, request_id, team, status, headers, **fields):
        row = {"team": team, "status": status}
        if "x-aegis-classification" in headers:
            row["classification"] = headers["x-aegis-classification"]
        if "x-aegis-route" in headers and status == 200:
            route = route_of(headers)
            row.update(provider=route["provider"], model=route["model"], tier=route["tier"], reason=route["reason"])
        if "x-aegis-cost-usd" in headers:
            row["cost_usd"] = float(headers["x-aegis-cost-usd"])
        row.update(fields)
        self.expected[request_id] = row

    # ---- 1. RESTRICTED data never reaches a cloud upstream ------------------------------------

    RESTRICTED_CASES = [
        ("openai user SIN", "/v1/chat/completions",
         {"model": "sonnet", "messages": [{"role": "user", "content": f"My SIN is {SIN}, please file my taxes."}]}),
        ("openai user card", "/v1/chat/completions",
         {"model": "auto", "messages": [{"role": "user", "content": f"Charge card {CARD} for the renewal."}]}),
        ("openai user card with dashes", "/v1/chat/completions",
         {"model": "haiku", "messages": [{"role": "user", "content": "card 4111-1111-1111-1111 please"}]}),
        ("openai system SIN", "/v1/chat/completions",
         {"model": "sonnet", "messages": [{"role": "system", "content": f"Customer SIN: {SIN}."},
                                          {"role": "user", "content": "Summarise the customer profile."}]}),
        ("openai assistant history card", "/v1/chat/completions",
         {"model": "sonnet", "messages": [{"role": "user", "content": "What card do you have on file?"},
                                          {"role": "assistant", "content": f"The card on file is {CARD}."},
                                          {"role": "user", "content": "Thanks, go on."}]}),
        ("openai tool result SIN", "/v1/chat/completions",
         {"model": "sonnet",
          "tools": [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}],
          "messages": [{"role": "user", "content": "Look the customer up."},
                       {"role": "assistant", "content": None, "tool_calls": [
                           {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}]},
                       {"role": "tool", "tool_call_id": "call_1", "content": f"customer found, SIN {SIN}"},
                       {"role": "user", "content": "What did you find?"}]}),
        ("openai tool call arguments card", "/v1/chat/completions",
         {"model": "sonnet",
          "tools": [{"type": "function", "function": {"name": "charge", "parameters": {"type": "object"}}}],
          "messages": [{"role": "user", "content": "Charge the customer."},
                       {"role": "assistant", "content": None, "tool_calls": [
                           {"id": "call_2", "type": "function",
                            "function": {"name": "charge", "arguments": json.dumps({"card": CARD, "amount": 12})}}]},
                       {"role": "tool", "tool_call_id": "call_2", "content": "charged"},
                       {"role": "user", "content": "Confirm it."}]}),
        ("openai tool call arguments SIN", "/v1/chat/completions",
         {"model": "sonnet",
          "tools": [{"type": "function", "function": {"name": "file_taxes", "parameters": {"type": "object"}}}],
          "messages": [{"role": "user", "content": "File the return."},
                       {"role": "assistant", "content": None, "tool_calls": [
                           {"id": "call_3", "type": "function",
                            "function": {"name": "file_taxes", "arguments": json.dumps({"SIN": SIN})}}]},
                       {"role": "tool", "tool_call_id": "call_3", "content": "filed"},
                       {"role": "user", "content": "Done?"}]}),
        ("openai explicit cloud model", "/v1/chat/completions",
         {"model": "claude-opus-4-1", "messages": [{"role": "user", "content": f"Refund to {CARD}"}]}),
        ("openai provider/model cloud", "/v1/chat/completions",
         {"model": "azure/gpt-4o", "messages": [{"role": "user", "content": f"SIN {SIN} for the form"}]}),
        ("openai streaming SIN", "/v1/chat/completions",
         {"model": "sonnet", "stream": True, "messages": [{"role": "user", "content": f"My SIN: {SIN}"}]}),
        ("anthropic system SIN", "/v1/messages",
         {"model": "sonnet", "max_tokens": 100, "system": f"The caller's SIN is {SIN}.",
          "messages": [{"role": "user", "content": "Who is calling?"}]}),
        ("anthropic user blocks card", "/v1/messages",
         {"model": "claude-sonnet-4-5", "max_tokens": 100,
          "messages": [{"role": "user", "content": [{"type": "text", "text": "Charge this:"},
                                                    {"type": "text", "text": CARD}]}]}),
        ("anthropic tool_use input SIN", "/v1/messages",
         {"model": "sonnet", "max_tokens": 100,
          "tools": [{"name": "lookup", "description": "find a customer", "input_schema": {"type": "object"}}],
          "messages": [{"role": "user", "content": "Look the customer up."},
                       {"role": "assistant", "content": [
                           {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"sin": SIN}}]},
                       {"role": "user", "content": [
                           {"type": "tool_result", "tool_use_id": "toolu_1", "content": "no match"}]}]}),
        ("anthropic tool_result card", "/v1/messages",
         {"model": "sonnet", "max_tokens": 100,
          "tools": [{"name": "wallet", "description": "read the wallet", "input_schema": {"type": "object"}}],
          "messages": [{"role": "user", "content": "Read the wallet."},
                       {"role": "assistant", "content": [
                           {"type": "tool_use", "id": "toolu_2", "name": "wallet", "input": {}}]},
                       {"role": "user", "content": [
                           {"type": "tool_result", "tool_use_id": "toolu_2",
                            "content": [{"type": "text", "text": f"visa {CARD}"}]}]}]}),
        ("anthropic streaming SIN", "/v1/messages",
         {"model": "opus", "max_tokens": 100, "stream": True,
          "messages": [{"role": "user", "content": f"Please verify SIN {SIN}"}]}),
    ]

    def test_restricted_data_in_every_position_is_answered_by_ollama_only(self):
        key = self.key("restricted")
        local_before = len([r for r in self.upstream_log() if r["provider"] == "ollama"])
        for label, path, body in self.RESTRICTED_CASES:
            with self.subTest(label):
                headers = {"x-aegis-task": "security_audit"} if body["model"] == "auto" else {}
                status, headers, data, rid = self.send(key, path, body, headers)
                self.assertEqual(status, 200, data)
                self.assertEqual(headers["x-aegis-classification"], "RESTRICTED")
                route = route_of(headers)
                self.assertEqual(route["provider"], "ollama", headers["x-aegis-route"])
                self.assertIn("restricted→local-only", route["reason"])
                if body.get("stream"):
                    self.assertIn(b"Echo", data)
                self.expect(rid, "restricted", 200, headers, locality="local", entity_types={"CA_SIN", "CREDIT_CARD"})
        self.assertNoRestrictedAtCloud()
        # Positive control: the values really were in the requests (the local model got them).
        local = [r for r in self.upstream_log() if r["provider"] == "ollama"][local_before:]
        self.assertEqual(len(local), len(self.RESTRICTED_CASES))
        for r in local:
            self.assertTrue(any(d in digits_only(r["body"]) for d in RESTRICTED_DIGITS), r["body"][:300])

    def test_restricted_data_with_ollama_down_is_503_and_never_spills_to_cloud(self):
        key = self.key("restricted")
        cloud_before = len(self.cloud_requests())
        self.fault("ollama", "status_503", 1000)
        try:
            cases = [
                ("/v1/chat/completions", {"model": "sonnet", "messages": [{"role": "user", "content": f"SIN {SIN}"}]}),
                ("/v1/chat/completions", {"model": "gpt-4o", "stream": True,
                                          "messages": [{"role": "user", "content": f"pay with {CARD}"}]}),
                ("/v1/messages", {"model": "haiku", "max_tokens": 50,
                                  "messages": [{"role": "user", "content": f"my SIN is {SIN}"}]}),
                ("/v1/messages", {"model": "opus", "max_tokens": 50, "stream": True,
                                  "messages": [{"role": "user", "content": f"card {CARD}"}]}),
            ]
            for path, body in cases:
                with self.subTest(path=path, stream=body.get("stream", False)):
                    status, headers, data, rid = self.send(key, path, body)
                    self.assertError(status, data, 503, "no_local_provider")
                    self.assertEqual(headers.get("x-aegis-classification"), "RESTRICTED")
                    self.expect(rid, "restricted", 503, headers, error_type="no_local_provider",
                                classification="RESTRICTED", cost_usd=0)
        finally:
            self.fault("ollama", "none")
        self.assertEqual(len(self.cloud_requests()), cloud_before, "a RESTRICTED request reached a cloud upstream")
        self.assertNoRestrictedAtCloud()

    # Request parts outside the messages that are still sent upstream. Today the classifier only
    # reads system, message text and tool-call arguments, so these are not classified.
    OUTSIDE_MESSAGES = [
        ("openai tool description", "/v1/chat/completions",
         {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}],
          "tools": [{"type": "function", "function": {"name": "f", "description": "default card {v}",
                                                      "parameters": {"type": "object"}}}]}),
        ("openai tool parameter default", "/v1/chat/completions",
         {"model": "sonnet", "messages": [{"role": "user", "content": "hi"}],
          "tools": [{"type": "function", "function": {"name": "f", "parameters": {
              "type": "object", "properties": {"card": {"type": "string", "default": "{v}"}}}}}]}),
        ("openai stop", "/v1/chat/completions",
         {"model": "gpt-4o", "stop": ["{v}"], "messages": [{"role": "user", "content": "hi"}]}),
        ("openai user", "/v1/chat/completions",
         {"model": "gpt-4o", "user": "{v}", "messages": [{"role": "user", "content": "hi"}]}),
        ("openai metadata", "/v1/chat/completions",
         {"model": "gpt-4o", "metadata": {"owner": "{v}"}, "messages": [{"role": "user", "content": "hi"}]}),
        ("openai response_format", "/v1/chat/completions",
         {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}],
          "response_format": {"type": "json_schema", "json_schema": {
              "name": "x", "schema": {"type": "object", "description": "{v}"}}}}),
        ("anthropic stop_sequences", "/v1/messages",
         {"model": "sonnet", "max_tokens": 50, "stop_sequences": ["{v}"],
          "messages": [{"role": "user", "content": "hi"}]}),
        ("anthropic tool description", "/v1/messages",
         {"model": "sonnet", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}],
          "tools": [{"name": "f", "description": "{v}", "input_schema": {"type": "object"}}]}),
        ("anthropic metadata", "/v1/messages",
         {"model": "sonnet", "max_tokens": 50, "metadata": {"user_id": "{v}"},
          "messages": [{"role": "user", "content": "hi"}]}),
    ]

    def outside_messages(self, value):
        for label, path, body in self.OUTSIDE_MESSAGES:
            yield label, path, json.loads(json.dumps(body).replace("{v}", value))

    def test_restricted_data_outside_the_messages_never_reaches_cloud(self):
        # What holds today: if the router does not keep the request local, the
        # egress guard re-scans the cloud-bound body and blocks the send.
        key = self.key("outside")
        cloud_before = len(self.cloud_requests())
        for label, path, body in self.outside_messages(f"card {CARD}"):
            with self.subTest(label):
                status, headers, data, rid = self.send(key, path, body)
                if status == 200:
                    self.assertEqual(route_of(headers)["provider"], "ollama", headers)
                    self.expect(rid, "outside", 200, headers, locality="local")
                else:
                    self.assertError(status, data, 500, "egress_blocked")
                    # The whole number, spaced or not: a bare "4111" could be part of a hex request id.
                    self.assertNotIn(CARD, data.decode())
                    self.assertNotIn(CARD.replace(" ", ""), data.decode())
                    self.expect(rid, "outside", 500, {}, error_type="egress_blocked", egress_blocked=True,
                                locality="", cost_usd=0)
                    type(self).egress_blocked_requests += 1
        self.assertNoRestrictedAtCloud()
        self.assertEqual(
            [r["provider"] for r in self.cloud_requests()[cloud_before:]], [],
            "the body was blocked, so nothing should have been sent")

    def test_restricted_data_outside_the_messages_is_classified_and_kept_local(self):
        # Tool definitions, stop sequences and pass-through fields are part of the prompt:
        # RESTRICTED data there routes the request to ollama like data in a message.
        key = self.key("outside-bug")
        wrong = []
        for label, path, body in self.outside_messages(f"card {CARD}"):
            status, headers, data, rid = self.send(key, path, body)
            self.expect(rid, "outside-bug", status, {})
            if status != 200 or headers.get("x-aegis-classification") != "RESTRICTED" or \
                    route_of(headers)["provider"] != "ollama":
                wrong.append((label, status, headers.get("x-aegis-classification")))
            if status != 200:
                type(self).egress_blocked_requests += 1
        self.assertEqual(wrong, [])

    def test_pii_outside_the_messages_is_masked_for_cloud(self):
        # The email is replaced by a placeholder in tool descriptions, stop sequences,
        # user, metadata and response_format before a cloud provider sees them.
        key = self.key("outside-bug")
        leaked = []
        for label, path, body in self.outside_messages(EMAIL):
            before = len(self.cloud_requests())
            status, headers, data, rid = self.send(key, path, body)
            self.expect(rid, "outside-bug", status, {})
            if any(EMAIL.split("@")[1] in r["body"] for r in self.cloud_requests()[before:]):
                leaked.append(label)
        self.assertEqual(leaked, [])

    # ---- 2. PERSON / EMAIL are masked for cloud and restored in the answer -----------------

    def check_masked(self, new_cloud, provider):
        self.assertEqual([r["provider"] for r in new_cloud], [provider], new_cloud)
        sent = new_cloud[0]["body"]
        for value in NAME.split() + EMAIL.split("@"):
            self.assertNotIn(value, sent)
        self.assertRegex(sent, r"PERSON_\d+")
        self.assertRegex(sent, r"EMAIL\w*_\d+")

    def test_person_and_email_reach_cloud_only_as_placeholders_and_come_back_restored(self):
        key = self.key("privacy")
        text = f"Please write to {NAME} at {EMAIL} about the renewal."
        want = "Echo: " + text
        cases = [
            ("openai", "/v1/chat/completions", "sonnet", "anthropic", False),
            ("openai", "/v1/chat/completions", "sonnet", "anthropic", True),
            ("openai", "/v1/chat/completions", "gpt-4o", "azure", False),
            ("openai", "/v1/chat/completions", "gpt-4o", "azure", True),
            ("anthropic", "/v1/messages", "sonnet", "anthropic", False),
            ("anthropic", "/v1/messages", "sonnet", "anthropic", True),
            ("anthropic", "/v1/messages", "o1", "azure", True),
        ]
        for protocol, path, model, provider, stream in cases:
            with self.subTest(protocol=protocol, model=model, stream=stream):
                body = {"model": model, "messages": [{"role": "user", "content": text}]}
                if protocol == "anthropic":
                    body["max_tokens"] = 200
                if stream:
                    body["stream"] = True
                before = len(self.cloud_requests())
                status, headers, data, rid = self.send(key, path, body)
                self.assertEqual(status, 200, data)
                self.assertEqual(route_of(headers)["provider"], provider)
                self.check_masked(self.cloud_requests()[before:], provider)
                if not stream and protocol == "openai":
                    answer = json.loads(data)["choices"][0]["message"]["content"]
                elif not stream:
                    answer = json.loads(data)["content"][0]["text"]
                elif protocol == "openai":
                    answer, done = openai_text(data)
                    self.assertTrue(done, data)
                else:
                    answer, events = anthropic_text(data)
                    self.assertEqual(events[-1], "message_stop", events)
                self.assertEqual(answer, want)
                self.expect(rid, "privacy", 200, headers, locality="cloud",
                            entities={"PERSON": 1, "EMAIL_ADDRESS": 1}, placeholders=2, invented_pii=False,
                            fallback_path=[provider + ":ok"])

    def test_history_and_system_values_are_masked_too(self):
        key = self.key("privacy")
        body = {"model": "sonnet", "messages": [
            {"role": "system", "content": f"You assist {NAME}."},
            {"role": "user", "content": f"My address is {EMAIL}."},
            {"role": "assistant", "content": f"Noted, {NAME}."},
            {"role": "user", "content": f"Repeat my address {EMAIL} and my name {NAME}"}]}
        before = len(self.cloud_requests())
        status, headers, data, rid = self.send(key, "/v1/chat/completions", body)
        self.assertEqual(status, 200, data)
        self.check_masked(self.cloud_requests()[before:], "anthropic")
        sent = json.loads(self.cloud_requests()[before]["body"])
        # The same value gets the same placeholder everywhere in the conversation.
        self.assertEqual(len(set(re.findall(r"PERSON_\d+", json.dumps(sent)))), 1)
        self.assertEqual(json.loads(data)["choices"][0]["message"]["content"],
                         f"Echo: Repeat my address {EMAIL} and my name {NAME}")
        self.expect(rid, "privacy", 200, headers, locality="cloud", entities={"PERSON": 3, "EMAIL_ADDRESS": 2})

    # ---- 3. Fallback ----------------------------------------------------------------------------

    def test_fault_on_anthropic_is_answered_by_azure_and_audited(self):
        key = self.key("fallback")
        for stream in (False, True):
            with self.subTest(stream=stream):
                self.fault("anthropic", "status_503", 1)
                before = len(self.cloud_requests())
                body = {"model": "sonnet", "messages": [{"role": "user", "content": f"Greet {NAME} warmly"}]}
                if stream:
                    body["stream"] = True
                status, headers, data, rid = self.send(key, "/v1/chat/completions", body)
                self.assertEqual(status, 200, data)
                route = route_of(headers)
                self.assertEqual((route["provider"], route["model"]), ("azure", "gpt-4o"))
                tried = self.cloud_requests()[before:]
                self.assertEqual([r["provider"] for r in tried], ["anthropic", "azure"])
                for r in tried:
                    self.assertNotIn(NAME.split()[-1], r["body"])
                answer = openai_text(data)[0] if stream else json.loads(data)["choices"][0]["message"]["content"]
                self.assertEqual(answer, f"Echo: Greet {NAME} warmly")
                self.expect(rid, "fallback", 200, headers, locality="cloud",
                            fallback_path=["anthropic:unavailable", "azure:ok"])

    # ---- 4. Budgets --------------------------------------------------------------------------------

    def test_tiny_budget_is_402_before_any_upstream_call(self):
        key = self.key("tiny", 0.0001)
        before = len(self.upstream_log())
        for path, body in (
                ("/v1/chat/completions", {"model": "haiku", "messages": [{"role": "user", "content": "hi"}]}),
                ("/v1/chat/completions", {"model": "haiku", "stream": True,
                                          "messages": [{"role": "user", "content": "hi"}]}),
                ("/v1/messages", {"model": "haiku", "max_tokens": 1000, "messages": [{"role": "user", "content": "hi"}]}),
                ("/v1/chat/completions", {"model": "auto", "messages": [{"role": "user", "content": f"SIN {SIN}"}]})):
            with self.subTest(path=path, body=body):
                status, headers, data, rid = self.send(key, path, body)
                self.assertError(status, data, 402, "budget_exceeded")
                self.expect(rid, "tiny", 402, headers, error_type="budget_exceeded", cost_usd=0)
        self.assertEqual(len(self.upstream_log()), before, "a request over budget reached an upstream")
        spend = self.spend("tiny")
        self.assertEqual((spend["spent_usd"], spend["reserved_usd"], spend["requests"]), (0, 0, 0))
        samples = parse_metrics(self.metrics_text())
        self.assertEqual(list(series_of(samples, "aegis_budget_rejections_total", team="tiny").values()), [4.0])

    def test_team_just_under_one_dollar_gets_sonnet_instead_of_opus(self):
        rich = self.key("audit-rich", 50)
        status, headers, data, rid = self.send(rich, "/v1/chat/completions",
                                               {"model": "auto", "messages": [{"role": "user", "content": "audit this"}]},
                                               {"x-aegis-task": "security_audit"})
        self.assertEqual(status, 200, data)
        self.assertEqual(route_of(headers)["tier"], "opus")
        self.expect(rid, "audit-rich", 200, headers, locality="cloud")

        poor = self.key("audit-poor", 0.99)
        status, headers, data, rid = self.send(poor, "/v1/chat/completions",
                                               {"model": "auto", "messages": [{"role": "user", "content": "audit this"}]},
                                               {"x-aegis-task": "security_audit"})
        self.assertEqual(status, 200, data)
        route = route_of(headers)
        self.assertEqual((route["tier"], route["provider"], route["model"]), ("sonnet", "anthropic", "claude-sonnet-4-5"))
        self.assertIn("opus→sonnet", route["reason"])
        self.assertIn("budget $0.99 < $1.00", route["reason"])
        self.expect(rid, "audit-poor", 200, headers, locality="cloud")
        samples = parse_metrics(self.metrics_text())
        self.assertGreaterEqual(
            sum(series_of(samples, "aegis_route_decisions_total", tier="sonnet", rule="budget_downgrade").values()), 1)

    def test_spend_is_reconciled_with_the_cost_headers(self):
        key = self.key("spender", 5)
        costs = []
        bodies = [
            ("/v1/chat/completions", {"model": "sonnet", "messages": [{"role": "user", "content": "one two three"}]}),
            ("/v1/chat/completions", {"model": "haiku", "max_tokens": 64,
                                      "messages": [{"role": "user", "content": f"Hello {NAME}"}]}),
            ("/v1/messages", {"model": "opus", "max_tokens": 300,
                              "messages": [{"role": "user", "content": "a longer prompt " * 20}]}),
            ("/v1/chat/completions", {"model": "auto", "messages": [{"role": "user", "content": f"SIN {SIN}"}]}),
            ("/v1/messages", {"model": "llama3.2:3b", "max_tokens": 30, "messages": [{"role": "user", "content": "x"}]}),
        ]
        for path, body in bodies:
            status, headers, data, rid = self.send(key, path, body)
            self.assertEqual(status, 200, data)
            cost = float(headers["x-aegis-cost-usd"])
            self.assertGreater(cost, 0)
            costs.append(headers["x-aegis-cost-usd"])
            self.expect(rid, "spender", 200, headers)
        # A failed request reserves and releases: neither spent nor counted.
        self.fault("ollama", "status_503", 1)
        status, headers, data, rid = self.send(key, "/v1/chat/completions",
                                               {"model": "haiku", "messages": [{"role": "user", "content": f"SIN {SIN}"}]})
        self.assertError(status, data, 503, "no_local_provider")
        self.expect(rid, "spender", 503, headers, error_type="no_local_provider")

        spend = self.spend("spender")
        micros = sum(round(float(c) * 1_000_000) for c in costs)
        self.assertEqual(round(spend["spent_usd"] * 1_000_000), micros, (spend, costs))
        self.assertGreater(spend["spent_usd"], 0)
        self.assertEqual(spend["requests"], len(bodies))
        self.assertEqual(spend["reserved_usd"], 0)
        self.assertEqual(round(spend["remaining_usd"] * 1_000_000), 5_000_000 - micros)

        samples = parse_metrics(self.metrics_text())
        self.assertEqual(list(series_of(samples, "aegis_budget_spent_usd", team="spender").values()),
                         [spend["spent_usd"]])
        self.assertEqual(list(series_of(samples, "aegis_budget_remaining_usd", team="spender").values()),
                         [spend["remaining_usd"]])
        self.assertEqual(list(series_of(samples, "aegis_budget_rejections_total", team="spender").values()), [0.0])
        booked = sum(series_of(samples, "aegis_cost_usd_total", team="spender").values())
        self.assertAlmostEqual(booked, micros / 1e6, places=9)

    # ---- 5. The audit trail ------------------------------------------------------------------------

    def test_zz_every_request_has_exactly_one_audit_row_without_prompt_values(self):
        self.assertTrue(self.expected, "no requests were registered (run the whole class)")
        by_team = {}
        for rid, want in self.expected.items():
            by_team.setdefault(want["team"], []).append(rid)
        for team, ids in by_team.items():
            raw, rows = self.audit_rows(team, ids)
            for value in PROMPT_VALUES:
                self.assertNotIn(value, raw, f"a prompt value leaked into team {team}'s audit rows")
            self.assertEqual(len(rows), len(ids), f"team {team}: {len(rows)} rows for {len(ids)} requests")
            found = {r["request_id"]: r for r in rows}
            for rid in ids:
                with self.subTest(team=team, request_id=rid):
                    self.assertEqual([r["request_id"] for r in rows].count(rid), 1)
                    row, want = found[rid], dict(self.expected[rid])
                    types = want.pop("entity_types", None)
                    if types is not None:
                        self.assertTrue(set(row["entities"]) & types, row)
                        self.assertTrue(all(isinstance(n, int) and n >= 1 for n in row["entities"].values()), row)
                    for field, value in want.items():
                        if field == "cost_usd":
                            self.assertAlmostEqual(row[field], value, places=9, msg=row)
                        elif field == "entities":
                            self.assertEqual(row[field], value, row)
                        else:
                            self.assertEqual(row[field], value, (field, row))
                    if row["status"] == 200:
                        self.assertTrue(row["provider"] and row["model"] and row["reason"], row)
                        self.assertIn(row["locality"], ("local", "cloud"))
                        self.assertTrue(row["fallback_path"][-1].endswith(":ok"), row)
                        self.assertGreater(row["cost_usd"], 0, row)
                    if row["classification"] == "RESTRICTED":
                        self.assertNotEqual(row["locality"], "cloud", row)
                        self.assertEqual(row["placeholders"], 0, row)
            # Streams carry no cost header, so their spend is checked against the audit rows.
            spend = self.spend(team)
            self.assertEqual(spend["requests"], len([r for r in rows if r["status"] == 200]), (team, spend))
            self.assertEqual(round(spend["spent_usd"] * 1_000_000), sum(round(r["cost_usd"] * 1_000_000) for r in rows),
                             (team, spend))
            self.assertEqual(spend["reserved_usd"], 0, (team, spend))

        status, body = self.gw.admin("GET", "/admin/v1/audit/pipeda_violations")
        self.assertEqual((status, body), (200, {"count": 0}))
        self.assertNoRestrictedAtCloud()
        samples = parse_metrics(self.metrics_text())
        self.assertEqual(series_of(samples, "aegis_pipeda_violations_total"),
                         {("aegis_pipeda_violations_total", frozenset()): 0.0})
        self.assertEqual(series_of(samples, "aegis_audit_rows_dropped_total"),
                         {("aegis_audit_rows_dropped_total", frozenset()): 0.0})

    # ---- 6. Metrics ------------------------------------------------------------------------------

    def test_zz_metrics_named_by_the_issue_are_exposed_and_pass_promtool(self):
        # Enough traffic of its own that the test holds when run alone.
        key = self.key("metrics")
        for body in ({"model": "sonnet", "messages": [{"role": "user", "content": f"Ping {NAME}"}]},
                     {"model": "haiku", "messages": [{"role": "user", "content": f"card {CARD}"}]}):
            status, headers, data, rid = self.send(key, "/v1/chat/completions", body)
            self.assertEqual(status, 200, data)
            self.expect(rid, "metrics", 200, headers)
        text = self.metrics_text()
        samples = parse_metrics(text)

        def labelled(name, *labels):
            found = series_of(samples, name)
            self.assertTrue(found, f"{name} has no series")
            for series in found:
                self.assertTrue(set(labels) <= {k for k, _ in series[1]}, (name, series))
            return found

        requests = labelled("aegis_requests_total", "team", "provider", "model", "status")
        self.assertGreaterEqual(sum(v for k, v in requests.items()
                                    if ("team", "metrics") in k[1] and ("status", "200") in k[1]), 2)
        self.assertGreater(sum(labelled("aegis_cost_usd_total", "team").values()), 0)
        classes = labelled("aegis_classification_total", "level")
        self.assertGreaterEqual(sum(series_of(samples, "aegis_classification_total", level="RESTRICTED").values()), 1)
        self.assertTrue(classes)
        masked = labelled("aegis_pii_masked_total", "entity")
        self.assertGreaterEqual(sum(series_of(samples, "aegis_pii_masked_total", entity="PERSON").values()), 1)
        self.assertTrue(masked)
        labelled("aegis_route_decisions_total", "tier", "rule")
        self.assertGreaterEqual(
            sum(series_of(samples, "aegis_route_decisions_total", rule="restricted_local_only").values()), 1)
        self.assertIn("# TYPE aegis_request_overhead_seconds histogram", text)
        count = series_of(samples, "aegis_request_overhead_seconds_count")
        self.assertGreaterEqual(sum(count.values()), 2)
        states = labelled("aegis_circuit_state", "provider")
        self.assertEqual({dict(k[1])["provider"] for k in states}, {"anthropic", "azure", "ollama"})
        self.assertTrue(all(v == 0 for v in states.values()), states)  # breakers disabled here: all closed
        up = labelled("aegis_provider_up", "provider")
        self.assertEqual({dict(k[1])["provider"] for k in up}, {"anthropic", "azure", "ollama"})
        self.assertIn("# TYPE aegis_pipeda_violations_total counter", text)
        # Every send the egress guard stopped is counted, nothing else.
        self.assertEqual(sum(series_of(samples, "aegis_pipeda_blocked_total").values()),
                         self.egress_blocked_requests)

        tool = promtool()
        self.assertIsNotNone(tool, "promtool not found: install the Debian package 'prometheus'")
        check = subprocess.run([tool, "check", "metrics"], input=text.encode(), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=60)
        output = check.stdout.decode("utf-8", "replace")
        self.assertEqual(check.returncode, 0, output)
        self.assertEqual(output.strip(), "", f"promtool lint complaints:\n{output}")

    def test_zz_pipeda_blocked_metric_is_declared(self):
        # Every provider has its series from start-up (0 until a block), so the first block is visible to increase().
        text = self.metrics_text()
        self.assertIn("# HELP aegis_pipeda_blocked_total ", text)
        self.assertIn("# TYPE aegis_pipeda_blocked_total counter", text)
        samples = series_of(parse_metrics(text), "aegis_pipeda_blocked_total")
        self.assertEqual({dict(k[1]).get("provider") for k in samples}, set(CLOUD) | {"ollama"}, samples)
        self.assertEqual(samples[("aegis_pipeda_blocked_total", frozenset({("provider", "ollama")}))], 0, samples)


# ---- Breakers: with the default threshold (3) an open breaker skips the provider ------------

class BreakerSkipsAFailingProvider(Governed, GatewayTestCase):
    gateway_args = ("--demo",)
    # No background health checks: the one at start-up could otherwise take one of the
    # injected 503s (and count it) before the requests do, on a slow machine.
    config_text = "resilience: {health_check_interval_s: 0}\n"

    def test_three_failures_open_anthropics_breaker_and_azure_answers_without_trying_it(self):
        key = self.make_team("breaker", 10)
        self.fault("anthropic", "status_503", 3)
        paths = []
        for i in range(5):
            before = len(self.cloud_requests())
            status, headers, data, rid = self.send(key, "/v1/chat/completions",
                                                   {"model": "sonnet", "messages": [{"role": "user", "content": "x"}]})
            self.assertEqual(status, 200, data)
            self.assertEqual(route_of(headers)["provider"], "azure")
            paths.append((rid, [r["provider"] for r in self.cloud_requests()[before:]]))
        self.assertEqual([p for _, p in paths], [["anthropic", "azure"]] * 3 + [["azure"]] * 2)
        _, rows = self.audit_rows("breaker", [rid for rid, _ in paths])
        by_id = {r["request_id"]: r["fallback_path"] for r in rows}
        self.assertEqual([by_id[rid] for rid, _ in paths],
                         [["anthropic:unavailable", "azure:ok"]] * 3 + [["anthropic:circuit_open", "azure:ok"]] * 2)
        samples = parse_metrics(self.metrics_text())
        self.assertEqual(series_of(samples, "aegis_circuit_state", provider="anthropic"),
                         {("aegis_circuit_state", frozenset({("provider", "anthropic")})): 1.0})
        self.assertEqual(sum(series_of(samples, "aegis_circuit_state", provider="azure").values()), 0)


# ---- 7. Audit rows and spend survive SIGTERM ---------------------------------------------------

class AuditSurvivesSigterm(Governed, unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="aegis-e2e-db-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self.config = CONFIG + f"storage:\n  sqlite_path: {os.path.join(self.dir, 'aegis.db')}\n"
        self.gw = Gateway(("--demo",), None, self.config)
        self.addCleanup(lambda: self.gw.cleanup())

    def test_rows_written_before_sigterm_are_there_after_restart(self):
        key = self.make_team("durable", 20)
        ids, micros = [], 0
        for i in range(12):
            body = {"model": ("haiku", "sonnet", "gpt-4o")[i % 3],
                    "messages": [{"role": "user", "content": f"note {i} for {NAME}" if i % 2 else f"SIN {SIN}"}]}
            status, headers, data, rid = self.send(key, "/v1/chat/completions", body)
            self.assertEqual(status, 200, data)
            ids.append(rid)
            micros += round(float(headers["x-aegis-cost-usd"]) * 1_000_000)
        before = self.spend("durable")
        # No wait for the writer's batch: the signal comes right after the last answer.
        code = self.gw.stop()
        with open(self.gw.log_path, "rb") as f:
            self.assertEqual(code, 0, f.read()[-2000:])

        self.gw = Gateway(("--demo",), None, self.config)
        raw, rows = self.audit_rows("durable", ids, timeout=1.0)
        self.assertEqual(sorted(r["request_id"] for r in rows), sorted(ids))
        for value in PROMPT_VALUES:
            self.assertNotIn(value, raw)
        after = self.spend("durable")
        self.assertEqual(after["spent_usd"], before["spent_usd"])
        self.assertEqual(round(after["spent_usd"] * 1_000_000), micros)
        self.assertEqual(after["requests"], len(ids))
        self.assertEqual(after["reserved_usd"], 0)
        # The key still works and spend keeps accumulating on the restored total.
        status, headers, data, _ = self.send(key, "/v1/chat/completions",
                                             {"model": "haiku", "messages": [{"role": "user", "content": "again"}]})
        self.assertEqual(status, 200, data)
        self.assertEqual(round(self.spend("durable")["spent_usd"] * 1_000_000),
                         micros + round(float(headers["x-aegis-cost-usd"]) * 1_000_000))


# ---- 8. 200 concurrent requests against a small cap ------------------------------------------

class ConcurrentBudget(Governed, GatewayTestCase):
    gateway_args = ("--demo",)
    config_text = CONFIG
    CAP = 0.002
    CLIENTS = 200

    def test_concurrent_requests_never_overspend(self):
        key = self.make_team("crowd", self.CAP)
        barrier = threading.Barrier(self.CLIENTS)
        results = [None] * self.CLIENTS

        def client(i):
            body = json.dumps({"model": "haiku", "max_tokens": 16,
                               "messages": [{"role": "user", "content": f"count to three {i}"}]}).encode()
            conn = self.gw.connection(timeout=30)
            try:
                conn.connect()
                barrier.wait(timeout=30)
                conn.request("POST", "/v1/chat/completions", body=body,
                             headers={"authorization": f"Bearer {key}", "content-type": "application/json"})
                resp = conn.getresponse()
                data = resp.read()
                results[i] = (resp.status, resp.getheader("x-aegis-cost-usd"), data)
            except Exception as e:  # noqa: BLE001 - reported below
                results[i] = (None, None, repr(e).encode())
            finally:
                conn.close()

        threads = [threading.Thread(target=client, args=(i,)) for i in range(self.CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        statuses = [r[0] for r in results]
        self.assertNotIn(None, statuses, [r for r in results if r[0] is None][:3])
        self.assertEqual([r for r in results if r[0] >= 500], [])
        self.assertTrue(set(statuses) <= {200, 402}, sorted(set(statuses)))
        ok = [r for r in results if r[0] == 200]
        self.assertTrue(ok, "no request succeeded")
        self.assertTrue(any(s == 402 for s in statuses), "no request was refused")
        for status, _, data in results:
            if status == 402:
                self.assertEqual(json.loads(data)["error"]["type"], "budget_exceeded")

        spend = self.spend("crowd")
        self.assertLessEqual(spend["spent_usd"], self.CAP, spend)
        self.assertEqual(spend["reserved_usd"], 0, spend)
        self.assertEqual(spend["requests"], len(ok), spend)
        micros = sum(round(float(cost) * 1_000_000) for _, cost, _ in ok)
        self.assertEqual(round(spend["spent_usd"] * 1_000_000), micros)


if __name__ == "__main__":
    unittest.main()
