"""POST /v1/responses (the OpenAI Responses API) through the real binary (`aegis serve --demo`).

The endpoint is translated to the canonical chat request and governed like
/v1/chat/completions: classification, masking of `input` and `instructions`
for cloud models (checked on the bytes the cloud simulators received, read
back from /admin/v1/demo/upstream-log), restore of the answer, routing of
RESTRICTED content to the local provider, the x-aegis-* headers, the audit
row (surface `openai.responses`). previous_response_id works only for a team
whose conversations are stored (`responses.store`), and a stored
conversation is masked again, turn by turn, when it goes to a cloud model.
"""
import json
import os
import sqlite3
import unittest
import uuid

from aegis_harness import DemoUpstreams, GatewayTestCase, route_of, wait_until
from audit_backends import JOBS_KEY
from test_postgres_store import base_dsn, psql

KEEP_TEAM = "resp-keep"
CONFIG = f"""
resilience:
  failure_threshold: 1000
responses:
  store:
    default: false
    {KEEP_TEAM}: true
  retention_s: 3600
"""

SIN = "046 454 286"
NAME = "Jennifer Walsh"
EMAIL = "jennifer.walsh@acme-mail.com"


def sse_events(data):
    """[(event name, data object)] of a Responses API stream."""
    out = []
    for block in data.decode().split("\n\n"):
        lines = [line for line in block.strip().split("\n") if line]
        if not lines:
            continue
        name = next((line[len("event: "):] for line in lines if line.startswith("event: ")), "")
        payload = next((line[len("data: "):] for line in lines if line.startswith("data: ")), None)
        out.append((name, json.loads(payload) if payload else None))
    return out


def output_text(response):
    return "".join(part["text"] for item in response["output"] if item["type"] == "message"
                   for part in item["content"] if part["type"] == "output_text")


