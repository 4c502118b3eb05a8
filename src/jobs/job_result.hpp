#pragma once
// A succeeded job's result as GET /v1/jobs/{id} shows it (docs/JOBS.md):
//
//   chat        {"text", "usage", "cost_usd"}
//   rag         {"text", "chunk_ids", "model", "provider", "usage", "cost_usd"}
//   rag_ingest  {"document": {"document_id", "classification", "chunks": [{"index", "classification"}]},
//                "usage", "cost_usd"}
//
// The store keeps one result text per job (sealed like the rest of its
// content): a retrieval job's is the JSON below, marked with its kind, so a
// chat job whose task happens to be "rag" (and whose answer may be any text)
// is never mistaken for one.
#include <boost/json/object.hpp>

#include <string>

#include "jobs/job.hpp"
#include "rag/rag_service.hpp"

namespace aegis::jobs {

// The stored result text of a rag job: the answer, its chunk ids, model and provider.
std::string rag_answer_result_text(const rag::AnswerResult& answer);
// The stored result text of a rag_ingest job: the document's id and levels.
std::string rag_ingest_result_text(const rag::DocumentRecord& document);

// `result` of a succeeded job (as above).
boost::json::object result_json(const Job& job);

}  // namespace aegis::jobs
