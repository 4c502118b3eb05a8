#include "store/sqlite/sqlite_store.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <limits>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <utility>

#include "audit/record_json.hpp"
#include "audit/scan_pages.hpp"
#include "core/system_clock.hpp"
#include "store/sqlite/audit_rows.hpp"
#include "store/sqlite/migrations.hpp"
#include "store/sqlite/statement.hpp"

namespace aegis::store {

namespace {

using sqlite::DbPtr;
using sqlite::StmtPtr;
using sqlite::Use;

Error db_error(std::string_view op, int rc) { return sqlite::db_error("storage", op, rc); }
Error corrupt_row(std::string_view op) { return sqlite::corrupt_row("storage", op); }

constexpr const char* kInsertTeam =
    "INSERT INTO teams(name, monthly_budget_micros, clearance, created_at_ms) VALUES (?1, ?2, ?3, ?4)";
constexpr const char* kGetTeam =
    "SELECT name, monthly_budget_micros, clearance, created_at_ms, response_cache_ttl_s FROM teams WHERE name = ?1";
constexpr const char* kListTeams =
    "SELECT name, monthly_budget_micros, clearance, created_at_ms, response_cache_ttl_s FROM teams ORDER BY name";
constexpr const char* kUpdateTeam =
    "UPDATE teams SET monthly_budget_micros = COALESCE(?2, monthly_budget_micros), "
    "clearance = COALESCE(?3, clearance), response_cache_ttl_s = COALESCE(?4, response_cache_ttl_s) WHERE name = ?1 "
    "RETURNING name, monthly_budget_micros, clearance, created_at_ms, response_cache_ttl_s";

#define AEGIS_KEY_COLUMNS                                                                                   \
  "id, team, prefix, secret_hash, created_at_ms, revoked_at_ms, clearance, models, monthly_budget_micros, " \
  "expires_at_ms, description, last_used_at_ms, previous_secret_hash, previous_valid_until_ms"
constexpr const char* kInsertKey =
    "INSERT INTO api_keys(" AEGIS_KEY_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";
constexpr const char* kGetKey = "SELECT " AEGIS_KEY_COLUMNS " FROM api_keys WHERE id = ?1";
constexpr const char* kListKeys = "SELECT " AEGIS_KEY_COLUMNS " FROM api_keys ORDER BY created_at_ms, rowid";
constexpr const char* kListTeamKeys =
    "SELECT " AEGIS_KEY_COLUMNS " FROM api_keys WHERE team = ?1 ORDER BY created_at_ms, rowid";
// One statement, so a concurrent change of another field is never undone:
// each field has a flag saying whether the patch sets it.
constexpr const char* kUpdateKey =
    "UPDATE api_keys SET models = CASE WHEN ?2 = 1 THEN ?3 ELSE models END, "
    "monthly_budget_micros = CASE WHEN ?4 = 1 THEN ?5 ELSE monthly_budget_micros END, "
    "expires_at_ms = CASE WHEN ?6 = 1 THEN ?7 ELSE expires_at_ms END, "
    "description = CASE WHEN ?8 = 1 THEN ?9 ELSE description END WHERE id = ?1 RETURNING " AEGIS_KEY_COLUMNS;
constexpr const char* kRotateKey =
    "UPDATE api_keys SET previous_secret_hash = CASE WHEN ?4 IS NULL THEN '' ELSE secret_hash END, "
    "previous_valid_until_ms = ?4, secret_hash = ?3, prefix = ?2 WHERE id = ?1 AND revoked_at_ms IS NULL "
    "RETURNING " AEGIS_KEY_COLUMNS;
constexpr const char* kTouchKey =
    "UPDATE api_keys SET last_used_at_ms = MAX(COALESCE(last_used_at_ms, 0), ?2) WHERE id = ?1";
constexpr const char* kLoadKeySpend =
    "SELECT key_id, period, spent_micros, requests FROM key_spend WHERE period = ?1 ORDER BY key_id";
constexpr const char* kInsertResponse =
    "INSERT INTO responses(id, team, created_at_ms, expires_at_ms, conversation_json, response_json) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
constexpr const char* kGetResponse =
    "SELECT id, team, created_at_ms, expires_at_ms, conversation_json, response_json FROM responses "
    "WHERE id = ?1 AND team = ?2 AND expires_at_ms > ?3";
constexpr const char* kDeleteResponse = "DELETE FROM responses WHERE id = ?1 AND team = ?2";
constexpr const char* kPurgeResponses = "DELETE FROM responses WHERE expires_at_ms <= ?1";
constexpr const char* kRevokeConsoleSession =
    "INSERT INTO console_revocations (id_digest, expires_at_ms) VALUES (?1, ?2) ON CONFLICT (id_digest) DO NOTHING";
constexpr const char* kPurgeConsoleRevocations = "DELETE FROM console_revocations WHERE expires_at_ms <= ?1";
constexpr const char* kConsoleSessionRevoked = "SELECT 1 FROM console_revocations WHERE id_digest = ?1";
constexpr const char* kRevokeKey = "UPDATE api_keys SET revoked_at_ms = COALESCE(revoked_at_ms, ?2) WHERE id = ?1";

// Four spellings rather than "(?2 IS NULL OR team = ?2)" so SQLite can use the indices.
// The optional filters of a listing (AuditQuery): each a no-op when its parameter is NULL.
#define AEGIS_AUDIT_FILTERS                                                                            \
  " AND (?4 IS NULL OR time_ms <= ?4) AND (?5 IS NULL OR level = ?5) AND (?6 IS NULL OR status >= ?6)" \
  " AND (?7 IS NULL OR status <= ?7) ORDER BY time_ms DESC, id DESC LIMIT ?1 OFFSET ?8"
constexpr const char* kQueryAudit = "SELECT " AEGIS_AUDIT_COLUMNS " FROM audit WHERE 1" AEGIS_AUDIT_FILTERS;
constexpr const char* kQueryAuditTeam = "SELECT " AEGIS_AUDIT_COLUMNS " FROM audit WHERE team = ?2" AEGIS_AUDIT_FILTERS;
constexpr const char* kQueryAuditSince =
    "SELECT " AEGIS_AUDIT_COLUMNS " FROM audit WHERE time_ms >= ?3" AEGIS_AUDIT_FILTERS;
constexpr const char* kQueryAuditTeamSince =
    "SELECT " AEGIS_AUDIT_COLUMNS " FROM audit WHERE team = ?2 AND time_ms >= ?3" AEGIS_AUDIT_FILTERS;
#undef AEGIS_AUDIT_FILTERS
constexpr const char* kCountViolations = "SELECT COUNT(*) FROM pipeda_violations";
constexpr const char* kComplianceTotals =
    "SELECT (SELECT COUNT(*) FROM pipeda_violations), "
    "COALESCE(SUM(egress_veto), 0), COALESCE(SUM(egress_blocked), 0) FROM audit";
constexpr const char* kLoadSpend =
    "SELECT team, period, spent_micros, requests FROM budget_spend WHERE period = ?1 ORDER BY team";
constexpr const char* kBegin = "BEGIN IMMEDIATE";
constexpr const char* kReadPending = "SELECT " AEGIS_AUDIT_COLUMNS " FROM audit_pending ORDER BY seq";
constexpr const char* kClearPending = "DELETE FROM audit_pending";
constexpr const char* kCommit = "COMMIT";
constexpr const char* kRollback = "ROLLBACK";
constexpr int kMaxAuditQueryLimit = 1000;

// The audit chain (audit/chain.hpp). `chain_id <> ''` lets SQLite use the
// partial index audit_chain with a bound chain id. Scans read in pages so a writer is
// never held off for long; keyset paging, so a page costs the same however
// deep the scan is.
#define AEGIS_CHAINED_COLUMNS AEGIS_AUDIT_COLUMNS ", chain_id, chain_seq, prev_hash, row_hash, id"
constexpr const char* kScanChain =
    "SELECT " AEGIS_CHAINED_COLUMNS
    " FROM audit WHERE chain_id = ?1 AND chain_id <> '' AND chain_seq > ?2 ORDER BY chain_seq LIMIT ?3";
constexpr const char* kScanTime = "SELECT " AEGIS_CHAINED_COLUMNS
                                  " FROM audit WHERE (time_ms > ?1 OR (time_ms = ?1 AND id > ?2)) AND time_ms < ?3 "
                                  "ORDER BY time_ms, id LIMIT ?4";
constexpr const char* kScanTimeTeam = "SELECT " AEGIS_CHAINED_COLUMNS
                                      " FROM audit WHERE team = ?5 AND (time_ms > ?1 OR (time_ms = ?1 AND id > ?2)) "
                                      "AND time_ms < ?3 ORDER BY time_ms, id LIMIT ?4";
// From the index alone, then two lookups a chain: an aggregate over the rows'
// time_ms would read the whole table under the store's lock (0.55 against
// 0.12 s at a million rows), and the SIEM exporter asks every few seconds.
constexpr const char* kListChains =
    "SELECT c.chain_id, c.first_seq, c.last_seq, c.n, "
    "(SELECT time_ms FROM audit a WHERE a.chain_id = c.chain_id AND a.chain_id <> '' AND a.chain_seq = c.first_seq), "
    "(SELECT time_ms FROM audit a WHERE a.chain_id = c.chain_id AND a.chain_id <> '' AND a.chain_seq = c.last_seq) "
    "FROM (SELECT chain_id, MIN(chain_seq) AS first_seq, MAX(chain_seq) AS last_seq, COUNT(*) AS n FROM audit "
    "WHERE chain_id <> '' GROUP BY chain_id) c ORDER BY c.chain_id";
constexpr const char* kInsertCheckpoint =
    "INSERT INTO audit_checkpoints(chain_id, seq, head_hash, sealed_at_ms, key_id, signature) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id";
constexpr const char* kListCheckpoints =
    "SELECT id, chain_id, seq, head_hash, sealed_at_ms, key_id, signature FROM audit_checkpoints ORDER BY id";
constexpr const char* kListChainCheckpoints =
    "SELECT id, chain_id, seq, head_hash, sealed_at_ms, key_id, signature FROM audit_checkpoints "
    "WHERE chain_id = ?1 ORDER BY id";
#define AEGIS_BREACH_COLUMNS                                                                                           \
  "id, detected_at_ms, kind, ref, team, key_id, provider, entities, request_id, detail, status, note, updated_at_ms, " \
  "updated_by"
constexpr const char* kListBreaches = "SELECT " AEGIS_BREACH_COLUMNS
                                      " FROM breaches WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR team = ?2) "
                                      "AND (?3 IS NULL OR kind = ?3) ORDER BY id DESC LIMIT ?4";
constexpr const char* kGetBreach = "SELECT " AEGIS_BREACH_COLUMNS " FROM breaches WHERE id = ?1";
constexpr const char* kUpdateBreach =
    "UPDATE breaches SET status = ?2, note = ?3, updated_at_ms = ?4, updated_by = ?5 WHERE id = ?1";
constexpr const char* kInsertBreachUpdate =
    "INSERT INTO breach_updates(breach_id, time_ms, status, note, actor) VALUES (?1, ?2, ?3, ?4, ?5)";
constexpr const char* kBreachHistory =
    "SELECT breach_id, time_ms, status, note, actor FROM breach_updates WHERE breach_id = ?1 ORDER BY id";
constexpr std::int64_t kScanPage = 1000;
constexpr int kChainColumn = 30;  // the first chain column after AEGIS_AUDIT_COLUMNS

constexpr const char* kPing = "SELECT 1";
constexpr const char* kSchemaVersion = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations";

std::optional<Team> read_team(const Use& st) {
  Team t;
  t.name = st.text(0);
  t.monthly_budget = Money::from_micros(st.int64(1));
  const auto level = parse_level(st.text(2));
  if (!level) return std::nullopt;
  t.clearance = *level;
  t.created_at_ms = st.int64(3);
  if (!st.is_null(4)) t.response_cache_ttl_s = st.int64(4);
  return t;
}

std::optional<ApiKeyRecord> read_key(const Use& st) {
  ApiKeyRecord k;
  k.id = st.text(0);
  k.team = st.text(1);
  k.prefix = st.text(2);
  k.secret_hash = st.text(3);
  k.created_at_ms = st.int64(4);
  if (!st.is_null(5)) k.revoked_at_ms = st.int64(5);
  // The column's CHECK admits only the four names.
  if (!st.is_null(6)) k.clearance = parse_level(st.text(6));
  if (!st.is_null(7)) {
    // The same JSON array of strings as an audit row's fallback path.
    k.models = audit::fallback_path_from_json(st.text(7));
    if (!k.models) return std::nullopt;
  }
  if (!st.is_null(8)) k.monthly_budget = Money::from_micros(st.int64(8));
  if (!st.is_null(9)) k.expires_at_ms = st.int64(9);
  k.description = st.text(10);
  if (!st.is_null(11)) k.last_used_at_ms = st.int64(11);
  k.previous_secret_hash = st.text(12);
  if (!st.is_null(13)) k.previous_valid_until_ms = st.int64(13);
  return k;
}

void bind_optional(Use& st, int i, const std::optional<std::int64_t>& v) {
  if (v)
    st.bind(i, *v);
  else
    st.bind_null(i);
}

using sqlite::is_memory_path;

// WAL pages after which a commit asks for a checkpoint (SQLite's own default).
constexpr int kCheckpointPages = 1000;

// Checkpoints the WAL on a thread and connection of its own. SQLite's
// automatic checkpoint runs inside the commit that crosses the threshold and
// syncs the database file there; a successful request waits for its audit
// commit, so that would put an fsync on every few hundredth answer. A passive
// checkpoint runs beside the writers instead of in their way.
class WalCheckpointer {
 public:
  WalCheckpointer(const std::string& path, std::chrono::milliseconds busy_timeout)
      : db_(sqlite::open_database(path, SQLITE_OPEN_NOMUTEX, busy_timeout)) {
    // A connection that has not read the file yet does not know it is in WAL
    // mode, and its checkpoints would do nothing.
    if (sqlite3_exec(db_.get(), "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr) != SQLITE_OK) {
      throw std::runtime_error(std::string("cannot open the SQLite database for checkpoints: ") +
                               sqlite3_errmsg(db_.get()));
    }
    thread_ = std::thread([this] { run(); });
  }
  ~WalCheckpointer() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // Replaces the connection's automatic checkpoint with this thread's.
  void watch(sqlite3* db) { sqlite3_wal_hook(db, &WalCheckpointer::on_commit, this); }

 private:
  // Runs in the committing call: only a flag and a wake-up.
  static int on_commit(void* self, sqlite3*, const char*, int wal_pages) {
    if (wal_pages >= kCheckpointPages) {
      auto* checkpointer = static_cast<WalCheckpointer*>(self);
      {
        std::lock_guard lock(checkpointer->mu_);
        checkpointer->due_ = true;
      }
      checkpointer->cv_.notify_one();
    }
    return SQLITE_OK;
  }

  void run() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return due_ || stopping_; });
      if (stopping_) return;
      due_ = false;
      lock.unlock();
      // Busy (another connection is checkpointing) or partial (readers): the next commit asks again.
      sqlite3_wal_checkpoint_v2(db_.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
      lock.lock();
    }
  }

