#pragma once
#include "http/router.hpp"

namespace aegis::api {

// GET /v1/whoami: which team and key a virtual key resolves to, so that
// operators can check a key without spending money.
void register_whoami_route(http::Router& router);

}  // namespace aegis::api
