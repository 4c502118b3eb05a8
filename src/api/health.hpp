#pragma once
#include "http/router.hpp"
#include "store/db_executor.hpp"
#include "store/store.hpp"
#include "telemetry/metrics.hpp"

namespace aegis::api {

// GET /healthz (process alive), GET /readyz (store answers), GET /metrics.
void register_health_routes(http::Router& router, store::Store& store, store::DbExecutor& db,
                            const telemetry::Registry& metrics);

}  // namespace aegis::api
