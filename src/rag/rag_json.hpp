#pragma once
// The JSON of retrieval requests and documents, shared by the routes
// (api/rag.cpp) and the async jobs that run them (jobs/job_request.cpp), so
// a field means the same thing, and is refused for the same reasons, on both.
#include <boost/json/object.hpp>

#include "core/result.hpp"
#include "rag/rag_service.hpp"

namespace aegis::rag {

// POST /v1/rag/documents: collection, text or chunks, source, metadata,
// classification. 400 invalid_request naming the field for anything else,
// a wrong type or an unknown level. What the service checks itself (the
// collection's name, exactly one of text and chunks, the size) is left to it.
Result<IngestRequest> parse_ingest_request(const boost::json::object& body);
// The same fields back (parse_ingest_request(ingest_request_json(r)) == r).
boost::json::object ingest_request_json(const IngestRequest& request);

// POST /v1/rag/query: collection, query, top_k, filter (rag/metadata_filter.hpp).
Result<QueryRequest> parse_query_request(const boost::json::object& body);

// POST /v1/rag/answer without "stream": collection, question, top_k, max_tokens.
Result<AnswerRequest> parse_answer_request(const boost::json::object& body);
boost::json::object answer_request_json(const AnswerRequest& request);

// A document as the routes show it: {"document_id", "chunks": [{"index",
// "classification"}]}, and, unless `summary`, collection, source,
// classification, created_at_ms and metadata.
boost::json::object document_json(const DocumentRecord& doc, bool summary);

}  // namespace aegis::rag
