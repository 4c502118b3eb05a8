#pragma once
// /admin/v1: teams and virtual keys. Authorised by the AEGIS_ADMIN_KEY
// environment variable (Authorization: Bearer ...); closed when it is unset.
#include <string>

#include "budget/ledger.hpp"
#include "core/clock.hpp"
#include "http/router.hpp"
#include "identity/authenticator.hpp"
#include "store/db_executor.hpp"
#include "store/store.hpp"

namespace aegis::api {

struct AdminContext {
  store::Store& store;
  store::DbExecutor& db;
  identity::Authenticator& authenticator;
  const Clock& clock;
  // Read from AEGIS_ADMIN_KEY at start-up; empty means the admin API is closed.
  std::string admin_key;
  // Current-period spend for GET /admin/v1/teams/{name}/spend (not owned);
  // null answers 503 there.
  budget::Ledger* ledger = nullptr;
};

void register_admin_routes(http::Router& router, AdminContext context);

// Shared by every /admin route: 403 when the admin API is closed, 401 on a
// missing or wrong key (compared in constant time).
Result<void> authorize_admin(const http::HttpRequest& request, const std::string& admin_key);

}  // namespace aegis::api
