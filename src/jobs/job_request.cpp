#include "jobs/job_request.hpp"

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>

#include "core/attachment_json.hpp"
#include "core/json.hpp"
#include "http/json_response.hpp"
#include "rag/rag_json.hpp"
#include "routing/router.hpp"

namespace aegis::jobs {

namespace json = boost::json;

namespace {

constexpr std::int64_t kMaxOutputTokens = 1'000'000;
constexpr std::size_t kMaxMetadataEntries = 16;
constexpr std::size_t kMaxMetadataKeyBytes = 64;
constexpr std::size_t kMaxMetadataValueBytes = 512;

Error invalid(std::string message) { return make_error(ErrorCode::invalid_request, std::move(message)); }

Result<void> parse_messages(const json::value& value, ChatRequest& chat, const RequestLimits& limits, TextTally& text) {
  if (!value.is_array() || value.get_array().empty()) return invalid("messages must be a non-empty array");
  if (auto within = check_item_limit("messages", value.get_array().size(), limits.max_messages, "max_messages");
      !within.ok()) {
    return within;
  }
  bool has_user = false;
  std::size_t i = 0;
  for (const auto& item : value.get_array()) {
    const std::string at = "messages[" + std::to_string(i++) + "]";
    if (!item.is_object()) return invalid(at + " must be an object with role and content");
    const auto& m = item.get_object();
    if (auto unknown = http::reject_unknown_fields(m, {"role", "content", "attachments"}); !unknown.ok()) {
      return invalid(at + ": " + unknown.error().message);
    }
    const auto* role = m.if_contains("role");
    const auto* content = m.if_contains("content");
    if (!role || !role->is_string()) return invalid(at + ".role must be \"system\", \"user\" or \"assistant\"");
    if (!content || !content->is_string()) return invalid(at + ".content must be a string");
    const std::string_view r = role->get_string();
    if (auto within = text.add(content->get_string().size()); !within.ok()) return within;
    const auto* attachments = m.if_contains("attachments");
    if (attachments && attachments->is_null()) attachments = nullptr;
    if (attachments && r != "user") return invalid(at + ".attachments: only user messages carry attachments");
    if (attachments && !attachments->is_array()) return invalid(at + ".attachments must be an array");
    if (r == "system") {
      if (!chat.system.empty()) chat.system += "\n\n";
      chat.system += content->get_string();
    } else if (r == "user" || r == "assistant") {
      Message message;
      message.role = r == "user" ? Role::user : Role::assistant;
      message.text = std::string(content->get_string());
      if (attachments) {
        std::size_t j = 0;
        for (const auto& a : attachments->get_array()) {
          AEGIS_TRY(attachment, parse_attachment_json(a, at + ".attachments[" + std::to_string(j++) + "]"));
          message.attachments.push_back(std::move(attachment));
        }
      }
      has_user = has_user || r == "user";
      chat.messages.push_back(std::move(message));
    } else {
      return invalid(at + ".role must be \"system\", \"user\" or \"assistant\"");
    }
  }
  if (!has_user) return invalid("messages must contain at least one user message");
  return {};
}

Result<void> parse_metadata(const json::object& body, std::map<std::string, std::string>& out) {
  if (const auto* metadata = body.if_contains("metadata"); metadata && !metadata->is_null()) {
    if (!metadata->is_object()) return invalid("metadata must be an object of string values");
    if (metadata->get_object().size() > kMaxMetadataEntries) return invalid("metadata has more than 16 entries");
    for (const auto& [key, value] : metadata->get_object()) {
      if (key.empty() || key.size() > kMaxMetadataKeyBytes) return invalid("metadata keys must be 1..64 bytes");
      if (!value.is_string()) return invalid("metadata." + std::string(key) + " must be a string");
      if (value.get_string().size() > kMaxMetadataValueBytes) {
        return invalid("metadata." + std::string(key) + " is longer than 512 bytes");
      }
      out.emplace(std::string(key), std::string(value.get_string()));
    }
  }
  return {};
}

// task_type "rag_ingest": the fields of POST /v1/rag/documents. Their limit is
// rag.max_document_bytes, checked by the RagService at submit (413).
Result<JobRequest> parse_rag_ingest(const json::object& body) {
  json::object fields = body;
  fields.erase("task_type");
  AEGIS_TRY(ingest, rag::parse_ingest_request(fields));
  JobRequest out;
  out.task_type = "rag_ingest";
  out.kind = JobKind::rag_ingest;
  out.ingest = std::move(ingest);
  return out;
}

// task_type "rag" without messages: the fields of POST /v1/rag/answer (no
// stream) and the job's metadata; the question counts as text.
Result<JobRequest> parse_rag_answer(const json::object& body, const RequestLimits& limits) {
  json::object fields = body;
  fields.erase("task_type");
  fields.erase("metadata");
  AEGIS_TRY(answer, rag::parse_answer_request(fields));
  if (answer.max_tokens && *answer.max_tokens > kMaxOutputTokens) {
    return invalid("max_tokens must be between 1 and 1000000");
  }
  TextTally text(limits.max_text_bytes);
  AEGIS_TRY_VOID(text.add(answer.question.size()));
  JobRequest out;
  out.task_type = "rag";
  out.kind = JobKind::rag;
  out.answer = std::move(answer);
  AEGIS_TRY_VOID(parse_metadata(body, out.metadata));
  return out;
}

}  // namespace

Result<JobRequest> parse_job_request(const json::object& body, const RequestLimits& limits) {
  if (const auto* task = body.if_contains("task_type"); task && task->is_string()) {
    if (task->get_string() == "rag_ingest") return parse_rag_ingest(body);
    // "rag" with messages or a prompt stays the chat job it always was (the task picks the tier).
    if (task->get_string() == "rag" && !body.contains("messages") && !body.contains("prompt")) {
      return parse_rag_answer(body, limits);
    }
  }
  if (auto unknown = http::reject_unknown_fields(
          body, {"task_type", "messages", "prompt", "max_tokens", "model", "metadata", "classification"});
      !unknown.ok()) {
    return unknown.error();
  }
  JobRequest out;
  const auto* task = body.if_contains("task_type");
  if (!task) return invalid("task_type is required");
  if (!task->is_string() || !routing::is_valid_task_name(task->get_string())) {
    return invalid("task_type must be 1..64 of [A-Za-z0-9_.-]");
  }
  out.task_type = std::string(task->get_string());

  const auto* messages = body.if_contains("messages");
  const auto* prompt = body.if_contains("prompt");
  if (messages && prompt) return invalid("give either messages or prompt, not both");
  if (!messages && !prompt) return invalid("messages or prompt is required");
  TextTally text(limits.max_text_bytes);
  if (prompt) {
    if (!prompt->is_string() || prompt->get_string().empty()) return invalid("prompt must be a non-empty string");
    AEGIS_TRY_VOID(text.add(prompt->get_string().size()));
    Message message;
    message.text = std::string(prompt->get_string());
    out.chat.messages.push_back(std::move(message));
  } else if (auto parsed = parse_messages(*messages, out.chat, limits, text); !parsed.ok()) {
    return parsed.error();
  }

  const auto* max_tokens = body.if_contains("max_tokens");
  if (!max_tokens) return invalid("max_tokens is required");
  if (!max_tokens->is_int64() && !max_tokens->is_uint64()) return invalid("max_tokens must be an integer");
  const auto n = max_tokens->is_int64() ? max_tokens->get_int64() : std::int64_t{-1};
  if (n < 1 || n > kMaxOutputTokens) return invalid("max_tokens must be between 1 and 1000000");
  out.chat.max_tokens = n;

  out.chat.model = "auto";
  if (const auto* model = body.if_contains("model"); model && !model->is_null()) {
    if (!model->is_string() || model->get_string().empty() || model->get_string().size() > 256) {
      return invalid("model must be a non-empty string");
    }
    out.chat.model = std::string(model->get_string());
  }

  AEGIS_TRY_VOID(parse_metadata(body, out.metadata));

  if (const auto* level = body.if_contains("classification"); level && !level->is_null()) {
    auto parsed = level->is_string() ? parse_level(level->get_string()) : std::nullopt;
    if (!parsed) return invalid("classification must be PUBLIC, INTERNAL, CONFIDENTIAL or RESTRICTED");
    out.classification = *parsed;
  }
  out.chat.origin = WireProtocol::openai;
  return out;
}

Result<JobRequest> parse_stored_job_request(std::string_view stored_json) {
  boost::system::error_code ec;
  auto body = json::parse(stored_json, ec);
  if (ec || !body.is_object()) return invalid("the stored job request is not a JSON object");
  // Admitted under the limits of its day: a restart with tighter limits must not fail it.
  return parse_job_request(body.get_object(), RequestLimits::unlimited());
}

std::string to_stored_json(const JobRequest& request) {
  json::object body;
  if (request.kind == JobKind::rag_ingest) {
    body = rag::ingest_request_json(request.ingest);
    body["task_type"] = request.task_type;
    return to_json(body);
  }
  if (request.kind == JobKind::rag) {
    body = rag::answer_request_json(request.answer);
    body["task_type"] = request.task_type;
    if (!request.metadata.empty()) {
      json::object metadata;
      for (const auto& [k, v] : request.metadata) metadata[k] = v;
      body["metadata"] = std::move(metadata);
    }
    return to_json(body);
  }
  body["task_type"] = request.task_type;
  json::array messages;
  if (!request.chat.system.empty())
    messages.push_back(json::object{{"role", "system"}, {"content", request.chat.system}});
  for (const auto& m : request.chat.messages) {
    json::object message{{"role", m.role == Role::user ? "user" : "assistant"}, {"content", m.text}};
    if (!m.attachments.empty()) {
      json::array attachments;
      for (const auto& a : m.attachments) attachments.push_back(attachment_json(a));
      message["attachments"] = std::move(attachments);
    }
    messages.push_back(std::move(message));
  }
  body["messages"] = std::move(messages);
  body["max_tokens"] = request.chat.max_tokens.value_or(1);
  body["model"] = request.chat.model;
  if (!request.metadata.empty()) {
    json::object metadata;
    for (const auto& [k, v] : request.metadata) metadata[k] = v;
    body["metadata"] = std::move(metadata);
  }
  if (request.classification) body["classification"] = to_string(*request.classification);
  return to_json(body);
}

std::string metadata_json(const JobRequest& request) {
  if (request.kind == JobKind::rag_ingest) {
    const std::string& given = request.ingest.metadata_json;
    return given.empty() || given == "{}" ? std::string() : given;
  }
  if (request.metadata.empty()) return {};
  json::object metadata;
  for (const auto& [k, v] : request.metadata) metadata[k] = v;
  return to_json(metadata);
}

}  // namespace aegis::jobs