  DbPtr db_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool due_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace

struct SqliteStore::Impl {
  explicit Impl(std::string chain_writer) : chain(std::move(chain_writer)) {}

  std::string path;
  const Clock* clock = nullptr;
  std::mutex mu;
  std::unique_ptr<WalCheckpointer> checkpointer;  // declared before db: outlives the connection it watches
  DbPtr db;                                       // declared before the statements so it is closed after them
  std::unordered_map<const char*, StmtPtr> statements;
  sqlite::AuditStatements audit_statements;
  // One chain per month for this process's rows: "gateway" for the process that
  // owns the database, another writer id for one writing beside it (`aegis admin`).
  audit::ChainWriter chain;
  int version = 0;

  std::int64_t now_ms() const { return clock->wall_ms(); }

  // Caller holds mu. nullptr (with rc set) when SQLite cannot prepare it.
  sqlite3_stmt* statement(const char* sql, int& rc) {
    if (auto it = statements.find(sql); it != statements.end()) return it->second.get();
    sqlite3_stmt* raw = nullptr;
    rc = sqlite3_prepare_v3(db.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(raw);
      return nullptr;
    }
    statements.emplace(sql, StmtPtr(raw));
    return raw;
  }

  // Caller holds mu. Runs a statement that returns no rows (BEGIN, COMMIT, ...).
  bool run_simple(const char* sql, int& rc) {
    sqlite3_stmt* raw = statement(sql, rc);
    if (!raw) return false;
    Use st(raw);
    rc = st.step();
    return rc == SQLITE_DONE;
  }

