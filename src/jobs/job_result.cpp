#include "jobs/job_result.hpp"

#include <boost/json/parse.hpp>

#include "core/json.hpp"

namespace aegis::jobs {

namespace json = boost::json;

namespace {

constexpr std::string_view kKindField = "aegis_result";

}  // namespace

std::string rag_answer_result_text(const rag::AnswerResult& answer) {
  json::array ids;
  for (const auto& id : answer.chunk_ids) ids.emplace_back(id);
  return to_json(json::object{{kKindField, "rag"},
                              {"text", answer.completion.text},
                              {"chunk_ids", std::move(ids)},
                              {"model", answer.completion.model},
                              {"provider", answer.completion.provider}});
}

std::string rag_ingest_result_text(const rag::DocumentRecord& document) {
  json::array chunks;
  for (const auto& chunk : document.chunks) {
    chunks.push_back(json::object{{"index", chunk.index}, {"classification", to_string(chunk.level)}});
  }
  return to_json(json::object{{kKindField, "rag_ingest"},
                              {"document", json::object{{"document_id", document.id},
                                                        {"classification", to_string(document.level)},
                                                        {"chunks", std::move(chunks)}}}});
}

json::object result_json(const Job& job) {
  json::object out;
  bool structured = false;
  if (job.task_type == "rag" || job.task_type == "rag_ingest") {
    boost::system::error_code ec;
    auto stored = json::parse(job.result.text, ec);
    if (!ec && stored.is_object()) {
      auto& fields = stored.get_object();
      const auto* kind = fields.if_contains(kKindField);
      if (kind != nullptr && kind->is_string() && kind->get_string() == job.task_type) {
        fields.erase(kKindField);
        out = std::move(fields);
        structured = true;
      }
    }
  }
  if (!structured) out["text"] = job.result.text;
  json::object usage{{"input_tokens", job.result.input_tokens}, {"output_tokens", job.result.output_tokens}};
  // A chat job's usage always has the prompt-cache counts; a retrieval
  // job's mirrors /v1/rag/answer's and has them only when there were some.
  if (!structured || job.result.cache_read_tokens != 0 || job.result.cache_write_tokens != 0) {
    usage["cache_read_tokens"] = job.result.cache_read_tokens;
    usage["cache_write_tokens"] = job.result.cache_write_tokens;
  }
  out["usage"] = std::move(usage);
  out["cost_usd"] = usd_json(job.result.cost);
  return out;
}

}  // namespace aegis::jobs
