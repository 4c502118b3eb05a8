#pragma once
#include <functional>

#include "http/router.hpp"
#include "store/db_executor.hpp"
#include "store/store.hpp"
#include "telemetry/metrics.hpp"

namespace aegis::api {

// GET /healthz (process alive), GET /readyz (store answers): open, and they
// say nothing about teams.
void register_health_routes(http::Router& router, store::Store& store, store::DbExecutor& db);

// GET /metrics (Credential::metrics_token: open unless server.metrics_token is set).
// `before_scrape`, when set, refreshes gauges read from elsewhere (open
// connections) just before the registry is written out.
void register_metrics_route(http::Router& router, const telemetry::Registry& metrics,
                            std::function<void()> before_scrape = {});

}  // namespace aegis::api