  void exec_pragma(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db.get(), sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg =
          std::string("cannot configure the SQLite database (") + sql + "): " + (err ? err : sqlite3_errmsg(db.get()));
      sqlite3_free(err);
      throw std::runtime_error(msg);
    }
  }
};

SqliteStore::SqliteStore(const std::string& path) : SqliteStore(path, SystemClock::instance()) {}

SqliteStore::SqliteStore(const std::string& path, const Clock& clock, const Options& options)
    : impl_(std::make_unique<Impl>(options.chain_writer)) {
  impl_->path = path;
  impl_->clock = &clock;

  impl_->db = sqlite::open_database(path, SQLITE_OPEN_FULLMUTEX, options.busy_timeout);
  sqlite3* db = impl_->db.get();

  {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, nullptr) != SQLITE_OK) {
      throw std::runtime_error(std::string("cannot configure the SQLite database: ") + sqlite3_errmsg(db));
    }
    StmtPtr guard(st);
    std::string mode;
    if (sqlite3_step(st) == SQLITE_ROW) {
      const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
      mode = p ? p : "";
    }
    if (mode != "wal" && !(is_memory_path(path) && mode == "memory")) {
      throw std::runtime_error("cannot switch the SQLite database '" + path + "' to WAL mode (journal mode is '" +
                               mode + "'): " + sqlite3_errmsg(db));
    }
  }
  impl_->exec_pragma("PRAGMA synchronous=NORMAL");
  impl_->exec_pragma("PRAGMA foreign_keys=ON");
  if (!is_memory_path(path)) {
    impl_->checkpointer = std::make_unique<WalCheckpointer>(path, options.busy_timeout);
    impl_->checkpointer->watch(db);
  }

  try {
    impl_->version = sqlite::apply_migrations(db, impl_->now_ms());
  } catch (const std::exception& e) {
    throw std::runtime_error("SQLite database '" + path + "': " + e.what());
  }
}

SqliteStore::~SqliteStore() = default;

const std::string& SqliteStore::path() const noexcept { return impl_->path; }

Result<Team> SqliteStore::create_team(const Team& team) {
  constexpr std::string_view op = "create_team";
  if (team.monthly_budget.micros < 0) {
    return make_error(ErrorCode::invalid_request, "monthly budget must not be negative");
  }
  Team out = team;
  if (out.created_at_ms == 0) out.created_at_ms = impl_->now_ms();

  std::lock_guard lock(impl_->mu);
  int rc = SQLITE_OK;
  sqlite3_stmt* raw = impl_->statement(kInsertTeam, rc);
  if (!raw) return db_error(op, rc);
  Use st(raw);
  st.bind(1, out.name);
  st.bind(2, out.monthly_budget.micros);
  st.bind(3, to_string(out.clearance));
  st.bind(4, out.created_at_ms);
  rc = st.step();
  if (rc == SQLITE_DONE) return out;
  if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE) {
    return make_error(ErrorCode::conflict, "team '" + out.name + "' already exists");
  }
  if ((rc & 0xff) == SQLITE_CONSTRAINT) {
    return make_error(ErrorCode::invalid_request, "team fields are out of range");
  }
  return db_error(op, rc);
}

Result<Team> SqliteStore::get_team(const std::string& name) {
  constexpr std::string_view op = "get_team";
  std::lock_guard lock(impl_->mu);
  int rc = SQLITE_OK;
  sqlite3_stmt* raw = impl_->statement(kGetTeam, rc);
  if (!raw) return db_error(op, rc);
  Use st(raw);
  st.bind(1, name);
  rc = st.step();
  if (rc == SQLITE_DONE) return make_error(ErrorCode::not_found, "team '" + name + "' not found");
  if (rc != SQLITE_ROW) return db_error(op, rc);
  auto team = read_team(st);
  if (!team) return corrupt_row(op);
  return std::move(*team);
}

Result<std::vector<Team>> SqliteStore::list_teams() {
  constexpr std::string_view op = "list_teams";
  std::lock_guard lock(impl_->mu);
  int rc = SQLITE_OK;
  sqlite3_stmt* raw = impl_->statement(kListTeams, rc);
  if (!raw) return db_error(op, rc);
  Use st(raw);
  std::vector<Team> out;
  while ((rc = st.step()) == SQLITE_ROW) {
    auto team = read_team(st);
    if (!team) return corrupt_row(op);
    out.push_back(std::move(*team));
  }
  if (rc != SQLITE_DONE) return db_error(op, rc);
  return out;
}

Result<Team> SqliteStore::update_team(const std::string& name, const TeamPatch& patch) {
  constexpr std::string_view op = "update_team";
  if (patch.monthly_budget && patch.monthly_budget->micros < 0) {
    return make_error(ErrorCode::invalid_request, "monthly budget must not be negative");
  }
  if (patch.response_cache_ttl_s && *patch.response_cache_ttl_s < 0) {
    return make_error(ErrorCode::invalid_request, "response cache ttl must not be negative");
  }
  if (!patch.monthly_budget && !patch.clearance && !patch.response_cache_ttl_s) return get_team(name);

  std::lock_guard lock(impl_->mu);
  int rc = SQLITE_OK;
  sqlite3_stmt* raw = impl_->statement(kUpdateTeam, rc);
  if (!raw) return db_error(op, rc);
  Use st(raw);
  st.bind(1, name);
  if (patch.monthly_budget)
    st.bind(2, patch.monthly_budget->micros);
  else
    st.bind_null(2);
  if (patch.clearance)
    st.bind(3, to_string(*patch.clearance));
  else
    st.bind_null(3);
  if (patch.response_cache_ttl_s)
    st.bind(4, *patch.response_cache_ttl_s);
  else
    st.bind_null(4);
  rc = st.step();
  if (rc == SQLITE_DONE) return make_error(ErrorCode::not_found, "team '" + name + "' not found");
  if (rc != SQLITE_ROW) {
    if ((rc & 0xff) == SQLITE_CONSTRAINT) return make_error(ErrorCode::invalid_request, "team fields are out of range");
    return db_error(op, rc);
  }
  auto team = read_team(st);
  rc = st.step();  // run the statement to completion
  if (rc != SQLITE_DONE) return db_error(op, rc);
  if (!team) return corrupt_row(op);
  return std::move(*team);
}

