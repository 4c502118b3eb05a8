// POST /admin/v1/inspect: the console's "Try it". What a chat request of a
// team would meet, computed by the gateway's own stages (Gateway::inspect:
// media reading, classification, PERSON detection, the PII block policy,
// routing with the team's clearance and budget, masking), so the console
// never shows a verdict the pipeline would not reach. Without `send` no
// provider is called and no audit row is written (it is not a request); with
// it the request runs for real as the team (Gateway::complete, key id
// "console", surface "console.inspect"), audited like any other.
//
// Offsets: a finding's start/end are Unicode code points into its message's
// content (or its attachment's text), so a browser can highlight in place.
// `masked` is what a cloud provider would receive; null for a RESTRICTED
// request, which never goes to a cloud provider (its route is local or 503).
// An attachment holding findings is shown redacted too (`redacted`: its
// media type and base64 bytes, as stage 3 would send them).
#include <algorithm>
#include <memory>
#include <optional>
#include <utility>

#include "api/admin_console.hpp"
#include "core/attachment_json.hpp"
#include "core/encoding.hpp"
#include "core/json.hpp"
#include "core/media_type.hpp"
#include "http/json_response.hpp"
#include "identity/authenticator.hpp"
#include "media/ocr_shapes.hpp"
#include "routing/router.hpp"
#include "telemetry/log.hpp"

namespace aegis::api {

namespace json = boost::json;
using http::HttpRequest;
using http::HttpResponse;
using Awaitable = boost::asio::awaitable<HttpResponse>;

namespace {

HttpResponse fail(const Error& error, const HttpRequest& request) {
  return http::error_response(error, request.request_id);
}

Error bad(std::string message) { return make_error(ErrorCode::invalid_request, std::move(message)); }

Message message_of(Role role, std::string text) {
  Message m;
  m.role = role;
  m.text = std::move(text);
  return m;
}

struct InspectBody {
  std::string team;
  ChatRequest chat;
  std::string task = "chat";
  bool send = false;
  // The index in the body's `messages` of each ChatRequest message, and of
  // the system message (a `prompt` is message 0).
  std::vector<std::size_t> body_index;
  std::optional<std::size_t> system_index;
};

Result<std::string> string_of(const json::object& body, std::string_view name) {
  auto it = body.find(name);
  if (it == body.end() || !it->value().is_string()) return bad(std::string(name) + " must be a string");
  return std::string(it->value().get_string());
}

// {media_type, data, filename?}: the stored form of an attachment
// (core/attachment_json.hpp) without its type, which the media type says, and
// without a URL (the console sends the bytes it was given).
Result<Attachment> attachment_of(const json::value& value, std::size_t i) {
  const std::string where = "attachments[" + std::to_string(i) + "]";
  if (!value.is_object()) return bad(where + " must be an object {media_type, data}");
  json::object stored = value.get_object();
  if (auto known = http::reject_unknown_fields(stored, {"media_type", "data", "filename"}); !known.ok()) {
    return bad(where + ": " + known.error().message);
  }
  if (!stored.contains("data")) return bad(where + ".data is required");
  AEGIS_TRY(media_type, string_of(stored, "media_type"));
  stored["type"] = is_supported_document_type(media_type) ? "document" : "image";
  return parse_attachment_json(stored, where);
}

Result<InspectBody> inspect_body(const json::object& body) {
  AEGIS_TRY_VOID(
      http::reject_unknown_fields(body, {"team", "prompt", "messages", "model", "task_type", "attachments", "send"}));
  InspectBody out;
  if (!body.contains("team")) return bad("team is required");
  AEGIS_TRY(team, string_of(body, "team"));
  out.team = std::move(team);
  out.chat.model = "auto";
  if (body.contains("model")) {
    AEGIS_TRY(model, string_of(body, "model"));
    if (!model.empty()) out.chat.model = std::move(model);
  }
  if (body.contains("task_type")) {
    AEGIS_TRY(task, string_of(body, "task_type"));
    if (!routing::is_valid_task_name(task)) return bad("task_type must be 1 to 64 of A-Z a-z 0-9 _ . -");
    out.task = std::move(task);
  }
  if (auto it = body.find("send"); it != body.end()) {
    if (!it->value().is_bool()) return bad("send must be true or false");
    out.send = it->value().get_bool();
  }
  const bool has_prompt = body.contains("prompt");
  const bool has_messages = body.contains("messages");
  if (has_prompt == has_messages) return bad("send either prompt (a string) or messages (an array of {role, content})");
  if (has_prompt) {
    AEGIS_TRY(prompt, string_of(body, "prompt"));
    out.chat.messages.push_back(message_of(Role::user, std::move(prompt)));
    out.body_index.push_back(0);
  } else {
    const auto& messages = body.at("messages");
    if (!messages.is_array() || messages.get_array().empty()) return bad("messages must be a non-empty array");
    const auto& items = messages.get_array();
    for (std::size_t i = 0; i < items.size(); ++i) {
      const std::string where = "messages[" + std::to_string(i) + "]";
      if (!items[i].is_object()) return bad(where + " must be an object {role, content}");
      const auto& m = items[i].get_object();
      if (auto known = http::reject_unknown_fields(m, {"role", "content"}); !known.ok()) {
        return bad(where + ": " + known.error().message);
      }
      auto role = string_of(m, "role");
      auto content = string_of(m, "content");
      if (!role.ok() || !content.ok()) return bad(where + " must have string role and content");
      if (*role == "system") {
        if (out.system_index) return bad("at most one system message");
        out.system_index = i;
        out.chat.system = std::move(*content);
        continue;
      }
      if (*role != "user" && *role != "assistant") return bad(where + ".role must be system, user or assistant");
      out.chat.messages.push_back(message_of(*role == "user" ? Role::user : Role::assistant, std::move(*content)));
      out.body_index.push_back(i);
    }
    if (out.chat.messages.empty()) return bad("messages must hold a user message");
  }
  if (auto it = body.find("attachments"); it != body.end()) {
    if (!it->value().is_array()) return bad("attachments must be an array of {media_type, data}");
    // They go with the last user message, as a client sends them.
    auto last_user = std::find_if(out.chat.messages.rbegin(), out.chat.messages.rend(),
                                  [](const Message& m) { return m.role == Role::user; });
    if (last_user == out.chat.messages.rend()) return bad("attachments need a user message");
    const auto& items = it->value().get_array();
    for (std::size_t i = 0; i < items.size(); ++i) {
      AEGIS_TRY(attachment, attachment_of(items[i], i));
      last_user->attachments.push_back(std::move(attachment));
    }
  }
  return out;
}

// Code points in the first `bytes` bytes of UTF-8 text (continuation bytes
// are not counted): a browser's string index for text without astral
// characters, and Array.from(text)'s index always.
std::int64_t code_points(std::string_view text, std::size_t bytes) {
  bytes = std::min(bytes, text.size());
  std::int64_t n = 0;
  for (std::size_t i = 0; i < bytes; ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0U) != 0x80U) ++n;
  }
  return n;
}

