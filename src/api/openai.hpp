#pragma once
// The OpenAI-compatible surface: POST /v1/chat/completions, POST /v1/embeddings,
// GET /v1/models. Existing OpenAI SDKs work by changing the base URL.
#include "core/request_limits.hpp"
#include "gateway/gateway.hpp"
#include "http/router.hpp"

namespace aegis::api {

// Request bodies outside `limits` (config `limits:`) are 400 before the gateway sees them.
void register_openai_routes(http::Router& router, gateway::Gateway& gateway, const RequestLimits& limits);

}  // namespace aegis::api
