#pragma once
// /admin/v1: teams and virtual keys. Every route declares
// Credential::admin_key; the router checks it (api/access.hpp).
#include <chrono>
#include <map>
#include <string>

#include "audit/audit_writer.hpp"
#include "audit/signing_key.hpp"
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
  // The queue of audit rows not yet in the store (not owned). The audit
  // routes flush it first, so a row for a request already answered is in the
  // answer: a success's final row is queued before its response leaves, but
  // written a few milliseconds later. Null reads the store as it is.
  audit::AuditWriter* audit_writer = nullptr;
  // The key that signs audit checkpoints (not owned), published at
  // GET /admin/v1/audit/public-key; null answers 503 there.
  const audit::SigningKey* audit_key = nullptr;
  // The config's response_cache.teams (not owned), for the effective setting
  // GET /admin/v1/teams shows of a team the admin API never set; null: none.
  const std::map<std::string, std::chrono::seconds>* response_cache_teams = nullptr;
};

void register_admin_routes(http::Router& router, const AdminContext& context);
// GET /admin/v1/breaches, GET and PATCH /admin/v1/breaches/{id} (api/admin_breaches.cpp).
void register_breach_routes(http::Router& router, const AdminContext& context);

}  // namespace aegis::api
