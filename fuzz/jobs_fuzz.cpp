// libFuzzer target: the body of POST /v1/jobs (jobs/job_request.hpp) read the
// way the handler reads it (http::parse_json_object, then parse_job_request
// with the default limits). An accepted request keeps the contract (a task
// type, a user message, max_tokens in 1..1000000, a model, at most 16
// metadata entries) and its stored form reads back to the same request
// (parse_stored_job_request(to_stored_json(r)) == r, attachments included,
// and writes the same text); a body within smaller limits (from the first byte) is accepted under
// the defaults, the same; a refusal is a 400 with a message.
#include <boost/json/parse.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/json_response.hpp"
#include "http/message.hpp"
#include "jobs/job_request.hpp"

namespace {

using aegis::jobs::JobRequest;

[[noreturn]] void fail(std::string_view what) {
  std::fprintf(stderr, "jobs_fuzz: %.*s\n", static_cast<int>(what.size()), what.data());
  std::abort();
}

aegis::RequestLimits small_limits(unsigned byte) {
  aegis::RequestLimits limits;
  limits.max_messages = 1 + byte % 8;
  limits.max_text_bytes = 16 + 4 * byte;
  return limits;
}

void check_contract(const JobRequest& r) {
  if (r.task_type.empty() || r.task_type.size() > 64) fail("a task_type outside 1..64 bytes");
  if (!r.chat.max_tokens || *r.chat.max_tokens < 1 || *r.chat.max_tokens > 1'000'000) fail("max_tokens out of range");
  if (r.chat.model.empty() || r.chat.model.size() > 256) fail("a model outside 1..256 bytes");
  if (r.metadata.size() > 16) fail("more than 16 metadata entries");
  bool user = false;
  for (const auto& m : r.chat.messages) {
    if (m.role == aegis::Role::tool || !m.tool_calls.empty()) fail("a tool message or tool call in a job");
    user = user || m.role == aegis::Role::user;
  }
  if (!user) fail("a job without a user message");
}

bool same(const JobRequest& a, const JobRequest& b) {
  if (a.task_type != b.task_type || a.chat.system != b.chat.system || a.chat.max_tokens != b.chat.max_tokens ||
      a.chat.model != b.chat.model || a.metadata != b.metadata || a.classification != b.classification ||
      a.chat.messages.size() != b.chat.messages.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.chat.messages.size(); ++i) {
    if (a.chat.messages[i].role != b.chat.messages[i].role || a.chat.messages[i].text != b.chat.messages[i].text) {
      return false;
    }
    const auto& x = a.chat.messages[i].attachments;
    const auto& y = b.chat.messages[i].attachments;
    if (x.size() != y.size()) return false;
    for (std::size_t j = 0; j < x.size(); ++j) {
      if (x[j].kind != y[j].kind || x[j].media_type != y[j].media_type || x[j].data != y[j].data ||
          x[j].url != y[j].url || x[j].filename != y[j].filename || x[j].detail != y[j].detail ||
          x[j].cache_control != y[j].cache_control) {
        return false;
      }
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  aegis::http::HttpRequest request;
  request.method = "POST";
  request.path = request.target = "/v1/jobs";
  request.headers.push_back({"Content-Type", "application/json; charset=utf-8"});
  request.body.assign(reinterpret_cast<const char*>(data) + 1, size - 1);
  const auto body = aegis::http::parse_json_object(request);
  if (!body.ok()) {
    if (body.error().code != aegis::ErrorCode::invalid_json && body.error().code != aegis::ErrorCode::invalid_request) {
      fail("parse_json_object: an error of another code");
    }
    return 0;
  }
  const auto r = aegis::jobs::parse_job_request(*body);
  const auto limited = aegis::jobs::parse_job_request(*body, small_limits(data[0]));
  if (!r.ok()) {
    if (r.error().code != aegis::ErrorCode::invalid_request || r.error().message.empty()) {
      fail("parse_job_request: an error of another code, or no message");
    }
    if (limited.ok()) fail("a body within smaller limits is refused under the default limits");
    return 0;
  }
  check_contract(*r);
  if (r->marked_public() != (r->classification == aegis::Level::PUBLIC)) fail("marked_public() disagrees");

  const std::string stored = aegis::jobs::to_stored_json(*r);
  const auto back = aegis::jobs::parse_stored_job_request(stored);
  if (!back.ok()) fail("parse_stored_job_request refuses to_stored_json's text: " + back.error().message);
  if (!same(*r, *back)) fail("parse_stored_job_request(to_stored_json(r)) != r");
  if (aegis::jobs::to_stored_json(*back) != stored) fail("to_stored_json differs after a round trip");
  if (limited.ok() && (!same(*limited, *r))) fail("a body parses differently under smaller limits");

  const std::string metadata = aegis::jobs::metadata_json(*r);
  if (metadata.empty() != r->metadata.empty()) fail("metadata_json is empty for metadata, or not for none");
  if (!metadata.empty()) {
    boost::system::error_code ec;
    const auto v = boost::json::parse(metadata, ec);
    if (ec || !v.is_object() || v.as_object().size() != r->metadata.size()) fail("metadata_json is not the metadata");
    for (const auto& [key, value] : r->metadata) {
      const auto* entry = v.as_object().if_contains(key);
      if (entry == nullptr || !entry->is_string() || entry->as_string() != value) fail("metadata_json differs");
    }
  }
  return 0;
}
