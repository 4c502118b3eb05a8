#include "store/sqlite/sqlite_store.hpp"

#include <sqlite3.h>

#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

#include "core/system_clock.hpp"
#include "store/sqlite/migrations.hpp"

namespace aegis::store {

namespace {

struct DbCloser {
  void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* st) const noexcept { sqlite3_finalize(st); }
};
using DbPtr = std::unique_ptr<sqlite3, DbCloser>;
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

// A cached statement in use: resets it and drops its bindings on every exit path,
// so no bound value outlives the call and the statement can be reused.
class Use {
 public:
  explicit Use(sqlite3_stmt* st) noexcept : st_(st) {}
  ~Use() {
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
  }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;
  sqlite3_stmt* get() const noexcept { return st_; }
  int step() noexcept { return sqlite3_step(st_); }

  void bind(int i, std::string_view text) {
    sqlite3_bind_text(st_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  }
  void bind(int i, std::int64_t v) { sqlite3_bind_int64(st_, i, v); }
  void bind_null(int i) { sqlite3_bind_null(st_, i); }

  std::string text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st_, col));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(st_, col))) : std::string();
  }
  std::int64_t int64(int col) const { return sqlite3_column_int64(st_, col); }
  bool is_null(int col) const { return sqlite3_column_type(st_, col) == SQLITE_NULL; }

 private:
  sqlite3_stmt* st_;
};

// Messages never carry data values: only the operation and SQLite's generic text.
Error db_error(std::string_view op, int rc) {
  const int primary = rc & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
    Error e = make_error(ErrorCode::unavailable, "storage is busy (" + std::string(op) + ")");
    e.retry_after_seconds = 1;
    return e;
  }
  return make_error(ErrorCode::internal, "storage error in " + std::string(op) + ": " + sqlite3_errstr(rc));
}

Error corrupt_row(std::string_view op) {
  return make_error(ErrorCode::internal, "storage error in " + std::string(op) + ": unexpected stored value");
}


constexpr const char* kInsertTeam =
    "INSERT INTO teams(name, monthly_budget_micros, clearance, created_at_ms) VALUES (?1, ?2, ?3, ?4)";
constexpr const char* kGetTeam =
    "SELECT name, monthly_budget_micros, clearance, created_at_ms FROM teams WHERE name = ?1";
constexpr const char* kListTeams =
    "SELECT name, monthly_budget_micros, clearance, created_at_ms FROM teams ORDER BY name";
constexpr const char* kUpdateTeam =
    "UPDATE teams SET monthly_budget_micros = COALESCE(?2, monthly_budget_micros), "
    "clearance = COALESCE(?3, clearance) WHERE name = ?1 "
    "RETURNING name, monthly_budget_micros, clearance, created_at_ms";

constexpr const char* kInsertKey =
    "INSERT INTO api_keys(id, team, prefix, secret_hash, created_at_ms, revoked_at_ms) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
constexpr const char* kGetKey =
    "SELECT id, team, prefix, secret_hash, created_at_ms, revoked_at_ms FROM api_keys WHERE id = ?1";
constexpr const char* kListKeys =
    "SELECT id, team, prefix, secret_hash, created_at_ms, revoked_at_ms FROM api_keys "
    "ORDER BY created_at_ms, rowid";
constexpr const char* kListTeamKeys =
    "SELECT id, team, prefix, secret_hash, created_at_ms, revoked_at_ms FROM api_keys WHERE team = ?1 "
    "ORDER BY created_at_ms, rowid";
constexpr const char* kRevokeKey =
    "UPDATE api_keys SET revoked_at_ms = COALESCE(revoked_at_ms, ?2) WHERE id = ?1";

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
  return t;
}

ApiKeyRecord read_key(const Use& st) {
  ApiKeyRecord k;
  k.id = st.text(0);
  k.team = st.text(1);
  k.prefix = st.text(2);
  k.secret_hash = st.text(3);
  k.created_at_ms = st.int64(4);
  if (!st.is_null(5)) k.revoked_at_ms = st.int64(5);
  return k;
}

bool is_memory_path(const std::string& path) {
  return path.empty() || path == ":memory:" || path.rfind("file:", 0) == 0;
}

}  // namespace

struct SqliteStore::Impl {
  std::string path;
  const Clock* clock;
  std::mutex mu;
  DbPtr db;  // declared before the statements so it is closed after them
  std::unordered_map<const char*, StmtPtr> statements;
  int version = 0;

  std::int64_t now_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock->wall_now().time_since_epoch()).count();
  }

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

  void exec_pragma(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db.get(), sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = std::string("cannot configure the SQLite database (") + sql + "): " +
                        (err ? err : sqlite3_errmsg(db.get()));
      sqlite3_free(err);
      throw std::runtime_error(msg);
    }
  }
};

SqliteStore::SqliteStore(const std::string& path) : SqliteStore(path, SystemClock::instance()) {}

SqliteStore::SqliteStore(const std::string& path, const Clock& clock, Options options)
    : impl_(std::make_unique<Impl>()) {
  impl_->path = path;
  impl_->clock = &clock;

  if (!is_memory_path(path)) {
    const auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(parent, ec);
      if (ec) {
        throw std::runtime_error("cannot create the directory '" + parent.string() +
                                 "' for the SQLite database: " + ec.message());
      }
    }
  }

  sqlite3* raw = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX |
                    (path.rfind("file:", 0) == 0 ? SQLITE_OPEN_URI : 0);
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  impl_->db.reset(raw);  // closes even a half-open handle
  if (rc != SQLITE_OK) {
    throw std::runtime_error("cannot open the SQLite database '" + path + "': " +
                             (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  sqlite3* db = impl_->db.get();
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, static_cast<int>(options.busy_timeout.count()));

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
  if (!patch.monthly_budget && !patch.clearance) return get_team(name);

  std::lock_guard lock(impl_->mu);
  int rc = SQLITE_OK;
  sqlite3_stmt* raw = impl_->statement(kUpdateTeam, rc);
  if (!raw) return db_error(op, rc);
  Use st(raw);
  st.bind(1, name);
  if (patch.monthly_budget) st.bind(2, patch.monthly_budget->micros); else st.bind_null(2);
  if (patch.clearance) st.bind(3, to_string(*patch.clearance)); else st.bind_null(3);
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
  if (out.revoked_at_ms) st.bind(6, *out.revoked_at_ms); else st.bind_null(6);
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
  return read_key(st);
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
  while ((rc = st.step()) == SQLITE_ROW) out.push_back(read_key(st));
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

// PLACEHOLDER until the audit table lands (issue 5, audit work in progress).
Result<void> SqliteStore::append_audit(const std::vector<telemetry::AuditRecord>&) {
  return make_error(ErrorCode::internal, "audit store not implemented yet");
}
Result<std::vector<telemetry::AuditRecord>> SqliteStore::query_audit(const AuditQuery&) {
  return make_error(ErrorCode::internal, "audit store not implemented yet");
}
Result<std::int64_t> SqliteStore::count_pipeda_violations() {
  return make_error(ErrorCode::internal, "audit store not implemented yet");
}
Result<std::vector<TeamSpend>> SqliteStore::load_spend(const std::string&) {
  return make_error(ErrorCode::internal, "audit store not implemented yet");
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

}  // namespace aegis::store
