#pragma once
// The Anthropic-compatible surface: POST /v1/messages (streaming with the
// event sequence the official SDK requires).
#include "core/request_limits.hpp"
#include "gateway/gateway.hpp"
#include "http/router.hpp"

namespace aegis::api {

// Request bodies outside `limits` (config `limits:`) are 400 before the gateway sees them.
void register_anthropic_routes(http::Router& router, gateway::Gateway& gateway, const RequestLimits& limits);

}  // namespace aegis::api
