#pragma once
// Retrieval: POST/GET /v1/rag/documents, GET/DELETE /v1/rag/documents/{id},
// POST /v1/rag/query, POST /v1/rag/answer (rag/rag_service.hpp).
#include "http/router.hpp"
#include "rag/rag_service.hpp"

namespace aegis::api {

// `service` null: the configured backend has no retrieval store yet; the routes answer 503 saying so.
void register_rag_routes(http::Router& router, rag::RagService* service);

}  // namespace aegis::api
