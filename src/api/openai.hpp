#pragma once
// The OpenAI-compatible surface: POST /v1/chat/completions, POST /v1/embeddings,
// GET /v1/models. Existing OpenAI SDKs work by changing the base URL.
#include "gateway/gateway.hpp"
#include "http/router.hpp"

namespace aegis::api {

void register_openai_routes(http::Router& router, gateway::Gateway& gateway);

}  // namespace aegis::api