// Where a finding is, in terms of the body: the field that holds its start.
json::value finding_json(const classify::Finding& f, const gateway::Inspected& inspected, const InspectBody& body) {
  const std::string& all = inspected.prompt.text;
  for (const auto& field : inspected.prompt.fields) {
    if (f.start < field.start || f.start >= field.end) continue;
    const std::string_view text(all.data() + field.start, field.end - field.start);
    const std::size_t from = f.start - field.start;
    const std::size_t to = std::min(f.end, field.end) - field.start;
    json::object out{{"type", f.entity_type},
                     {"level", to_string(f.level)},
                     {"start", code_points(text, from)},
                     {"end", code_points(text, to)}};
    using Kind = gateway::PromptField::Kind;
    switch (field.kind) {
      case Kind::message_text: out["message_index"] = body.body_index.at(field.message); return out;
      case Kind::system:
        out["message_index"] = body.system_index.value_or(0);
        out["field"] = "system";
        return out;
      case Kind::attachment_text:
        out["message_index"] = body.body_index.at(field.message);
        out["field"] = "attachment";
        out["attachment_index"] = field.call;
        return out;
      default: return nullptr;  // the body has no other fields
    }
  }
  return nullptr;
}

json::value masked_json(const gateway::Inspected& inspected, const InspectBody& body) {
  if (inspected.level == Level::RESTRICTED) return nullptr;  // never sent to a cloud provider
  const ChatRequest& sent = inspected.masked ? *inspected.masked : body.chat;
  json::array out;
  if (body.system_index) out.push_back(json::object{{"role", "system"}, {"content", sent.system}});
  for (const auto& m : sent.messages) {
    out.push_back(json::object{{"role", m.role == Role::user ? "user" : "assistant"}, {"content", m.text}});
  }
  return out;
}

