#pragma once
// /admin/v1: teams and virtual keys. Every route declares
// Credential::admin_key; the router checks it (api/access.hpp).
#include <string>

#include "budget/ledger.hpp"
#include "core/clock.hpp"
#include "http/router.hpp"
#include "identity/authenticator.hpp"
#include "store/database.hpp"
#include "store/db_executor.hpp"

namespace aegis::api {

struct AdminContext {
  store::Database& store;
  store::DbExecutor& db;
  identity::Authenticator& authenticator;
  const Clock& clock;
  // Current-period spend for GET /admin/v1/teams/{name}/spend (not owned);
  // null answers 503 there.
  budget::Ledger* ledger = nullptr;
};

void register_admin_routes(http::Router& router, const AdminContext& context);

}  // namespace aegis::api