Result<ApiKeyRecord> SqliteStore::create_key(const ApiKeyRecord& key) {
  constexpr std::string_view op = "create_key";
  ApiKeyRecord out = key;
  if (out.created_at_ms == 0) out.created_at_ms = impl_->now_ms();

  std::lock_guard lock(impl_->mu);
  int rc = SQLITE_OK;
  sqlite3_stmt* raw = impl_->statement(kInsertKey, rc);
  if (!raw) return db_error(op, rc);
  Use st(raw);
  st.bind(1, out.id);
  st.bind(2, out.team);
  st.bind(3, out.prefix);
  st.bind(4, out.secret_hash);
  st.bind(5, out.created_at_ms);
  if (out.revoked_at_ms)
    st.bind(6, *out.revoked_at_ms);
  else
    st.bind_null(6);
  if (out.clearance)
    st.bind(7, to_string(*out.clearance));
  else
    st.bind_null(7);
  const std::string models = out.models ? audit::fallback_path_to_json(*out.models) : std::string();
  if (out.models)
    st.bind(8, models);
  else
    st.bind_null(8);
  bind_optional(st, 9, out.monthly_budget ? std::optional<std::int64_t>(out.monthly_budget->micros) : std::nullopt);
  bind_optional(st, 10, out.expires_at_ms);
  st.bind(11, out.description);
  bind_optional(st, 12, out.last_used_at_ms);
  st.bind(13, out.previous_secret_hash);
  bind_optional(st, 14, out.previous_valid_until_ms);
  rc = st.step();
  if (rc == SQLITE_DONE) return out;
  if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) {
    return make_error(ErrorCode::not_found, "team '" + out.team + "' not found");
  }
  if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE) {
    return make_error(ErrorCode::conflict, "API key '" + out.id + "' already exists");
  }
  if ((rc & 0xff) == SQLITE_CONSTRAINT) {
    return make_error(ErrorCode::invalid_request, "API key fields are out of range");
  }
  return db_error(op, rc);
}

Result<ApiKeyRecord> SqliteStore::get_key(const std::string& id) {
  constexpr std::string_view op = "get_key";
  std::lock_guard lock(impl_->mu);
  int rc = SQLITE_OK;
  sqlite3_stmt* raw = impl_->statement(kGetKey, rc);
  if (!raw) return db_error(op, rc);
  Use st(raw);
  st.bind(1, id);
  rc = st.step();
  if (rc == SQLITE_DONE) return make_error(ErrorCode::not_found, "API key '" + id + "' not found");
  if (rc != SQLITE_ROW) return db_error(op, rc);
  auto key = read_key(st);
  if (!key) return corrupt_row(op);
  return std::move(*key);
}

Result<std::vector<ApiKeyRecord>> SqliteStore::list_keys(const std::optional<std::string>& team) {
  constexpr std::string_view op = "list_keys";
  std::lock_guard lock(impl_->mu);
  int rc = SQLITE_OK;
  sqlite3_stmt* raw = impl_->statement(team ? kListTeamKeys : kListKeys, rc);
  if (!raw) return db_error(op, rc);
  Use st(raw);
  if (team) st.bind(1, *team);
  std::vector<ApiKeyRecord> out;
  while ((rc = st.step()) == SQLITE_ROW) {
    auto key = read_key(st);
    if (!key) return corrupt_row(op);
    out.push_back(std::move(*key));
  }
  if (rc != SQLITE_DONE) return db_error(op, rc);
  return out;
}

Result<void> SqliteStore::revoke_key(const std::string& id, std::int64_t revoked_at_ms) {
  constexpr std::string_view op = "revoke_key";
  std::lock_guard lock(impl_->mu);
  int rc = SQLITE_OK;
  sqlite3_stmt* raw = impl_->statement(kRevokeKey, rc);
  if (!raw) return db_error(op, rc);
  Use st(raw);
  st.bind(1, id);
  st.bind(2, revoked_at_ms);
  rc = st.step();
  if (rc != SQLITE_DONE) return db_error(op, rc);
  if (sqlite3_changes(impl_->db.get()) == 0) {
    return make_error(ErrorCode::not_found, "API key '" + id + "' not found");
  }
  return {};
}

Result<ApiKeyRecord> SqliteStore::update_key(const std::string& id, const KeyPatch& patch) {
  constexpr std::string_view op = "update_key";
  if (patch.empty()) return get_key(id);
  std::lock_guard lock(impl_->mu);
  int rc = SQLITE_OK;
  sqlite3_stmt* raw = impl_->statement(kUpdateKey, rc);
  if (!raw) return db_error(op, rc);
  Use st(raw);
  st.bind(1, id);
  st.bind(2, std::int64_t{patch.models ? 1 : 0});
  const std::string models =
      patch.models && *patch.models ? audit::fallback_path_to_json(**patch.models) : std::string();
  if (patch.models && *patch.models)
    st.bind(3, models);
  else
    st.bind_null(3);
  st.bind(4, std::int64_t{patch.monthly_budget ? 1 : 0});
  bind_optional(st, 5,
                patch.monthly_budget && *patch.monthly_budget
                    ? std::optional<std::int64_t>((*patch.monthly_budget)->micros)
                    : std::nullopt);
  st.bind(6, std::int64_t{patch.expires_at_ms ? 1 : 0});
  bind_optional(st, 7, patch.expires_at_ms ? *patch.expires_at_ms : std::nullopt);
  st.bind(8, std::int64_t{patch.description ? 1 : 0});
  st.bind(9, patch.description ? std::string_view(*patch.description) : std::string_view());
  rc = st.step();
  if (rc == SQLITE_DONE) return make_error(ErrorCode::not_found, "API key '" + id + "' not found");
  if (rc != SQLITE_ROW) {
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
      return make_error(ErrorCode::invalid_request, "API key fields are out of range");
    }
    return db_error(op, rc);
  }
  auto key = read_key(st);
  rc = st.step();  // run the statement to completion
  if (rc != SQLITE_DONE) return db_error(op, rc);
  if (!key) return corrupt_row(op);
  return std::move(*key);
}

