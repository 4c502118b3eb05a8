#pragma once
// The OpenAI Responses API: POST /v1/responses (non-streaming and streamed
// with its typed events), GET and DELETE /v1/responses/{id}. A request is
// translated to the canonical chat request (wire/responses.hpp) and sent
// through the same gateway call as /v1/chat/completions (api/chat_stream.hpp),
// so it is classified, masked, routed, budgeted and audited like chat (audit
// surface `openai.responses`). previous_response_id continues a conversation
// kept in the gateway's own store, only for teams with `responses.store` on.
#include <memory>

#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/request_limits.hpp"
#include "gateway/gateway.hpp"
#include "http/router.hpp"
#include "jobs/payload_cipher.hpp"
#include "store/db_executor.hpp"
#include "store/response_store.hpp"

namespace aegis::api {

struct ResponsesRoutes {
  gateway::Gateway& gateway;
  store::ResponseStore& store;
  store::DbExecutor& db;
  const config::ResponsesConfig& config;
  const RequestLimits& limits;
  const Clock& clock;
  // Seals what is stored at rest (api/sealed_response_store.hpp): the job
  // store's content keys. Must not be null.
  std::shared_ptr<const jobs::PayloadCipher> cipher;
};

void register_responses_routes(http::Router& router, const ResponsesRoutes& routes);

}  // namespace aegis::api