json::array attachments_json(const gateway::Inspected& inspected) {
  json::array out;
  if (!inspected.media) return out;
  for (const auto& item : inspected.media->items) {
    const bool complete = item.extraction && item.extraction->complete;
    const std::string text = item.extraction ? item.extraction->text : std::string();
    // The level its own text reaches: its findings, the OCR shapes that
    // make a request RESTRICTED, and fail closed for what was not read.
    Level level = Level::INTERNAL;
    for (const auto& field : inspected.prompt.fields) {
      if (field.kind != gateway::PromptField::Kind::attachment_text || field.message != item.message ||
          field.call != item.attachment) {
        continue;
      }
      for (const auto& f : inspected.findings) {
        if (f.start >= field.start && f.start < field.end) level = std::max(level, f.level);
      }
    }
    if (!complete || !media::restricted_shapes(text).empty()) level = Level::RESTRICTED;
    json::object shown{{"index", item.attachment}, {"text", text}, {"level", to_string(level)}, {"complete", complete}};
    // The bytes a cloud provider would receive in its place, findings covered.
    shown["redacted"] = nullptr;
    if (std::find(inspected.redacted.begin(), inspected.redacted.end(), std::pair{item.message, item.attachment}) !=
        inspected.redacted.end()) {
      const Attachment& sent = inspected.masked->messages.at(item.message).attachments.at(item.attachment);
      shown["redacted"] = json::object{{"media_type", sent.media_type}, {"data", base64_encode(sent.data)}};
    }
    out.push_back(std::move(shown));
  }
  return out;
}

}  // namespace

void register_inspect_route(http::Router& router, const ConsoleContext& context) {
  auto ctx = std::make_shared<const ConsoleContext>(context);
  router.add(
      "POST", "/admin/v1/inspect", http::Credential::admin_key,
      [ctx](HttpRequest& request, const http::Caller&) -> Awaitable {
        AEGIS_CO_TRY(object, http::parse_json_object(request), fail, request);
        AEGIS_CO_TRY(body, inspect_body(object), fail, request);
        // The team as its keys meet the pipeline: its clearance, its cap and
        // its own rate limits, built as for an OIDC token acting for it.
        // Named arguments, never temporaries in the co_await (GCC 12 may destroy those twice).
        std::vector<std::string> teams{body.team};
        std::string key_id = "console";
        AEGIS_CO_TRY(principals, co_await ctx->authenticator.team_principals(std::move(teams), std::move(key_id)), fail,
                     request);
        if (principals.empty()) {
          co_return fail(make_error(ErrorCode::not_found, "team '" + body.team + "' not found"), request);
        }
        identity::Principal principal = std::move(principals.front());
        gateway::CallContext call;
        call.principal = &principal;
        call.surface = "console.inspect";
        call.request_id = request.request_id;
        call.task = body.task;
        AEGIS_CO_TRY(inspected, co_await ctx->gateway.explain(call, body.chat), fail, request);

        json::array findings;
        for (const auto& f : inspected.findings) {
          if (auto item = finding_json(f, inspected, body); !item.is_null()) findings.push_back(std::move(item));
        }
        json::value response = nullptr;
        if (body.send) {
          gateway::CallContext real;
          real.principal = &principal;
          real.surface = "console.inspect";
          real.request_id = request.request_id;
          real.task = body.task;
          auto answered = co_await ctx->gateway.complete(real, body.chat);
          if (answered.ok()) {
            response = json::object{{"text", answered->completion.text}, {"route", answered->route.header_value()}};
          } else {
            const Error& e = answered.error();
            response = json::object{
                {"error", json::object{{"type", std::string(error_type(e.code))}, {"message", e.message}}},
                {"status", http_status(e.code)},
                {"route", real.route.provider.empty() ? json::value(nullptr) : json::value(real.route.header_value())}};
          }
        }
        // Not a request (unless sent, which the audit row records): the log
        // says an inspection happened, never what it held.
        telemetry::log(telemetry::LogLevel::info, "console_inspect",
                       {{"request_id", request.request_id},
                        {"team", principal.team},
                        {"level", to_string(inspected.level)},
                        {"findings", static_cast<std::int64_t>(inspected.findings.size())},
                        {"send", body.send}});
        const auto& route = inspected.route;
        co_return http::json_response(
            200,
            {{"level", to_string(inspected.level)},
             {"findings", std::move(findings)},
             {"masked", masked_json(inspected, body)},
             {"route", json::object{{"provider", route.provider},
                                    {"model", route.model},
                                    {"local", route.locality == config::Locality::local},
                                    {"tier", route.tier ? json::value(to_string(*route.tier)) : json::value(nullptr)},
                                    {"reason", route.reason}}},
             {"attachments", attachments_json(inspected)},
             {"response", std::move(response)}});
      });
}

}  // namespace aegis::api