Result<ApiKeyRecord> SqliteStore::rotate_key(const std::string& id, const KeyRotation& rotation) {
  constexpr std::string_view op = "rotate_key";
  {
    std::lock_guard lock(impl_->mu);
    int rc = SQLITE_OK;
    sqlite3_stmt* raw = impl_->statement(kRotateKey, rc);
    if (!raw) return db_error(op, rc);
    Use st(raw);
    st.bind(1, id);
    st.bind(2, rotation.prefix);
    st.bind(3, rotation.secret_hash);
    bind_optional(st, 4, rotation.previous_valid_until_ms);
    rc = st.step();
    if (rc == SQLITE_ROW) {
      auto key = read_key(st);
      rc = st.step();
      if (rc != SQLITE_DONE) return db_error(op, rc);
      if (!key) return corrupt_row(op);
      return std::move(*key);
    }
    if (rc != SQLITE_DONE) return db_error(op, rc);
  }
  // Nothing rotated: absent (not_found) or revoked.
  AEGIS_TRY(found, get_key(id));
  (void)found;
  return make_error(ErrorCode::conflict, "API key '" + id + "' is revoked; a revoked key cannot be rotated");
}

Result<void> SqliteStore::touch_keys(const std::vector<KeyUse>& uses) {
  constexpr std::string_view op = "touch_keys";
  if (uses.empty()) return {};
  std::lock_guard lock(impl_->mu);
  sqlite3* db = impl_->db.get();
  int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return db_error(op, rc);
  sqlite3_stmt* raw = impl_->statement(kTouchKey, rc);
  if (raw) {
    for (const auto& use : uses) {
      Use st(raw);
      st.bind(1, use.id);
      st.bind(2, use.used_at_ms);
      rc = st.step();
      if (rc != SQLITE_DONE) break;
      rc = SQLITE_OK;
    }
  }
  if (rc != SQLITE_OK) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    return db_error(op, rc);
  }
  rc = sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    return db_error(op, rc);
  }
  return {};
}

Result<std::vector<KeySpend>> SqliteStore::load_key_spend(const std::string& period) {
  constexpr std::string_view op = "load_key_spend";
  std::lock_guard lock(impl_->mu);
  int rc = SQLITE_OK;
  sqlite3_stmt* raw = impl_->statement(kLoadKeySpend, rc);
  if (!raw) return db_error(op, rc);
  Use st(raw);
  st.bind(1, period);
  std::vector<KeySpend> out;
  while ((rc = st.step()) == SQLITE_ROW) {
    out.push_back(KeySpend{st.text(0), st.text(1), Money::from_micros(st.int64(2)), st.int64(3)});
  }
  if (rc != SQLITE_DONE) return db_error(op, rc);
  return out;
}

Result<void> SqliteStore::put_response(const StoredResponse& response) {
  constexpr std::string_view op = "put_response";
  std::lock_guard lock(impl_->mu);
  int rc = SQLITE_OK;
  {
    sqlite3_stmt* raw = impl_->statement(kPurgeResponses, rc);
    if (!raw) return db_error(op, rc);
    Use st(raw);
    st.bind(1, response.created_at_ms);
    rc = st.step();
    if (rc != SQLITE_DONE) return db_error(op, rc);
  }
  sqlite3_stmt* raw = impl_->statement(kInsertResponse, rc);
  if (!raw) return db_error(op, rc);
  Use st(raw, sqlite::TextLifetime::borrowed);
  st.bind(1, response.id);
  st.bind(2, response.team);
  st.bind(3, response.created_at_ms);
  st.bind(4, response.expires_at_ms);
  st.bind(5, response.conversation_json);
  st.bind(6, response.response_json);
  rc = st.step();
  if (rc == SQLITE_DONE) return {};
  if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
    return make_error(ErrorCode::conflict, "response '" + response.id + "' already exists");
  return db_error(op, rc);
}

Result<StoredResponse> SqliteStore::get_response(const std::string& team, const std::string& id, std::int64_t now_ms) {
  constexpr std::string_view op = "get_response";
  std::lock_guard lock(impl_->mu);
  int rc = SQLITE_OK;
  sqlite3_stmt* raw = impl_->statement(kGetResponse, rc);
  if (!raw) return db_error(op, rc);
  Use st(raw);
  st.bind(1, id);
  st.bind(2, team);
  st.bind(3, now_ms);
  rc = st.step();
  if (rc == SQLITE_DONE) return make_error(ErrorCode::not_found, "response '" + id + "' not found");
  if (rc != SQLITE_ROW) return db_error(op, rc);
  StoredResponse out;
  out.id = st.text(0);
  out.team = st.text(1);
  out.created_at_ms = st.int64(2);
  out.expires_at_ms = st.int64(3);
  out.conversation_json = st.text(4);
  out.response_json = st.text(5);
  return out;
}

Result<void> SqliteStore::delete_response(const std::string& team, const std::string& id) {
  constexpr std::string_view op = "delete_response";
  std::lock_guard lock(impl_->mu);
  int rc = SQLITE_OK;
  sqlite3_stmt* raw = impl_->statement(kDeleteResponse, rc);
  if (!raw) return db_error(op, rc);
  Use st(raw);
  st.bind(1, id);
  st.bind(2, team);
  rc = st.step();
  if (rc != SQLITE_DONE) return db_error(op, rc);
  if (sqlite3_changes(impl_->db.get()) == 0) return make_error(ErrorCode::not_found, "response '" + id + "' not found");
  return {};
}

Result<std::int64_t> SqliteStore::purge_responses(std::int64_t now_ms) {
  constexpr std::string_view op = "purge_responses";
  std::lock_guard lock(impl_->mu);
  int rc = SQLITE_OK;
  sqlite3_stmt* raw = impl_->statement(kPurgeResponses, rc);
  if (!raw) return db_error(op, rc);
  Use st(raw);
  st.bind(1, now_ms);
  rc = st.step();
  if (rc != SQLITE_DONE) return db_error(op, rc);
  return static_cast<std::int64_t>(sqlite3_changes(impl_->db.get()));
}

Result<void> SqliteStore::revoke_console_session(const std::string& id_digest, std::int64_t expires_at_ms,
                                                 std::int64_t now_ms) {
  constexpr std::string_view op = "revoke_console_session";
  std::lock_guard lock(impl_->mu);
  int rc = SQLITE_OK;
  sqlite3_stmt* purge = impl_->statement(kPurgeConsoleRevocations, rc);
  if (!purge) return db_error(op, rc);
  {
    Use st(purge);
    st.bind(1, now_ms);
    if ((rc = st.step()) != SQLITE_DONE) return db_error(op, rc);
  }
  sqlite3_stmt* insert = impl_->statement(kRevokeConsoleSession, rc);
  if (!insert) return db_error(op, rc);
  Use st(insert);
  st.bind(1, id_digest);
  st.bind(2, expires_at_ms);
  if ((rc = st.step()) != SQLITE_DONE) return db_error(op, rc);
  return {};
}

Result<bool> SqliteStore::console_session_revoked(const std::string& id_digest) {
  constexpr std::string_view op = "console_session_revoked";
  std::lock_guard lock(impl_->mu);
  int rc = SQLITE_OK;
  sqlite3_stmt* raw = impl_->statement(kConsoleSessionRevoked, rc);
  if (!raw) return db_error(op, rc);
  Use st(raw);
  st.bind(1, id_digest);
  rc = st.step();
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return db_error(op, rc);
}

Result<void> SqliteStore::append_audit(const std::vector<audit::AuditRecord>& rows) {
  constexpr std::string_view op = "append_audit";
  if (rows.empty()) return {};
  auto chain = impl_->chain.begin();
  std::lock_guard lock(impl_->mu);
  sqlite3* db = impl_->db.get();
  int rc = SQLITE_OK;
  // IMMEDIATE takes the write lock up front, so a busy database fails here
  // (retryable) rather than halfway through the batch.
  if (!impl_->run_simple(kBegin, rc)) return db_error(op, rc);
  auto fail = [&](int code) {
    if (!sqlite3_get_autocommit(db)) impl_->run_simple(kRollback, rc);
    return db_error(op, code);
  };
  rc = sqlite::insert_audit_rows(db, impl_->audit_statements, rows, chain);
  if (rc != SQLITE_OK) return fail(rc);
  if (!impl_->run_simple(kCommit, rc)) return fail(rc);
  chain.commit();
  return {};
}

