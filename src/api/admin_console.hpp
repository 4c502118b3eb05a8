#pragma once
// What the admin console (/ui) reads besides the rest of /admin/v1: the
// overview, the providers' live state, the job queue, retrieval's
// collections and documents, the audit chain verification and the "Try it"
// inspection of a request. Every route declares Credential::admin_key and
// shows classifications, entity types, counts, ids and hashes, never request
// content (inspect shows back only what the administrator sent it).
// docs/ARCHITECTURE.md ("The admin console's API") is the contract.
#include <map>
#include <string>

#include "audit/audit_writer.hpp"
#include "config/config.hpp"
#include "core/clock.hpp"
#include "gateway/gateway.hpp"
#include "http/router.hpp"
#include "identity/authenticator.hpp"
#include "jobs/job_store.hpp"
#include "rag/rag_service.hpp"
#include "rag/rag_store.hpp"
#include "resilience/provider_health.hpp"
#include "store/database.hpp"
#include "store/db_executor.hpp"

namespace aegis::api {

struct ConsoleContext {
  store::Database& store;
  // Short reads and writes, as every admin route.
  store::DbExecutor& db;
  // Reads that walk many audit rows (the overview's window, the chain
  // verification): the compliance report's executor, so they never hold up
  // the requests' database work.
  store::DbExecutor& scan_db;
  const Clock& clock;
  const config::Config& config;
  gateway::Gateway& gateway;
  resilience::ProviderHealth& health;
  // Teams as their keys meet the pipeline (POST /admin/v1/inspect).
  identity::Authenticator& authenticator;
  // Flushed before the trail is read, so requests already answered count.
  audit::AuditWriter* audit_writer = nullptr;
  jobs::JobStore* job_store = nullptr;
  // Null without a retrieval store: the /admin/v1/rag routes answer 503.
  rag::RagStore* rag_store = nullptr;
  rag::RagService* rag = nullptr;
  // Keys trusted for checkpoint signatures: key_fingerprint -> raw Ed25519 public key.
  std::map<std::string, std::string> public_keys;
};

// GET /admin/v1/overview, /admin/v1/providers, /admin/v1/jobs/summary,
// /admin/v1/rag/collections, /admin/v1/rag/documents, DELETE
// /admin/v1/rag/documents/{id}, GET /admin/v1/audit/verify (api/admin_console.cpp).
void register_admin_console_routes(http::Router& router, const ConsoleContext& context);
// POST /admin/v1/inspect (api/admin_inspect.cpp).
void register_inspect_route(http::Router& router, const ConsoleContext& context);

}  // namespace aegis::api