class ResponsesApi(DemoUpstreams, GatewayTestCase):
    gateway_args = ("--demo",)
    config_text = CONFIG

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        keys = {}
        for team in (KEEP_TEAM, "resp-plain"):
            status, body = cls.gw.admin("POST", "/admin/v1/teams", {"name": team, "monthly_budget_usd": 50})
            assert status == 201, body
            status, created = cls.gw.admin("POST", "/admin/v1/keys", {"team": team})
            assert status == 201, created
            keys[team] = created["key"]
        cls.keep_key = keys[KEEP_TEAM]
        cls.plain_key = keys["resp-plain"]

    def send(self, key, body, path="/v1/responses", method="POST", raw=None):
        request_id = "req_resp_" + uuid.uuid4().hex[:16]
        headers = {"authorization": f"Bearer {key}", "x-request-id": request_id}
        if raw is not None:
            headers["content-type"] = "application/json"
            conn = self.gw.connection(timeout=30)
            conn.request(method, path, body=raw, headers=headers)
            reply = conn.getresponse()
            data = reply.read()
            got = {k.lower(): v for k, v in reply.getheaders()}
            conn.close()
            return reply.status, got, data, request_id
        status, got, data = self.gw.request(method, path, body, headers, timeout=30)
        got = {k: v.encode("latin-1").decode("utf-8", "replace") for k, v in got.items()}
        return status, got, data, request_id

    def cloud_bodies(self, since):
        return [r["body"] for r in self.upstream_log()[since:] if r["locality"] == "cloud"]

    def assertInvalid(self, status, data, fragment, want_type="invalid_request", want_status=400):
        self.assertEqual(status, want_status, data)
        body = json.loads(data)
        self.assertEqual(body["error"]["type"], want_type, body)
        self.assertIn(fragment, body["error"]["message"])

    # ---- the endpoint ------------------------------------------------------------------------

    def test_non_streaming_answer_is_a_response_object_with_governance_headers(self):
        status, headers, data, _ = self.send(self.plain_key, {"model": "sonnet", "input": "Say hello",
                                                              "metadata": {"ticket": "42"}})
        self.assertEqual(status, 200, data)
        body = json.loads(data)
        self.assertRegex(body["id"], r"^resp_[0-9a-f]{48}$")
        self.assertEqual(body["object"], "response")
        self.assertEqual(body["status"], "completed")
        self.assertIsInstance(body["created_at"], int)
        self.assertEqual(output_text(body), "Echo: Say hello")
        self.assertEqual(body["output"][0]["role"], "assistant")
        self.assertEqual(body["output"][0]["content"][0]["annotations"], [])
        usage = body["usage"]
        self.assertGreater(usage["input_tokens"], 0)
        self.assertEqual(usage["total_tokens"], usage["input_tokens"] + usage["output_tokens"])
        self.assertEqual(usage["input_tokens_details"], {"cached_tokens": 0})
        self.assertEqual(usage["output_tokens_details"], {"reasoning_tokens": 0})
        self.assertEqual(body["metadata"], {"ticket": "42"})
        self.assertFalse(body["store"])  # this team's responses are not kept
        self.assertEqual(headers["x-aegis-classification"], "INTERNAL")
        self.assertEqual(route_of(headers)["provider"], "anthropic")
        self.assertIn("x-aegis-cost-usd", headers)
        self.assertEqual(headers["x-aegis-masked"], "0")

    def test_streaming_sends_the_typed_events_in_order(self):
        status, headers, data, _ = self.send(self.plain_key, {"model": "sonnet", "input": "Stream it", "stream": True})
        self.assertEqual(status, 200, data)
        self.assertTrue(headers["content-type"].startswith("text/event-stream"))
        self.assertEqual(route_of(headers)["provider"], "anthropic")
        events = sse_events(data)
        names = [name for name, _ in events]
        self.assertEqual(names[:4], ["response.created", "response.in_progress", "response.output_item.added",
                                     "response.content_part.added"])
        self.assertEqual(names[-4:], ["response.output_text.done", "response.content_part.done",
                                      "response.output_item.done", "response.completed"])
        self.assertTrue(set(names[4:-4]) == {"response.output_text.delta"}, names)
        for i, (name, event) in enumerate(events):
            self.assertEqual(event["type"], name)
            self.assertEqual(event["sequence_number"], i)
        text = "".join(e["delta"] for n, e in events if n == "response.output_text.delta")
        self.assertEqual(text, "Echo: Stream it")
        final = events[-1][1]["response"]
        self.assertEqual(final["status"], "completed")
        self.assertEqual(output_text(final), text)
        self.assertEqual(final["id"], events[0][1]["response"]["id"])
        self.assertGreater(final["usage"]["output_tokens"], 0)

    def test_an_openai_family_provider_answers_it_too(self):
        for stream in (False, True):
            with self.subTest(stream=stream):
                since = len(self.upstream_log())
                body = {"model": "gpt-4o", "instructions": "Be brief.", "input": "Hello azure",
                        "max_output_tokens": 50}
                if stream:
                    body["stream"] = True
                status, headers, data, _ = self.send(self.plain_key, body)
                self.assertEqual(status, 200, data)
                self.assertEqual(route_of(headers)["provider"], "azure")
                reply = sse_events(data)[-1][1]["response"] if stream else json.loads(data)
                self.assertEqual(output_text(reply), "Echo: Hello azure")
                sent = [r for r in self.upstream_log()[since:] if r["provider"] == "azure"]
                self.assertEqual(len(sent), 1)
                upstream = json.loads(sent[0]["body"])  # a chat completions body, translated
                self.assertEqual(upstream["messages"][0], {"role": "system", "content": "Be brief."})
                self.assertEqual(upstream["messages"][-1], {"role": "user", "content": "Hello azure"})
                self.assertNotIn("input", upstream)

    def test_the_budget_preflight_applies(self):
        status, body = self.gw.admin("POST", "/admin/v1/teams", {"name": "resp-poor", "monthly_budget_usd": 0.0001})
        self.assertEqual(status, 201, body)
        status, created = self.gw.admin("POST", "/admin/v1/keys", {"team": "resp-poor"})
        self.assertEqual(status, 201, created)
        since = len(self.upstream_log())
        for stream in (False, True):
            status, _, data, _ = self.send(created["key"], {"model": "opus", "input": "hi", "stream": stream,
                                                            "max_output_tokens": 4000})
            self.assertInvalid(status, data, "budget", "budget_exceeded", 402)
        self.assertEqual(self.upstream_log()[since:], [])

    def test_a_stream_cut_off_upstream_ends_with_error_and_response_failed(self):
        self.fault("anthropic", "truncate", 1)
        status, _, data, _ = self.send(self.plain_key, {"model": "sonnet", "stream": True,
                                                        "input": "one two three four five six seven eight nine"})
        self.assertEqual(status, 200, data)
        events = sse_events(data)
        names = [name for name, _ in events]
        self.assertIn("response.output_text.delta", names)  # it failed after the client saw content
        self.assertEqual(names[-2:], ["error", "response.failed"], names)
        self.assertNotIn("response.completed", names)
        self.assertEqual(events[-2][1]["code"], "upstream_error")
        failed = events[-1][1]["response"]
        self.assertEqual(failed["status"], "failed")
        self.assertTrue(failed["error"]["message"])
        self.assertEqual([e["sequence_number"] for _, e in events], list(range(len(events))))

    # ---- governance --------------------------------------------------------------------------

    def test_input_and_instructions_are_masked_for_cloud_and_the_answer_restored(self):
        for stream in (False, True):
            with self.subTest(stream=stream):
                since = len(self.upstream_log())
                body = {"model": "sonnet", "instructions": f"You assist {NAME}.",
                        "input": [{"role": "user", "content": [
                            {"type": "input_text", "text": f"Write to {NAME} at {EMAIL}"}]}]}
                if stream:
                    body["stream"] = True
                status, headers, data, _ = self.send(self.plain_key, body)
                self.assertEqual(status, 200, data)
                sent = self.cloud_bodies(since)
                self.assertEqual(len(sent), 1, sent)
                for value in NAME.split() + EMAIL.split("@"):
                    self.assertNotIn(value, sent[0])
                self.assertRegex(sent[0], r"PERSON_\d+")
                # instructions arrived as the system prompt, masked too
                self.assertIn("You assist PERSON_", sent[0])
                if stream:
                    events = sse_events(data)
                    answer = "".join(e["delta"] for n, e in events if n == "response.output_text.delta")
                    self.assertEqual(output_text(events[-1][1]["response"]), answer)
                else:
                    answer = output_text(json.loads(data))
                self.assertEqual(answer, f"Echo: Write to {NAME} at {EMAIL}")
                self.assertEqual(headers["x-aegis-masked"], "3")

    def test_a_restricted_value_goes_to_the_local_provider_only(self):
        for stream in (False, True):
            with self.subTest(stream=stream):
                since = len(self.upstream_log())
                body = {"model": "sonnet", "input": f"My SIN is {SIN}, file my taxes"}
                if stream:
                    body["stream"] = True
                status, headers, data, _ = self.send(self.plain_key, body)
                self.assertEqual(status, 200, data)
                self.assertEqual(headers["x-aegis-classification"], "RESTRICTED")
                self.assertEqual(route_of(headers)["provider"], "ollama")
                new = self.upstream_log()[since:]
                self.assertEqual([r["provider"] for r in new], ["ollama"])
                self.assertEqual(self.cloud_bodies(since), [])

    def test_the_audit_row_names_the_responses_surface(self):
        status, _, data, request_id = self.send(self.plain_key, {"model": "haiku", "input": "audited"})
        self.assertEqual(status, 200, data)
        found = {}

        def row_there():
            s, _, raw = self.gw.request("GET", "/admin/v1/audit?team=resp-plain&limit=1000",
                                        headers={"authorization": f"Bearer {self.gw.admin_key}"})
            rows = [r for r in json.loads(raw)["data"] if r["request_id"] == request_id]
            found["row"] = rows[0] if rows else None
            return bool(rows)

        wait_until(row_there, 5, "the audit row")
        self.assertEqual(found["row"]["surface"], "openai.responses")
        self.assertEqual(found["row"]["status"], 200)
        self.assertNotIn("audited", json.dumps(found["row"]))

    # ---- previous_response_id -------------------------------------------------------------------

    def test_previous_response_id_is_refused_where_nothing_is_stored(self):
        status, _, data, _ = self.send(self.plain_key, {"model": "sonnet", "input": "again",
                                                        "previous_response_id": "resp_0123"})
        self.assertInvalid(status, data, "keeps no responses for team 'resp-plain'")
        status, _, data, _ = self.send(self.plain_key, None, path="/v1/responses/resp_0123", method="GET")
        self.assertInvalid(status, data, "not found", "not_found", 404)

    def test_a_stored_conversation_continues_masked_per_turn_and_can_be_erased(self):
        status, _, data, _ = self.send(self.keep_key, {"model": "sonnet", "instructions": "Be brief.",
                                                       "input": f"My name is {NAME}"})
        self.assertEqual(status, 200, data)
        first = json.loads(data)
        self.assertTrue(first["store"])

        for stream in (False, True):
            with self.subTest(stream=stream):
                since = len(self.upstream_log())
                body = {"model": "sonnet", "input": "What is my name?", "previous_response_id": first["id"]}
                if stream:
                    body["stream"] = True
                status, headers, data, _ = self.send(self.keep_key, body)
                self.assertEqual(status, 200, data)
                reply = sse_events(data)[-1][1]["response"] if stream else json.loads(data)
                self.assertEqual(output_text(reply), "Echo: What is my name?")
                self.assertEqual(reply["previous_response_id"], first["id"])
                sent = self.cloud_bodies(since)
                self.assertEqual(len(sent), 1, sent)
                # the earlier turns went along, each masked again for the cloud model
                for value in NAME.split():
                    self.assertNotIn(value, sent[0])
                self.assertIn("My name is PERSON_", sent[0])
                self.assertIn("Echo: My name is PERSON_", sent[0])
                self.assertNotIn("Be brief.", sent[0])  # instructions are per request, as OpenAI's
                self.assertGreaterEqual(int(headers["x-aegis-masked"]), 2)

        # The stored response is its team's only, and readable back.
        status, _, data, _ = self.send(self.keep_key, None, path=f"/v1/responses/{first['id']}", method="GET")
        self.assertEqual(status, 200, data)
        self.assertEqual(json.loads(data)["id"], first["id"])
        self.assertEqual(output_text(json.loads(data)), f"Echo: My name is {NAME}")
        status, _, data, _ = self.send(self.plain_key, None, path=f"/v1/responses/{first['id']}", method="GET")
        self.assertInvalid(status, data, "not found", "not_found", 404)

        # Erased: gone for GET and for previous_response_id.
        status, _, data, _ = self.send(self.keep_key, None, path=f"/v1/responses/{first['id']}", method="DELETE")
        self.assertEqual(status, 200, data)
        self.assertEqual(json.loads(data), {"id": first["id"], "object": "response", "deleted": True})
        status, _, data, _ = self.send(self.keep_key, None, path=f"/v1/responses/{first['id']}", method="DELETE")
        self.assertInvalid(status, data, "not found", "not_found", 404)
        status, _, data, _ = self.send(self.keep_key, {"model": "sonnet", "input": "hi",
                                                       "previous_response_id": first["id"]})
        self.assertInvalid(status, data, f"previous_response_id: response '{first['id']}' not found",
                           "not_found", 404)

    def test_store_false_is_honoured(self):
        status, _, data, _ = self.send(self.keep_key, {"model": "haiku", "input": "forget me", "store": False})
        self.assertEqual(status, 200, data)
        body = json.loads(data)
        self.assertFalse(body["store"])
        status, _, data, _ = self.send(self.keep_key, None, path=f"/v1/responses/{body['id']}", method="GET")
        self.assertInvalid(status, data, "not found", "not_found", 404)
        status, _, data, _ = self.send(self.keep_key, {"model": "haiku", "input": "again",
                                                       "previous_response_id": body["id"]})
        self.assertInvalid(status, data, "not found", "not_found", 404)

    def test_a_restricted_stored_turn_keeps_the_continuation_local(self):
        status, _, data, _ = self.send(self.keep_key, {"model": "sonnet", "input": f"My SIN is {SIN}"})
        self.assertEqual(status, 200, data)
        first = json.loads(data)
        since = len(self.upstream_log())
        status, headers, data, _ = self.send(self.keep_key, {"model": "sonnet", "input": "Thanks, anything else?",
                                                             "previous_response_id": first["id"]})
        self.assertEqual(status, 200, data)
        # The new input holds nothing, but the conversation does: still RESTRICTED, still local.
        self.assertEqual(headers["x-aegis-classification"], "RESTRICTED")
        self.assertEqual(route_of(headers)["provider"], "ollama")
        self.assertEqual(self.cloud_bodies(since), [])

    def stored_columns(self, rid):
        """The responses row's conversation_json and response_json as the database holds them."""
        db = sqlite3.connect(os.path.join(self.gw.workdir, "data", "aegis.db"))
        try:
            return db.execute("SELECT conversation_json, response_json FROM responses WHERE id = ?", (rid,)).fetchone()
        finally:
            db.close()

    def test_a_stored_conversation_is_sealed_at_rest(self):
        marker = "sealed-marker-" + uuid.uuid4().hex[:8]
        status, _, data, _ = self.send(self.keep_key, {"model": "haiku", "input": f"{marker} from {NAME}"})
        self.assertEqual(status, 200, data)
        rid = json.loads(data)["id"]
        stored = self.stored_columns(rid)
        self.assertIsNotNone(stored)
        for column in stored:
            # Neither the client's words, nor the name, nor the restored answer: AES-GCM, as job content.
            self.assertTrue(column.startswith("sealed:"), column[:40])
            self.assertNotIn(marker, column)
            self.assertNotIn(NAME.split()[0], column)
        # and it still reads back, and continues
        status, _, data, _ = self.send(self.keep_key, None, path=f"/v1/responses/{rid}", method="GET")
        self.assertEqual(status, 200, data)
        self.assertIn(marker, output_text(json.loads(data)))
        status, _, data, _ = self.send(self.keep_key, {"model": "haiku", "input": "and?", "previous_response_id": rid})
        self.assertEqual(status, 200, data)

    # ---- bad input ----------------------------------------------------------------------------

    def test_bad_input_is_400_and_reaches_no_provider(self):
        since = len(self.upstream_log())
        status, _, data, _ = self.send(self.plain_key, None, raw=b'{"model": "sonnet", "input": ')
        self.assertEqual(status, 400, data)
        self.assertEqual(json.loads(data)["error"]["type"], "invalid_json")
        cases = [
            ({"model": "sonnet", "input": [{"type": "banana"}]}, "input[0].type: unknown input item type"),
            ({"model": "sonnet", "input": [{"role": "user", "content": [{"type": "input_image", "file_id": "file-1"}]}]},
             "input[0].content[0].file_id: file references are not supported"),
            ({"model": "sonnet", "input": "hi", "tools": [{"type": "web_search"}]},
             "the tool type 'web_search' is not supported"),
            ({"model": "sonnet", "input": "hi", "frobnicate": True}, "frobnicate: unknown field"),
            ({"model": "sonnet"}, "input: is required"),
            ({"model": "sonnet", "input": "hi", "stream": "yes"}, "stream"),
        ]
        for body, fragment in cases:
            with self.subTest(body=body):
                status, _, data, _ = self.send(self.plain_key, body)
                self.assertInvalid(status, data, fragment)
        self.assertEqual(self.upstream_log()[since:], [])