Result<std::vector<audit::AuditRecord>> SqliteStore::query_audit(const audit::AuditQuery& query) {
  constexpr std::string_view op = "query_audit";
  const int limit = std::clamp(query.limit, 1, kMaxAuditQueryLimit);
  const char* sql = query.team ? (query.since_ms ? kQueryAuditTeamSince : kQueryAuditTeam)
                               : (query.since_ms ? kQueryAuditSince : kQueryAudit);
  std::lock_guard lock(impl_->mu);
  int rc = SQLITE_OK;
  sqlite3_stmt* raw = impl_->statement(sql, rc);
  if (!raw) return db_error(op, rc);
  Use st(raw);
  st.bind(1, static_cast<std::int64_t>(limit));
  if (query.team) st.bind(2, *query.team);
  if (query.since_ms) st.bind(3, *query.since_ms);
  if (query.until_ms) st.bind(4, *query.until_ms);
  if (query.level) st.bind(5, *query.level);
  if (query.status_min) st.bind(6, static_cast<std::int64_t>(*query.status_min));
  if (query.status_max) st.bind(7, static_cast<std::int64_t>(*query.status_max));
  st.bind(8, static_cast<std::int64_t>(std::clamp(query.offset, 0, audit::kMaxAuditQueryOffset)));
  std::vector<audit::AuditRecord> out;
  while ((rc = st.step()) == SQLITE_ROW) {
    auto row = sqlite::read_audit_row(st);
    if (!row) return corrupt_row(op);
    out.push_back(std::move(*row));
  }
  if (rc != SQLITE_DONE) return db_error(op, rc);
  return out;
}

Result<std::int64_t> SqliteStore::count_pipeda_violations() {
  constexpr std::string_view op = "count_pipeda_violations";
  std::lock_guard lock(impl_->mu);
  int rc = SQLITE_OK;
  sqlite3_stmt* raw = impl_->statement(kCountViolations, rc);
  if (!raw) return db_error(op, rc);
  Use st(raw);
  rc = st.step();
  if (rc != SQLITE_ROW) return db_error(op, rc);
  return st.int64(0);
}

Result<audit::ComplianceTotals> SqliteStore::compliance_totals() {
  constexpr std::string_view op = "compliance_totals";
  std::lock_guard lock(impl_->mu);
  int rc = SQLITE_OK;
  sqlite3_stmt* raw = impl_->statement(kComplianceTotals, rc);
  if (!raw) return db_error(op, rc);
  Use st(raw);
  rc = st.step();
  if (rc != SQLITE_ROW) return db_error(op, rc);
  return audit::ComplianceTotals{st.int64(0), st.int64(1), st.int64(2)};
}

Result<std::vector<audit::TeamSpend>> SqliteStore::load_spend(const std::string& period) {
  constexpr std::string_view op = "load_spend";
  std::lock_guard lock(impl_->mu);
  int rc = SQLITE_OK;
  sqlite3_stmt* raw = impl_->statement(kLoadSpend, rc);
  if (!raw) return db_error(op, rc);
  Use st(raw);
  st.bind(1, period);
  std::vector<audit::TeamSpend> out;
  while ((rc = st.step()) == SQLITE_ROW) {
    audit::TeamSpend spend;
    spend.team = st.text(0);
    spend.period = st.text(1);
    spend.spent = Money::from_micros(st.int64(2));
    spend.requests = st.int64(3);
    out.push_back(std::move(spend));
  }
  if (rc != SQLITE_DONE) return db_error(op, rc);
  return out;
}

Result<std::int64_t> SqliteStore::recover_pending() {
  constexpr std::string_view op = "recover_pending";
  auto chain = impl_->chain.begin();
  std::lock_guard lock(impl_->mu);
  sqlite3* db = impl_->db.get();
  int rc = SQLITE_OK;
  if (!impl_->run_simple(kBegin, rc)) return db_error(op, rc);
  auto fail = [&](Error error) {
    if (!sqlite3_get_autocommit(db)) impl_->run_simple(kRollback, rc);
    return error;
  };
  std::vector<audit::AuditRecord> orphans;
  {
    sqlite3_stmt* raw = impl_->statement(kReadPending, rc);
    if (!raw) return fail(db_error(op, rc));
    Use st(raw);
    while ((rc = st.step()) == SQLITE_ROW) {
      auto row = sqlite::read_audit_row(st);
      if (!row) return fail(corrupt_row(op));
      orphans.push_back(std::move(*row));
    }
    if (rc != SQLITE_DONE) return fail(db_error(op, rc));
  }
  for (auto& row : orphans) {
    // The process died between the provider call and the final row: the
    // answer may have reached the client, so the row is kept and the
    // reservation it carries is booked.
    row.status = 0;
    row.error_type = "outcome_unknown";
    if (!row.provider.empty()) row.fallback_path.push_back(row.provider + ":unknown");
  }
  rc = sqlite::insert_audit_rows(db, impl_->audit_statements, orphans, chain);
  if (rc != SQLITE_OK) return fail(db_error(op, rc));
  if (!impl_->run_simple(kClearPending, rc)) return fail(db_error(op, rc));
  if (!impl_->run_simple(kCommit, rc)) return fail(db_error(op, rc));
  chain.commit();
  return static_cast<std::int64_t>(orphans.size());
}

Result<void> SqliteStore::ping() {
  constexpr std::string_view op = "ping";
  std::lock_guard lock(impl_->mu);
  int rc = SQLITE_OK;
  sqlite3_stmt* raw = impl_->statement(kPing, rc);
  if (!raw) return db_error(op, rc);
  Use st(raw);
  rc = st.step();
  if (rc != SQLITE_ROW) return db_error(op, rc);
  return {};
}

int SqliteStore::schema_version() {
  std::lock_guard lock(impl_->mu);
  int rc = SQLITE_OK;
  sqlite3_stmt* raw = impl_->statement(kSchemaVersion, rc);
  if (!raw) return impl_->version;
  Use st(raw);
  if (st.step() == SQLITE_ROW) impl_->version = static_cast<int>(st.int64(0));
  return impl_->version;
}

Result<void> SqliteStore::scan_audit(const audit::AuditScan& scan,
                                     const std::function<bool(const audit::StoredAuditRow&)>& visit) {
  constexpr std::string_view op = "scan_audit";
  const audit::FetchScanPage fetch = [&](const audit::ScanPosition& from,
                                         std::int64_t want) -> Result<audit::ScanPage> {
    std::lock_guard lock(impl_->mu);
    int rc = SQLITE_OK;
    const char* sql = scan.chain_id ? kScanChain : (scan.team ? kScanTimeTeam : kScanTime);
    sqlite3_stmt* raw = impl_->statement(sql, rc);
    if (!raw) return db_error(op, rc);
    Use st(raw);
    if (scan.chain_id) {
      st.bind(1, *scan.chain_id);
      st.bind(2, from.after_seq);
      st.bind(3, want);
    } else {
      st.bind(1, from.after_time_ms);
      st.bind(2, from.after_id);
      st.bind(3, from.until_ms);
      st.bind(4, want);
      if (scan.team) st.bind(5, *scan.team);
    }
    audit::ScanPage page;
    while ((rc = st.step()) == SQLITE_ROW) {
      auto row = sqlite::read_audit_row(st);
      if (!row) return corrupt_row(op);
      page.rows.push_back(audit::StoredAuditRow{
          std::move(*row), audit::ChainLink{st.text(kChainColumn), st.int64(kChainColumn + 1),
                                            st.text(kChainColumn + 2), st.text(kChainColumn + 3)}});
      page.last_id = st.int64(kChainColumn + 4);
    }
    if (rc != SQLITE_DONE) return db_error(op, rc);
    return page;
  };
  return audit::scan_in_pages(scan, kScanPage, fetch, visit);
}

