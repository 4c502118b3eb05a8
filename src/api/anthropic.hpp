#pragma once
// The Anthropic-compatible surface: POST /v1/messages (streaming with the
// event sequence the official SDK requires).
#include "gateway/gateway.hpp"
#include "http/router.hpp"

namespace aegis::api {

void register_anthropic_routes(http::Router& router, gateway::Gateway& gateway);

}  // namespace aegis::api
