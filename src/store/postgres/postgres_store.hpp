#pragma once
// The shared store: PostgreSQL 15 through libpq, for several stateless
// replicas on one database (storage.postgres_dsn). Same interfaces and the
// same meaning as the SQLite store; calls block on a connection from a small
// pool and the server reaches them through a DbExecutor, so no I/O thread
// waits on the database.
#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "core/clock.hpp"
#include "store/database.hpp"
#include "store/factory.hpp"

namespace aegis::store {

struct PostgresOptions {
  std::size_t max_connections = 8;
  // How often this process refreshes its heartbeat and recovers the intents of
  // processes that stopped refreshing theirs (0: never, for tests that drive
  // recovery themselves).
  std::chrono::milliseconds heartbeat_interval{5'000};
  // A process whose heartbeat is older than this is presumed dead: its
  // intents are recovered by whichever process looks next.
  std::chrono::milliseconds owner_stale_after{30'000};
  // storage.audit_retention_months: whole months of audit rows kept before
  // the current one; older monthly partitions are dropped (0: keep all).
  int audit_retention_months = 0;
  // This process's audit chains are "<owner>/<chain_writer>/<month>"
  // (store/factory.hpp).
  std::string chain_writer{kGatewayChainWriter};
};

class PostgresStore final : public Database {
 public:
  using Options = PostgresOptions;

  // Connects, applies migrations (one replica at a time, under an advisory
  // lock) and creates the audit partitions around now. Throws
  // std::runtime_error when the database cannot be reached at start-up or its
  // schema is newer than this binary knows. `clock` must outlive the store.
  PostgresStore(const std::string& dsn, const Clock& clock, const Options& options = {});
  ~PostgresStore() override;
  PostgresStore(const PostgresStore&) = delete;
  PostgresStore& operator=(const PostgresStore&) = delete;

  Result<Team> create_team(const Team& team) override;
  Result<Team> get_team(const std::string& name) override;
  Result<std::vector<Team>> list_teams() override;
  Result<Team> update_team(const std::string& name, const TeamPatch& patch) override;

  Result<ApiKeyRecord> create_key(const ApiKeyRecord& key) override;
  Result<ApiKeyRecord> get_key(const std::string& id) override;
  Result<std::vector<ApiKeyRecord>> list_keys(const std::optional<std::string>& team) override;
  Result<void> revoke_key(const std::string& id, std::int64_t revoked_at_ms) override;
  Result<ApiKeyRecord> update_key(const std::string& id, const KeyPatch& patch) override;
  Result<ApiKeyRecord> rotate_key(const std::string& id, const KeyRotation& rotation) override;
  Result<void> touch_keys(const std::vector<KeyUse>& uses) override;
  Result<std::vector<KeySpend>> load_key_spend(const std::string& period) override;

  Result<RateLimits> get_rate_limits(LimitScope scope, const std::string& name) override;
  Result<std::map<std::string, RateLimits>> list_rate_limits(LimitScope scope) override;
  Result<RateLimits> update_rate_limits(LimitScope scope, const std::string& name,
                                        const RateLimitsPatch& patch) override;

  Result<void> append_audit(const std::vector<audit::AuditRecord>& rows) override;
  Result<std::vector<audit::AuditRecord>> query_audit(const audit::AuditQuery& query) override;
  Result<std::int64_t> count_pipeda_violations() override;
  Result<audit::ComplianceTotals> compliance_totals() override;
  Result<std::vector<audit::TeamSpend>> load_spend(const std::string& period) override;
  // Recovers the intents of every process presumed dead (see Options) and of
  // processes that stopped gracefully, never this process's own.
  Result<std::int64_t> recover_pending() override;
  Result<void> scan_audit(const audit::AuditScan& scan,
                          const std::function<bool(const audit::StoredAuditRow&)>& visit) override;
  Result<std::vector<audit::ChainSummary>> list_chains() override;
  Result<std::optional<audit::ChainLink>> chain_head(const std::string& chain_id) override;
  Result<audit::Checkpoint> append_checkpoint(const audit::Checkpoint& checkpoint) override;
  Result<std::vector<audit::Checkpoint>> list_checkpoints(const std::optional<std::string>& chain_id) override;
  audit::ChainWriter* chain_writer() override;
  Result<bool> record_breach(const audit::Breach& breach) override;
  Result<std::vector<audit::Breach>> list_breaches(const audit::BreachQuery& query) override;
  Result<audit::Breach> get_breach(std::int64_t id) override;
  Result<audit::Breach> update_breach(const audit::BreachUpdate& update) override;
  Result<std::vector<audit::BreachUpdate>> breach_history(std::int64_t id) override;

  // Owners other than this one whose heartbeat is fresh (see Options).
  std::int64_t live_peers() override;
  // LISTEN on a connection of its own (revoke_key and update_team NOTIFY);
  // after a lost connection it reconnects and reports on_teams_changed, since
  // notifications sent meanwhile are gone.
  void watch_changes(const std::function<void(const std::string&)>& on_key_revoked,
                     const std::function<void()>& on_teams_changed) override;
  void stop_watching() override;

  Result<void> put_response(const StoredResponse& response) override;
  Result<StoredResponse> get_response(const std::string& team, const std::string& id, std::int64_t now_ms) override;
  Result<void> delete_response(const std::string& team, const std::string& id) override;
  Result<std::int64_t> purge_responses(std::int64_t now_ms) override;

  Result<void> revoke_console_session(const std::string& id_digest, std::int64_t expires_at_ms,
                                      std::int64_t now_ms) override;
  Result<bool> console_session_revoked(const std::string& id_digest) override;
  Result<void> ping() override;
  int schema_version() override;

  // Creates next month's audit partition and, with a retention set, drops
  // the partitions older than it; returns those dropped. The heartbeat
  // thread runs it hourly.
  Result<std::vector<std::string>> maintain_partitions();

  // Budgets shared with the other replicas, leased under this store's owner.
  BudgetPool* budget_pool() override;
  BudgetPool* key_budget_pool() override;
  // Rate-limit buckets shared with the other replicas.
  RatePool* rate_pool() override;

  // This process's identity among the replicas (random per store).
  const std::string& owner() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aegis::store