Result<std::vector<audit::ChainSummary>> SqliteStore::list_chains() {
  constexpr std::string_view op = "list_chains";
  std::lock_guard lock(impl_->mu);
  int rc = SQLITE_OK;
  sqlite3_stmt* raw = impl_->statement(kListChains, rc);
  if (!raw) return db_error(op, rc);
  Use st(raw);
  std::vector<audit::ChainSummary> out;
  while ((rc = st.step()) == SQLITE_ROW) {
    out.push_back(audit::ChainSummary{st.text(0), st.int64(1), st.int64(2), st.int64(3), st.int64(4), st.int64(5)});
  }
  if (rc != SQLITE_DONE) return db_error(op, rc);
  return out;
}

Result<std::optional<audit::ChainLink>> SqliteStore::chain_head(const std::string& chain_id) {
  std::lock_guard lock(impl_->mu);
  std::optional<audit::ChainLink> head;
  if (const int rc = sqlite::read_chain_head(impl_->db.get(), impl_->audit_statements, chain_id, head);
      rc != SQLITE_OK) {
    return db_error("chain_head", rc);
  }
  return head;
}

Result<audit::Checkpoint> SqliteStore::append_checkpoint(const audit::Checkpoint& checkpoint) {
  constexpr std::string_view op = "append_checkpoint";
  std::lock_guard lock(impl_->mu);
  int rc = SQLITE_OK;
  sqlite3_stmt* raw = impl_->statement(kInsertCheckpoint, rc);
  if (!raw) return db_error(op, rc);
  Use st(raw);
  st.bind(1, checkpoint.chain_id);
  st.bind(2, checkpoint.seq);
  st.bind(3, checkpoint.head_hash);
  st.bind(4, checkpoint.sealed_at_ms);
  st.bind(5, checkpoint.key_id);
  st.bind(6, checkpoint.signature);
  if (rc = st.step(); rc != SQLITE_ROW) return db_error(op, rc);
  audit::Checkpoint stored = checkpoint;
  stored.id = st.int64(0);
  if (rc = st.step(); rc != SQLITE_DONE) return db_error(op, rc);
  return stored;
}

Result<std::vector<audit::Checkpoint>> SqliteStore::list_checkpoints(const std::optional<std::string>& chain_id) {
  constexpr std::string_view op = "list_checkpoints";
  std::lock_guard lock(impl_->mu);
  int rc = SQLITE_OK;
  sqlite3_stmt* raw = impl_->statement(chain_id ? kListChainCheckpoints : kListCheckpoints, rc);
  if (!raw) return db_error(op, rc);
  Use st(raw);
  if (chain_id) st.bind(1, *chain_id);
  std::vector<audit::Checkpoint> out;
  while ((rc = st.step()) == SQLITE_ROW) {
    out.push_back(
        audit::Checkpoint{st.int64(0), st.text(1), st.int64(2), st.text(3), st.int64(4), st.text(5), st.text(6)});
  }
  if (rc != SQLITE_DONE) return db_error(op, rc);
  return out;
}

audit::ChainWriter* SqliteStore::chain_writer() { return &impl_->chain; }

namespace {

std::optional<audit::Breach> read_breach(const Use& st) {
  auto entities = audit::entities_from_json(st.text(7));
  if (!entities) return std::nullopt;
  return audit::Breach{st.int64(0), st.int64(1), st.text(2), st.text(3),  st.text(4),  st.text(5),   st.text(6),
                       *entities,   st.text(8),  st.text(9), st.text(10), st.text(11), st.int64(12), st.text(13)};
}

void bind_optional(Use& st, int i, const std::optional<std::string>& value) {
  if (value) {
    st.bind(i, *value);
  } else {
    st.bind_null(i);
  }
}

}  // namespace

Result<bool> SqliteStore::record_breach(const audit::Breach& breach) {
  std::lock_guard lock(impl_->mu);
  bool created = false;
  if (const int rc = sqlite::insert_breach(impl_->db.get(), impl_->audit_statements, breach, created);
      rc != SQLITE_OK) {
    return db_error("record_breach", rc);
  }
  return created;
}

Result<std::vector<audit::Breach>> SqliteStore::list_breaches(const audit::BreachQuery& query) {
  constexpr std::string_view op = "list_breaches";
  std::lock_guard lock(impl_->mu);
  int rc = SQLITE_OK;
  sqlite3_stmt* raw = impl_->statement(kListBreaches, rc);
  if (!raw) return db_error(op, rc);
  Use st(raw);
  bind_optional(st, 1, query.status);
  bind_optional(st, 2, query.team);
  bind_optional(st, 3, query.kind);
  st.bind(4, static_cast<std::int64_t>(std::clamp(query.limit, 1, 1000)));
  std::vector<audit::Breach> out;
  while ((rc = st.step()) == SQLITE_ROW) {
    auto breach = read_breach(st);
    if (!breach) return corrupt_row(op);
    out.push_back(std::move(*breach));
  }
  if (rc != SQLITE_DONE) return db_error(op, rc);
  return out;
}

Result<audit::Breach> SqliteStore::get_breach(std::int64_t id) {
  constexpr std::string_view op = "get_breach";
  std::lock_guard lock(impl_->mu);
  int rc = SQLITE_OK;
  sqlite3_stmt* raw = impl_->statement(kGetBreach, rc);
  if (!raw) return db_error(op, rc);
  Use st(raw);
  st.bind(1, id);
  rc = st.step();
  if (rc == SQLITE_DONE) return make_error(ErrorCode::not_found, "breach " + std::to_string(id) + " not found");
  if (rc != SQLITE_ROW) return db_error(op, rc);
  auto breach = read_breach(st);
  if (!breach) return corrupt_row(op);
  return std::move(*breach);
}

Result<audit::Breach> SqliteStore::update_breach(const audit::BreachUpdate& update) {
  constexpr std::string_view op = "update_breach";
  {
    std::lock_guard lock(impl_->mu);
    sqlite3* db = impl_->db.get();
    int rc = SQLITE_OK;
    if (!impl_->run_simple(kBegin, rc)) return db_error(op, rc);
    auto fail = [&](Error error) {
      if (!sqlite3_get_autocommit(db)) impl_->run_simple(kRollback, rc);
      return error;
    };
    {
      sqlite3_stmt* raw = impl_->statement(kUpdateBreach, rc);
      if (!raw) return fail(db_error(op, rc));
      Use st(raw);
      st.bind(1, update.breach_id);
      st.bind(2, update.status);
      st.bind(3, update.note);
      st.bind(4, update.time_ms);
      st.bind(5, update.actor);
      if (rc = st.step(); rc != SQLITE_DONE) return fail(db_error(op, rc));
      if (sqlite3_changes(db) == 0) {
        return fail(make_error(ErrorCode::not_found, "breach " + std::to_string(update.breach_id) + " not found"));
      }
    }
    {
      sqlite3_stmt* raw = impl_->statement(kInsertBreachUpdate, rc);
      if (!raw) return fail(db_error(op, rc));
      Use st(raw);
      st.bind(1, update.breach_id);
      st.bind(2, update.time_ms);
      st.bind(3, update.status);
      st.bind(4, update.note);
      st.bind(5, update.actor);
      if (rc = st.step(); rc != SQLITE_DONE) return fail(db_error(op, rc));
    }
    if (!impl_->run_simple(kCommit, rc)) return fail(db_error(op, rc));
  }
  return get_breach(update.breach_id);
}

