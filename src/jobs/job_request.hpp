#pragma once
// The body of POST /v1/jobs (docs/JOBS.md), validated once at submit and
// stored in canonical form in the job row; the worker parses that form back.
#include <boost/json/object.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/chat.hpp"
#include "core/classification.hpp"
#include "core/request_limits.hpp"
#include "core/result.hpp"
#include "rag/rag_service.hpp"

namespace aegis::jobs {

// What a job runs: a chat request through the gateway, or retrieval
// (rag/rag_service.hpp): an ingest (task_type "rag_ingest"), or an answer
// (task_type "rag" with collection and question instead of messages).
enum class JobKind { chat, rag_ingest, rag };

struct JobRequest {
  std::string task_type;
  JobKind kind = JobKind::chat;
  ChatRequest chat;                             // kind chat: system + messages, max_tokens, model ("auto" when absent)
  rag::IngestRequest ingest;                    // kind rag_ingest: its metadata is the document's, and the job's too
  rag::AnswerRequest answer;                    // kind rag
  std::map<std::string, std::string> metadata;  // chat and rag
  // The client's declared floor; PUBLIC also marks the content public.
  std::optional<Level> classification;

  bool marked_public() const { return classification == Level::PUBLIC; }
  Level minimum_level() const {
    return classification && *classification != Level::PUBLIC ? *classification : Level::PUBLIC;
  }
};

// 400 invalid_request naming the field for anything outside the contract
// (docs/JOBS.md; a rag_ingest body as POST /v1/rag/documents, a rag body as
// POST /v1/rag/answer without stream, both with task_type and a rag body
// with metadata; rag bodies are checked further by the RagService at submit):
// unknown fields, wrong types, both or neither of messages/prompt, no user
// message, out-of-range max_tokens, oversized metadata, a bad task_type, and
// more messages or text than `limits` allow (checked before the messages are
// converted).
Result<JobRequest> parse_job_request(const boost::json::object& body, const RequestLimits& limits = {});

// parse_job_request of the stored form (to_stored_json), without request
// limits (the job met them at submit); invalid_request when the text is not
// a JSON object or no longer meets the contract.
Result<JobRequest> parse_stored_job_request(std::string_view stored_json);

// The canonical JSON stored with the job: messages always as a list,
// optional fields only when set. parse_job_request(to_json(r)) == r.
std::string to_stored_json(const JobRequest& request);

// The metadata alone as a JSON object (stored beside the request so a
// finished job returns it after the request is deleted); "" when none.
std::string metadata_json(const JobRequest& request);

}  // namespace aegis::jobs
