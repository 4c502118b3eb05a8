#pragma once
// The embedded store: one SQLite connection in WAL mode, shared by all threads
// under a mutex. Calls block; the server reaches it through a DbExecutor.
// A second connection on a thread of its own checkpoints the WAL, so no
// commit pays for a checkpoint's sync (requests wait for their audit commit).
#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "core/clock.hpp"
#include "store/factory.hpp"

namespace aegis::store {

struct SqliteOptions {
  // How long a call waits for another process (e.g. `aegis admin` next to a
  // running server) to release the write lock before failing.
  std::chrono::milliseconds busy_timeout{5'000};
  // The writer id of this process's audit chains (audit/chain.hpp): the
  // gateway's, or another process's writing beside it (store/factory.hpp).
  std::string chain_writer{kGatewayChainWriter};
};

class SqliteStore final : public Database {
 public:
  using Options = SqliteOptions;

  // Opens (creating the file and its parent directory if missing) and applies
  // migrations. Throws std::runtime_error when the database cannot be opened
  // or its schema is newer than this binary knows. `clock` must outlive the store;
  // it stamps created_at_ms when a record arrives with 0.
  explicit SqliteStore(const std::string& path);
  SqliteStore(const std::string& path, const Clock& clock, const Options& options = {});
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

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

  Result<void> put_response(const StoredResponse& response) override;
  Result<StoredResponse> get_response(const std::string& team, const std::string& id, std::int64_t now_ms) override;
  Result<void> delete_response(const std::string& team, const std::string& id) override;
  Result<std::int64_t> purge_responses(std::int64_t now_ms) override;

  Result<void> revoke_console_session(const std::string& id_digest, std::int64_t expires_at_ms,
                                      std::int64_t now_ms) override;
  Result<bool> console_session_revoked(const std::string& id_digest) override;
  Result<void> ping() override;
  int schema_version() override;

  const std::string& path() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aegis::store