Result<std::vector<audit::BreachUpdate>> SqliteStore::breach_history(std::int64_t id) {
  constexpr std::string_view op = "breach_history";
  std::lock_guard lock(impl_->mu);
  int rc = SQLITE_OK;
  sqlite3_stmt* raw = impl_->statement(kBreachHistory, rc);
  if (!raw) return db_error(op, rc);
  Use st(raw);
  st.bind(1, id);
  std::vector<audit::BreachUpdate> out;
  while ((rc = st.step()) == SQLITE_ROW) {
    out.push_back(audit::BreachUpdate{st.int64(0), st.int64(1), st.text(2), st.text(3), st.text(4)});
  }
  if (rc != SQLITE_DONE) return db_error(op, rc);
  return out;
}

// --- rate limits (store/rate_limits.hpp)

namespace {

constexpr const char* kTeamExists = "SELECT 1 FROM teams WHERE name = ?1";
constexpr const char* kKeyExists = "SELECT 1 FROM api_keys WHERE id = ?1";
constexpr const char* kGetLimits = "SELECT rpm, tpm, max_concurrency FROM rate_limits WHERE scope = ?1 AND name = ?2";
constexpr const char* kListLimits = "SELECT name, rpm, tpm, max_concurrency FROM rate_limits WHERE scope = ?1";
// ?3/?5/?7: whether the patch sets rpm/tpm/max_concurrency; ?4/?6/?8 the value (NULL removes it).
constexpr const char* kUpsertLimits =
    "INSERT INTO rate_limits(scope, name, rpm, tpm, max_concurrency) "
    "VALUES (?1, ?2, CASE WHEN ?3 THEN ?4 END, CASE WHEN ?5 THEN ?6 END, CASE WHEN ?7 THEN ?8 END) "
    "ON CONFLICT (scope, name) DO UPDATE SET rpm = CASE WHEN ?3 THEN ?4 ELSE rpm END, "
    "tpm = CASE WHEN ?5 THEN ?6 ELSE tpm END, max_concurrency = CASE WHEN ?7 THEN ?8 ELSE max_concurrency END";
constexpr const char* kDropEmptyLimits =
    "DELETE FROM rate_limits WHERE scope = ?1 AND name = ?2 AND rpm IS NULL AND tpm IS NULL AND "
    "max_concurrency IS NULL";

std::string_view scope_name(LimitScope scope) { return scope == LimitScope::team ? "team" : "key"; }

std::optional<std::int64_t> optional_int64(const Use& st, int column) {
  if (st.is_null(column)) return std::nullopt;
  return st.int64(column);
}

void bind_patch_field(Use& st, int flag_index, const std::optional<std::optional<std::int64_t>>& field) {
  st.bind(flag_index, static_cast<std::int64_t>(field.has_value() ? 1 : 0));
  if (field && *field)
    st.bind(flag_index + 1, **field);
  else
    st.bind_null(flag_index + 1);
}

bool positive_or_unset(const std::optional<std::optional<std::int64_t>>& field) {
  return !field || !*field || **field > 0;
}

}  // namespace

Result<RateLimits> SqliteStore::get_rate_limits(LimitScope scope, const std::string& name) {
  constexpr std::string_view op = "get_rate_limits";
  std::lock_guard lock(impl_->mu);
  int rc = SQLITE_OK;
  sqlite3_stmt* raw = impl_->statement(kGetLimits, rc);
  if (!raw) return db_error(op, rc);
  Use st(raw);
  const std::string_view scope_text = scope_name(scope);
  st.bind(1, scope_text);
  st.bind(2, name);
  rc = st.step();
  RateLimits out;
  if (rc == SQLITE_DONE) return out;
  if (rc != SQLITE_ROW) return db_error(op, rc);
  out.rpm = optional_int64(st, 0);
  out.tpm = optional_int64(st, 1);
  out.max_concurrency = optional_int64(st, 2);
  return out;
}

Result<std::map<std::string, RateLimits>> SqliteStore::list_rate_limits(LimitScope scope) {
  constexpr std::string_view op = "list_rate_limits";
  std::lock_guard lock(impl_->mu);
  int rc = SQLITE_OK;
  sqlite3_stmt* raw = impl_->statement(kListLimits, rc);
  if (!raw) return db_error(op, rc);
  Use st(raw);
  const std::string_view scope_text = scope_name(scope);
  st.bind(1, scope_text);
  std::map<std::string, RateLimits> out;
  while ((rc = st.step()) == SQLITE_ROW) {
    RateLimits limits{optional_int64(st, 1), optional_int64(st, 2), optional_int64(st, 3)};
    out.emplace(st.text(0), limits);
  }
  if (rc != SQLITE_DONE) return db_error(op, rc);
  return out;
}

Result<RateLimits> SqliteStore::update_rate_limits(LimitScope scope, const std::string& name,
                                                   const RateLimitsPatch& patch) {
  constexpr std::string_view op = "update_rate_limits";
  if (!positive_or_unset(patch.rpm) || !positive_or_unset(patch.tpm) || !positive_or_unset(patch.max_concurrency)) {
    return make_error(ErrorCode::invalid_request, "rate limits must be positive whole numbers");
  }
  {
    std::lock_guard lock(impl_->mu);
    int rc = SQLITE_OK;
    sqlite3_stmt* exists_raw = impl_->statement(scope == LimitScope::team ? kTeamExists : kKeyExists, rc);
    if (!exists_raw) return db_error(op, rc);
    {
      Use exists(exists_raw);
      exists.bind(1, name);
      rc = exists.step();
      if (rc == SQLITE_DONE) {
        return make_error(ErrorCode::not_found, scope == LimitScope::team ? "team '" + name + "' not found"
                                                                          : "API key '" + name + "' not found");
      }
      if (rc != SQLITE_ROW) return db_error(op, rc);
    }
    if (!patch.empty()) {
      const std::string_view scope_text = scope_name(scope);
      for (const char* sql : {kUpsertLimits, kDropEmptyLimits}) {
        sqlite3_stmt* raw = impl_->statement(sql, rc);
        if (!raw) return db_error(op, rc);
        Use st(raw);
        st.bind(1, scope_text);
        st.bind(2, name);
        if (sql == kUpsertLimits) {
          bind_patch_field(st, 3, patch.rpm);
          bind_patch_field(st, 5, patch.tpm);
          bind_patch_field(st, 7, patch.max_concurrency);
        }
        rc = st.step();
        if (rc != SQLITE_DONE) {
          if ((rc & 0xff) == SQLITE_CONSTRAINT) {
            return make_error(ErrorCode::invalid_request, "rate limits must be positive whole numbers");
          }
          return db_error(op, rc);
        }
      }
    }
  }
  return get_rate_limits(scope, name);
}

}  // namespace aegis::store