@unittest.skipUnless(base_dsn(), "no PostgreSQL test server in this run (ctest's postgres.start provides one)")
class ResponsesApiOnPostgres(ResponsesApi):
    """The same, with the gateway's store (and so the stored responses) on PostgreSQL."""

    @classmethod
    def setUpClass(cls):
        cls.base = base_dsn()
        cls.schema = "it_resp_" + uuid.uuid4().hex[:12]
        psql(cls.base, f"CREATE SCHEMA {cls.schema}")
        cls.gateway_env = {"AEGIS_IT_PG_DSN": f"{cls.base} options='-c search_path={cls.schema}'",
                           "AEGIS_IT_JOBS_KEY": JOBS_KEY}
        cls.config_text = CONFIG + ("storage:\n  postgres_dsn: \"${AEGIS_IT_PG_DSN}\"\n"
                                    "jobs:\n  encryption:\n    active: k1\n    keys:\n"
                                    "      - {id: k1, env: AEGIS_IT_JOBS_KEY}\n")
        try:
            super().setUpClass()
        except Exception:
            psql(cls.base, f"DROP SCHEMA {cls.schema} CASCADE")
            raise

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        psql(cls.base, f"DROP SCHEMA {cls.schema} CASCADE")

    def stored_columns(self, rid):
        dsn = self.gateway_env["AEGIS_IT_PG_DSN"]
        row = psql(dsn, f"SELECT conversation_json || '|' || response_json FROM responses WHERE id = '{rid}'")
        return tuple(row.split("|", 1)) if row else None

    def test_the_conversation_is_a_row_of_the_responses_table(self):
        status, _, data, _ = self.send(self.keep_key, {"model": "haiku", "input": "kept on postgres"})
        self.assertEqual(status, 200, data)
        rid = json.loads(data)["id"]
        dsn = self.gateway_env["AEGIS_IT_PG_DSN"]
        self.assertEqual(psql(dsn, f"SELECT team FROM responses WHERE id = '{rid}'"), KEEP_TEAM)
        status, _, data, _ = self.send(self.keep_key, None, path=f"/v1/responses/{rid}", method="DELETE")
        self.assertEqual(status, 200, data)
        self.assertEqual(psql(dsn, f"SELECT count(*) FROM responses WHERE id = '{rid}'"), "0")

if __name__ == "__main__":
    unittest.main()
