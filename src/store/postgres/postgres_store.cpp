#include "store/postgres/postgres_store.hpp"

#include <openssl/rand.h>
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <iterator>
#include <limits>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "audit/record_json.hpp"
#include "audit/scan_pages.hpp"
#include "store/postgres/audit_rows.hpp"
#include "store/postgres/migrations.hpp"
#include "store/postgres/pg.hpp"
#include "store/postgres/postgres_budget_pool.hpp"
#include "store/postgres/postgres_rate_pool.hpp"
#include "telemetry/log.hpp"

namespace aegis::store {

namespace {

constexpr std::string_view kStoreName = "storage";
constexpr int kMaxAuditQueryLimit = 1000;
constexpr const char* kTeamColumns = "name, monthly_budget_micros, clearance, created_at_ms, response_cache_ttl_s";
constexpr const char* kKeyColumns =
    "id, team, prefix, secret_hash, created_at_ms, revoked_at_ms, clearance, models, monthly_budget_micros, "
    "expires_at_ms, description, last_used_at_ms, previous_secret_hash, previous_valid_until_ms";

std::optional<std::int64_t> optional_int64(const pg::Rows& rows, int i, int col, bool& ok) {
  if (rows.is_null(i, col)) return std::nullopt;
  auto v = rows.int64(i, col);
  if (!v) ok = false;
  return v;
}

std::optional<Team> read_team(const pg::Rows& rows, int i) {
  Team t;
  t.name = rows.text(i, 0);
  const auto budget = rows.int64(i, 1);
  const auto level = parse_level(rows.text(i, 2));
  const auto created = rows.int64(i, 3);
  if (!budget || !level || !created) return std::nullopt;
  t.monthly_budget = Money::from_micros(*budget);
  t.clearance = *level;
  t.created_at_ms = *created;
  if (!rows.is_null(i, 4)) {
    const auto ttl = rows.int64(i, 4);
    if (!ttl) return std::nullopt;
    t.response_cache_ttl_s = *ttl;
  }
  return t;
}

std::optional<ApiKeyRecord> read_key(const pg::Rows& rows, int i) {
  ApiKeyRecord k;
  k.id = rows.text(i, 0);
  k.team = rows.text(i, 1);
  k.prefix = rows.text(i, 2);
  k.secret_hash = rows.text(i, 3);
  const auto created = rows.int64(i, 4);
  if (!created) return std::nullopt;
  k.created_at_ms = *created;
  if (!rows.is_null(i, 5)) {
    const auto revoked = rows.int64(i, 5);
    if (!revoked) return std::nullopt;
    k.revoked_at_ms = *revoked;
  }
  if (!rows.is_null(i, 6)) {
    k.clearance = parse_level(rows.text(i, 6));
    if (!k.clearance) return std::nullopt;
  }
  if (!rows.is_null(i, 7)) {
    // The same JSON array of strings as an audit row's fallback path.
    k.models = audit::fallback_path_from_json(rows.text(i, 7));
    if (!k.models) return std::nullopt;
  }
  bool ok = true;
  if (auto budget = optional_int64(rows, i, 8, ok)) k.monthly_budget = Money::from_micros(*budget);
  k.expires_at_ms = optional_int64(rows, i, 9, ok);
  k.description = rows.text(i, 10);
  k.last_used_at_ms = optional_int64(rows, i, 11, ok);
  k.previous_secret_hash = rows.text(i, 12);
  k.previous_valid_until_ms = optional_int64(rows, i, 13, ok);
  if (!ok) return std::nullopt;
  return k;
}

Error corrupt_row(std::string_view op) {
  return make_error(ErrorCode::internal,
                    std::string(kStoreName) + " error in " + std::string(op) + ": a stored value is not valid");
}

std::string random_owner() {
  unsigned char bytes[8];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("cannot draw a random store owner id");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

}  // namespace

struct PostgresStore::Impl {
  Impl(const std::string& dsn, const Clock& c, const Options& o)
      : pool(dsn, std::string(kStoreName), pg::PoolOptions{o.max_connections, std::chrono::milliseconds(5'000), 3}),
        clock(&c),
        options(o),
        owner(random_owner()),
        chain(owner + "/" + o.chain_writer) {}

  pg::Pool pool;
  const Clock* clock;
  const Options options;
  const std::string owner;
  // This replica's chain (audit/chain.hpp): replicas never wait on one another's.
  audit::ChainWriter chain;
  int version = 0;
  std::unique_ptr<postgres::PostgresBudgetPool> budget_pool;
  std::unique_ptr<postgres::PostgresBudgetPool> key_budget_pool;
  std::unique_ptr<postgres::PostgresRatePool> rate_pool;
  std::int64_t last_partition_pass_ms = 0;  // heartbeat thread only

  postgres::AuditPartitions partitions;

  std::mutex watch_mu;
  std::condition_variable watch_cv;
  bool watch_stopping = false;
  std::thread watcher;

  // The LISTEN session: until stop_watching(), reconnecting when it breaks.
  void watch(const std::function<void(const std::string&)>& on_key_revoked,
             const std::function<void()>& on_teams_changed) {
    auto stopping_now = [this] {
      std::lock_guard lock(watch_mu);
      return watch_stopping;
    };
    while (!stopping_now()) {
      pg::ConnPtr conn = pool.connect_dedicated();
      if (conn != nullptr) {
        PQclear(PQexec(conn.get(), "LISTEN aegis_keys; LISTEN aegis_teams"));
        on_teams_changed();  // whatever changed while nobody listened
        while (!stopping_now()) {
          pollfd fd{PQsocket(conn.get()), POLLIN, 0};
          if (fd.fd < 0) break;
          (void)::poll(&fd, 1, 200);                   // a short wait, so stop_watching() is prompt
          if (PQconsumeInput(conn.get()) == 0) break;  // the connection is gone: reconnect
          while (PGnotify* note = PQnotifies(conn.get())) {
            const std::string channel = note->relname;
            const std::string payload = note->extra;
            PQfreemem(note);
            if (channel == "aegis_keys") {
              on_key_revoked(payload);
            } else {
              on_teams_changed();
            }
          }
        }
      }
      std::unique_lock lock(watch_mu);
      watch_cv.wait_for(lock, std::chrono::seconds(1), [this] { return watch_stopping; });
    }
  }

  std::mutex heartbeat_mu;
  std::condition_variable heartbeat_cv;
  bool stopping = false;
  std::thread heartbeat;

  std::int64_t now_ms() const { return clock->wall_ms(); }

  Error fail(std::string_view op, const pg::Session& session) const { return pool.error(op, session.last_failure()); }

  Result<void> ensure_partition(pg::Session& session, std::int64_t time_ms, bool in_transaction = false) {
    return partitions.ensure(session, pool, time_ms, in_transaction);
  }

  // `lease_owner`: the replica whose budget slice paid for the rows.
  Result<void> insert_rows(pg::Session& session, const std::vector<audit::AuditRecord>& rows,
                           const std::string& lease_owner, audit::ChainWriter::Batch& links) {
    return postgres::insert_audit_rows(session, pool, rows, owner, lease_owner, links);
  }

  Result<void> beat() {
    auto session = pool.acquire();
    if (!session.ok()) return session.error();
    if (!session
             ->exec("INSERT INTO store_owners(owner, heartbeat_ms) VALUES ($1, $2) ON CONFLICT (owner) DO "
                    "UPDATE SET heartbeat_ms = EXCLUDED.heartbeat_ms",
                    pg::Params().add(owner).add(now_ms()))
             .ok())
      return fail("heartbeat", *session);
    return {};
  }
};

PostgresStore::PostgresStore(const std::string& dsn, const Clock& clock, const Options& options)
    : impl_(std::make_unique<Impl>(dsn, clock, options)) {
  {
    pg::ConnPtr conn = impl_->pool.connect_or_throw();
    impl_->version = postgres::apply_migrations(conn.get(), impl_->now_ms());
  }
  if (auto r = impl_->beat(); !r.ok()) throw std::runtime_error("PostgreSQL store: " + r.error().message);
  {
    auto session = impl_->pool.acquire();
    if (!session.ok()) throw std::runtime_error("PostgreSQL store: " + session.error().message);
    // Last month (late rows), this month and the next, so the first writes of a month find theirs.
    const std::int64_t now = impl_->now_ms();
    for (std::int64_t t : {postgres::month_bounds(now).first - 1, now, postgres::month_bounds(now).second}) {
      if (auto r = impl_->ensure_partition(*session, t); !r.ok()) {
        throw std::runtime_error("PostgreSQL store: cannot create the audit partitions: " +
                                 session->last_failure().detail);
      }
    }
  }
  if (options.heartbeat_interval.count() > 0) {
    impl_->heartbeat = std::thread([this] {
      std::unique_lock lock(impl_->heartbeat_mu);
      while (
          !impl_->heartbeat_cv.wait_for(lock, impl_->options.heartbeat_interval, [this] { return impl_->stopping; })) {
        lock.unlock();
        (void)impl_->beat();      // a missed beat is retried at the next one
        (void)recover_pending();  // a crashed replica's intents become rows
        if (const auto now = impl_->now_ms(); now - impl_->last_partition_pass_ms >= 3'600'000) {
          if (auto pass = maintain_partitions(); pass.ok()) {
            impl_->last_partition_pass_ms = now;
            if (!pass->empty()) {
              telemetry::log(telemetry::LogLevel::info, "audit_partitions_retired", {{"partitions", pass->size()}});
            }
          }
        }
        lock.lock();
      }
    });
  }
}

PostgresStore::~PostgresStore() {
  stop_watching();
  {
    std::lock_guard lock(impl_->heartbeat_mu);
    impl_->stopping = true;
  }
  impl_->heartbeat_cv.notify_one();
  if (impl_->heartbeat.joinable()) impl_->heartbeat.join();
  // A graceful stop: whatever intents remain are recoverable by others at once.
  if (auto session = impl_->pool.acquire(); session.ok()) {
    (void)session->exec("DELETE FROM store_owners WHERE owner = $1", pg::Params().add(impl_->owner));
  }
}

const std::string& PostgresStore::owner() const noexcept { return impl_->owner; }

Result<std::vector<std::string>> PostgresStore::maintain_partitions() {
  AEGIS_TRY(session, impl_->pool.acquire());
  const std::int64_t now = impl_->now_ms();
  AEGIS_TRY_VOID(impl_->ensure_partition(session, postgres::month_bounds(now).second));
  if (impl_->options.audit_retention_months <= 0) return std::vector<std::string>{};
  return impl_->partitions.retire(session, impl_->pool, now, impl_->options.audit_retention_months);
}

BudgetPool* PostgresStore::budget_pool() {
  if (!impl_->budget_pool) {
    impl_->budget_pool =
        std::make_unique<postgres::PostgresBudgetPool>(impl_->pool, impl_->owner, [this] { return live_peers() + 1; });
  }
  return impl_->budget_pool.get();
}

BudgetPool* PostgresStore::key_budget_pool() {
  if (!impl_->key_budget_pool) {
    impl_->key_budget_pool = std::make_unique<postgres::PostgresBudgetPool>(
        impl_->pool, impl_->owner, [this] { return live_peers() + 1; }, postgres::kKeyPoolTables);
  }
  return impl_->key_budget_pool.get();
}

Result<Team> PostgresStore::create_team(const Team& team) {
  constexpr std::string_view op = "create_team";
  if (team.monthly_budget.micros < 0) {
    return make_error(ErrorCode::invalid_request, "monthly budget must not be negative");
  }
  Team out = team;
  if (out.created_at_ms == 0) out.created_at_ms = impl_->now_ms();
  AEGIS_TRY(session, impl_->pool.acquire());
  pg::Params params;
  params.add(out.name).add(out.monthly_budget.micros).add(std::string(to_string(out.clearance))).add(out.created_at_ms);
  if (out.response_cache_ttl_s)
    params.add(*out.response_cache_ttl_s);
  else
    params.add_null();
  auto r = session.exec(std::string("INSERT INTO teams(") + kTeamColumns + ") VALUES ($1, $2, $3, $4, $5)", params);
  if (r.ok()) return out;
  const auto& state = session.last_failure().sqlstate;
  if (state == pg::kUniqueViolation) return make_error(ErrorCode::conflict, "team '" + out.name + "' already exists");
  if (state == pg::kCheckViolation) return make_error(ErrorCode::invalid_request, "team fields are out of range");
  return impl_->fail(op, session);
}

Result<Team> PostgresStore::get_team(const std::string& name) {
  constexpr std::string_view op = "get_team";
  AEGIS_TRY(session, impl_->pool.acquire());
  auto rows =
      session.exec(std::string("SELECT ") + kTeamColumns + " FROM teams WHERE name = $1", pg::Params().add(name));
  if (!rows.ok()) return impl_->fail(op, session);
  if (rows->empty()) return make_error(ErrorCode::not_found, "team '" + name + "' not found");
  auto team = read_team(*rows, 0);
  if (!team) return corrupt_row(op);
  return std::move(*team);
}

Result<std::vector<Team>> PostgresStore::list_teams() {
  constexpr std::string_view op = "list_teams";
  AEGIS_TRY(session, impl_->pool.acquire());
  // COLLATE "C": byte order, as SQLite sorts, whatever the database's locale.
  auto rows = session.exec(std::string("SELECT ") + kTeamColumns + " FROM teams ORDER BY name COLLATE \"C\"");
  if (!rows.ok()) return impl_->fail(op, session);
  std::vector<Team> out;
  for (int i = 0; i < rows->size(); ++i) {
    auto team = read_team(*rows, i);
    if (!team) return corrupt_row(op);
    out.push_back(std::move(*team));
  }
  return out;
}

Result<Team> PostgresStore::update_team(const std::string& name, const TeamPatch& patch) {
  constexpr std::string_view op = "update_team";
  if (patch.monthly_budget && patch.monthly_budget->micros < 0) {
    return make_error(ErrorCode::invalid_request, "monthly budget must not be negative");
  }
  if (patch.response_cache_ttl_s && *patch.response_cache_ttl_s < 0) {
    return make_error(ErrorCode::invalid_request, "response cache ttl must not be negative");
  }
  if (!patch.monthly_budget && !patch.clearance && !patch.response_cache_ttl_s) return get_team(name);
  AEGIS_TRY(session, impl_->pool.acquire());
  pg::Params p;
  p.add(name);
  if (patch.monthly_budget)
    p.add(patch.monthly_budget->micros);
  else
    p.add_null();
  if (patch.clearance)
    p.add(std::string(to_string(*patch.clearance)));
  else
    p.add_null();
  if (patch.response_cache_ttl_s)
    p.add(*patch.response_cache_ttl_s);
  else
    p.add_null();
  auto rows = session.exec(std::string("UPDATE teams SET monthly_budget_micros = COALESCE($2::bigint, "
                                       "monthly_budget_micros), clearance = COALESCE($3::text, clearance), "
                                       "response_cache_ttl_s = COALESCE($4::bigint, response_cache_ttl_s) "
                                       "WHERE name = $1 RETURNING ") +
                               kTeamColumns,
                           p);
  if (!rows.ok()) {
    if (session.last_failure().sqlstate == pg::kCheckViolation) {
      return make_error(ErrorCode::invalid_request, "team fields are out of range");
    }
    return impl_->fail(op, session);
  }
  if (rows->empty()) return make_error(ErrorCode::not_found, "team '" + name + "' not found");
  auto team = read_team(*rows, 0);
  if (!team) return corrupt_row(op);
  (void)session.exec("SELECT pg_notify('aegis_teams', $1)", pg::Params().add(name));  // cached principals carry it
  return std::move(*team);
}

Result<ApiKeyRecord> PostgresStore::create_key(const ApiKeyRecord& key) {
  constexpr std::string_view op = "create_key";
  ApiKeyRecord out = key;
  if (out.created_at_ms == 0) out.created_at_ms = impl_->now_ms();
  AEGIS_TRY(session, impl_->pool.acquire());
  auto r = session.exec(
      std::string("INSERT INTO api_keys(") + kKeyColumns +
          ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
      pg::Params()
          .add(out.id)
          .add(out.team)
          .add(out.prefix)
          .add(out.secret_hash)
          .add(out.created_at_ms)
          .add(out.revoked_at_ms)
          .add(out.clearance ? std::optional<std::string>(std::string(to_string(*out.clearance))) : std::nullopt)
          .add(out.models ? std::optional<std::string>(audit::fallback_path_to_json(*out.models)) : std::nullopt)
          .add(out.monthly_budget ? std::optional<std::int64_t>(out.monthly_budget->micros) : std::nullopt)
          .add(out.expires_at_ms)
          .add(out.description)
          .add(out.last_used_at_ms)
          .add(out.previous_secret_hash)
          .add(out.previous_valid_until_ms));
  if (r.ok()) return out;
  const auto& state = session.last_failure().sqlstate;
  if (state == pg::kForeignKeyViolation) return make_error(ErrorCode::not_found, "team '" + out.team + "' not found");
  if (state == pg::kUniqueViolation) {
    return make_error(ErrorCode::conflict, "API key '" + out.id + "' already exists");
  }
  if (state == pg::kCheckViolation) return make_error(ErrorCode::invalid_request, "API key fields are out of range");
  return impl_->fail(op, session);
}

Result<ApiKeyRecord> PostgresStore::get_key(const std::string& id) {
  constexpr std::string_view op = "get_key";
  AEGIS_TRY(session, impl_->pool.acquire());
  auto rows = session.exec(std::string("SELECT ") + kKeyColumns + " FROM api_keys WHERE id = $1", pg::Params().add(id));
  if (!rows.ok()) return impl_->fail(op, session);
  if (rows->empty()) return make_error(ErrorCode::not_found, "API key '" + id + "' not found");
  auto key = read_key(*rows, 0);
  if (!key) return corrupt_row(op);
  return std::move(*key);
}

Result<std::vector<ApiKeyRecord>> PostgresStore::list_keys(const std::optional<std::string>& team) {
  constexpr std::string_view op = "list_keys";
  AEGIS_TRY(session, impl_->pool.acquire());
  auto rows = team ? session.exec(std::string("SELECT ") + kKeyColumns +
                                      " FROM api_keys WHERE team = $1 ORDER BY created_at_ms, seq",
                                  pg::Params().add(*team))
                   : session.exec(std::string("SELECT ") + kKeyColumns + " FROM api_keys ORDER BY created_at_ms, seq");
  if (!rows.ok()) return impl_->fail(op, session);
  std::vector<ApiKeyRecord> out;
  for (int i = 0; i < rows->size(); ++i) {
    auto key = read_key(*rows, i);
    if (!key) return corrupt_row(op);
    out.push_back(std::move(*key));
  }
  return out;
}

Result<void> PostgresStore::revoke_key(const std::string& id, std::int64_t revoked_at_ms) {
  constexpr std::string_view op = "revoke_key";
  AEGIS_TRY(session, impl_->pool.acquire());
  auto rows = session.exec("UPDATE api_keys SET revoked_at_ms = COALESCE(revoked_at_ms, $2) WHERE id = $1",
                           pg::Params().add(id).add(revoked_at_ms));
  if (!rows.ok()) return impl_->fail(op, session);
  if (rows->affected() == 0) return make_error(ErrorCode::not_found, "API key '" + id + "' not found");
  // Every replica drops the key from its cache (watch_changes). Best effort:
  // a replica that misses it still stops the key after its cache TTL.
  (void)session.exec("SELECT pg_notify('aegis_keys', $1)", pg::Params().add(id));
  return {};
}

Result<ApiKeyRecord> PostgresStore::update_key(const std::string& id, const KeyPatch& patch) {
  constexpr std::string_view op = "update_key";
  if (patch.empty()) return get_key(id);
  AEGIS_TRY(session, impl_->pool.acquire());
  pg::Params p;
  p.add(id);
  p.add(patch.models.has_value());
  p.add(patch.models && *patch.models ? std::optional<std::string>(audit::fallback_path_to_json(**patch.models))
                                      : std::nullopt);
  p.add(patch.monthly_budget.has_value());
  p.add(patch.monthly_budget && *patch.monthly_budget ? std::optional<std::int64_t>((*patch.monthly_budget)->micros)
                                                      : std::nullopt);
  p.add(patch.expires_at_ms.has_value());
  p.add(patch.expires_at_ms ? *patch.expires_at_ms : std::nullopt);
  p.add(patch.description.has_value());
  p.add(patch.description);
  // One statement, so a concurrent change of another field is never undone.
  auto rows = session.exec(std::string("UPDATE api_keys SET models = CASE WHEN $2::bool THEN $3::text ELSE models "
                                       "END, monthly_budget_micros = CASE WHEN $4::bool THEN $5::bigint ELSE "
                                       "monthly_budget_micros END, expires_at_ms = CASE WHEN $6::bool THEN "
                                       "$7::bigint ELSE expires_at_ms END, description = CASE WHEN $8::bool THEN "
                                       "$9::text ELSE description END WHERE id = $1 RETURNING ") +
                               kKeyColumns,
                           p);
  if (!rows.ok()) {
    if (session.last_failure().sqlstate == pg::kCheckViolation) {
      return make_error(ErrorCode::invalid_request, "API key fields are out of range");
    }
    return impl_->fail(op, session);
  }
  if (rows->empty()) return make_error(ErrorCode::not_found, "API key '" + id + "' not found");
  auto key = read_key(*rows, 0);
  if (!key) return corrupt_row(op);
  // Every replica drops the key from its cache, as for a revocation.
  (void)session.exec("SELECT pg_notify('aegis_keys', $1)", pg::Params().add(id));
  return std::move(*key);
}

Result<ApiKeyRecord> PostgresStore::rotate_key(const std::string& id, const KeyRotation& rotation) {
  constexpr std::string_view op = "rotate_key";
  {
    AEGIS_TRY(session, impl_->pool.acquire());
    auto rows = session.exec(
        std::string("UPDATE api_keys SET previous_secret_hash = CASE WHEN $4::bigint IS NULL "
                    "THEN '' ELSE secret_hash END, previous_valid_until_ms = $4::bigint, "
                    "secret_hash = $3, prefix = $2 WHERE id = $1 AND revoked_at_ms IS NULL "
                    "RETURNING ") +
            kKeyColumns,
        pg::Params().add(id).add(rotation.prefix).add(rotation.secret_hash).add(rotation.previous_valid_until_ms));
    if (!rows.ok()) return impl_->fail(op, session);
    if (!rows->empty()) {
      auto key = read_key(*rows, 0);
      if (!key) return corrupt_row(op);
      (void)session.exec("SELECT pg_notify('aegis_keys', $1)", pg::Params().add(id));
      return std::move(*key);
    }
  }
  // Nothing rotated: absent (not_found) or revoked.
  AEGIS_TRY(found, get_key(id));
  (void)found;
  return make_error(ErrorCode::conflict, "API key '" + id + "' is revoked; a revoked key cannot be rotated");
}

Result<void> PostgresStore::touch_keys(const std::vector<KeyUse>& uses) {
  constexpr std::string_view op = "touch_keys";
  if (uses.empty()) return {};
  // Key ids are 16 lowercase hex digits (identity/api_key.hpp): nothing to quote in the array literals.
  std::string ids = "{", times = "{";
  for (std::size_t i = 0; i < uses.size(); ++i) {
    ids += (i ? "," : "") + uses[i].id;
    times += (i ? "," : "") + std::to_string(uses[i].used_at_ms);
  }
  ids += "}";
  times += "}";
  AEGIS_TRY(session, impl_->pool.acquire());
  auto rows = session.exec(
      "UPDATE api_keys k SET last_used_at_ms = GREATEST(COALESCE(k.last_used_at_ms, 0), u.t) FROM (SELECT "
      "unnest($1::text[]) AS id, unnest($2::bigint[]) AS t) u WHERE k.id = u.id",
      pg::Params().add(ids).add(times));
  if (!rows.ok()) return impl_->fail(op, session);
  return {};
}

Result<std::vector<KeySpend>> PostgresStore::load_key_spend(const std::string& period) {
  constexpr std::string_view op = "load_key_spend";
  AEGIS_TRY(session, impl_->pool.acquire());
  auto rows = session.exec(
      "SELECT key_id, period, spent_micros, requests FROM key_spend WHERE period = $1 ORDER BY key_id COLLATE \"C\"",
      pg::Params().add(period));
  if (!rows.ok()) return impl_->fail(op, session);
  std::vector<KeySpend> out;
  for (int i = 0; i < rows->size(); ++i) {
    auto spent = rows->int64(i, 2);
    auto requests = rows->int64(i, 3);
    if (!spent || !requests) return corrupt_row(op);
    out.push_back(KeySpend{rows->text(i, 0), rows->text(i, 1), Money::from_micros(*spent), *requests});
  }
  return out;
}

Result<void> PostgresStore::put_response(const StoredResponse& response) {
  constexpr std::string_view op = "put_response";
  AEGIS_TRY(session, impl_->pool.acquire());
  auto purged =
      session.exec("DELETE FROM responses WHERE expires_at_ms <= $1", pg::Params().add(response.created_at_ms));
  if (!purged.ok()) return impl_->fail(op, session);
  auto r = session.exec(
      "INSERT INTO responses(id, team, created_at_ms, expires_at_ms, conversation_json, response_json) "
      "VALUES ($1, $2, $3, $4, $5, $6)",
      pg::Params()
          .add(response.id)
          .add(response.team)
          .add(response.created_at_ms)
          .add(response.expires_at_ms)
          .add(response.conversation_json)
          .add(response.response_json));
  if (r.ok()) return {};
  if (session.last_failure().sqlstate == pg::kUniqueViolation)
    return make_error(ErrorCode::conflict, "response '" + response.id + "' already exists");
  return impl_->fail(op, session);
}

Result<StoredResponse> PostgresStore::get_response(const std::string& team, const std::string& id,
                                                   std::int64_t now_ms) {
  constexpr std::string_view op = "get_response";
  AEGIS_TRY(session, impl_->pool.acquire());
  auto rows = session.exec(
      "SELECT id, team, created_at_ms, expires_at_ms, conversation_json, response_json FROM responses "
      "WHERE id = $1 AND team = $2 AND expires_at_ms > $3",
      pg::Params().add(id).add(team).add(now_ms));
  if (!rows.ok()) return impl_->fail(op, session);
  if (rows->empty()) return make_error(ErrorCode::not_found, "response '" + id + "' not found");
  StoredResponse out;
  out.id = rows->text(0, 0);
  out.team = rows->text(0, 1);
  const auto created = rows->int64(0, 2);
  const auto expires = rows->int64(0, 3);
  if (!created || !expires) return corrupt_row(op);
  out.created_at_ms = *created;
  out.expires_at_ms = *expires;
  out.conversation_json = rows->text(0, 4);
  out.response_json = rows->text(0, 5);
  return out;
}

Result<void> PostgresStore::delete_response(const std::string& team, const std::string& id) {
  constexpr std::string_view op = "delete_response";
  AEGIS_TRY(session, impl_->pool.acquire());
  auto rows = session.exec("DELETE FROM responses WHERE id = $1 AND team = $2", pg::Params().add(id).add(team));
  if (!rows.ok()) return impl_->fail(op, session);
  if (rows->affected() == 0) return make_error(ErrorCode::not_found, "response '" + id + "' not found");
  return {};
}

Result<std::int64_t> PostgresStore::purge_responses(std::int64_t now_ms) {
  constexpr std::string_view op = "purge_responses";
  AEGIS_TRY(session, impl_->pool.acquire());
  auto rows = session.exec("DELETE FROM responses WHERE expires_at_ms <= $1", pg::Params().add(now_ms));
  if (!rows.ok()) return impl_->fail(op, session);
  return rows->affected();
}

Result<void> PostgresStore::revoke_console_session(const std::string& id_digest, std::int64_t expires_at_ms,
                                                   std::int64_t now_ms) {
  constexpr std::string_view op = "revoke_console_session";
  AEGIS_TRY(session, impl_->pool.acquire());
  auto purged = session.exec("DELETE FROM console_revocations WHERE expires_at_ms <= $1", pg::Params().add(now_ms));
  if (!purged.ok()) return impl_->fail(op, session);
  auto inserted = session.exec(
      "INSERT INTO console_revocations (id_digest, expires_at_ms) VALUES ($1, $2) ON CONFLICT (id_digest) DO NOTHING",
      pg::Params().add(id_digest).add(expires_at_ms));
  if (!inserted.ok()) return impl_->fail(op, session);
  return {};
}

Result<bool> PostgresStore::console_session_revoked(const std::string& id_digest) {
  constexpr std::string_view op = "console_session_revoked";
  AEGIS_TRY(session, impl_->pool.acquire());
  auto rows = session.exec("SELECT 1 FROM console_revocations WHERE id_digest = $1", pg::Params().add(id_digest));
  if (!rows.ok()) return impl_->fail(op, session);
  return !rows->empty();
}

Result<void> PostgresStore::append_audit(const std::vector<audit::AuditRecord>& rows) {
  constexpr std::string_view op = "append_audit";
  if (rows.empty()) return {};
  AEGIS_TRY(session, impl_->pool.acquire());
  for (const auto& row : rows) {
    if (row.intent) continue;
    AEGIS_TRY_VOID(impl_->ensure_partition(session, row.time_ms));
  }
  // One round trip: the writer's next batch (often the next request's
  // intent) waits behind this one. A chain's head is read once per process
  // (a round trip of its own, outside the pipeline).
  auto chain = impl_->chain.begin();
  const audit::ChainWriter::HeadLoader load_head = [&](const std::string& chain_id) {
    return postgres::read_chain_head(session, impl_->pool, chain_id);
  };
  std::vector<pg::Statement> statements{{"BEGIN", {}}};
  AEGIS_TRY(rows_statements, postgres::audit_row_statements(rows, impl_->owner, impl_->owner, chain, load_head));
  std::move(rows_statements.begin(), rows_statements.end(), std::back_inserter(statements));
  statements.push_back({"COMMIT", {}});
  if (!session.pipeline(statements).ok()) {
    const Error e = impl_->fail(op, session);
    session.rollback();
    return e;
  }
  chain.commit();
  return {};
}

Result<std::vector<audit::AuditRecord>> PostgresStore::query_audit(const audit::AuditQuery& query) {
  constexpr std::string_view op = "query_audit";
  const int limit = std::clamp(query.limit, 1, kMaxAuditQueryLimit);
  AEGIS_TRY(session, impl_->pool.acquire());
  auto rows = session.exec(std::string("SELECT ") + postgres::kAuditSelect +
                               " FROM audit WHERE ($2::text IS NULL OR team = $2) AND "
                               "($3::bigint IS NULL OR time_ms >= $3) AND ($4::bigint IS NULL OR time_ms <= $4) AND "
                               "($5::text IS NULL OR level = $5) AND ($6::int IS NULL OR status >= $6) AND "
                               "($7::int IS NULL OR status <= $7) ORDER BY time_ms DESC, id DESC LIMIT $1 OFFSET $8",
                           pg::Params()
                               .add(limit)
                               .add(query.team)
                               .add(query.since_ms)
                               .add(query.until_ms)
                               .add(query.level)
                               .add(query.status_min)
                               .add(query.status_max)
                               .add(std::clamp(query.offset, 0, audit::kMaxAuditQueryOffset)));
  if (!rows.ok()) return impl_->fail(op, session);
  std::vector<audit::AuditRecord> out;
  for (int i = 0; i < rows->size(); ++i) {
    auto row = postgres::read_audit_row(*rows, i);
    if (!row) return corrupt_row(op);
    out.push_back(std::move(*row));
  }
  return out;
}

Result<std::int64_t> PostgresStore::count_pipeda_violations() {
  constexpr std::string_view op = "count_pipeda_violations";
  AEGIS_TRY(session, impl_->pool.acquire());
  auto rows = session.exec("SELECT COUNT(*) FROM pipeda_violations");
  if (!rows.ok()) return impl_->fail(op, session);
  auto n = rows->int64(0, 0);
  if (!n) return corrupt_row(op);
  return *n;
}

Result<audit::ComplianceTotals> PostgresStore::compliance_totals() {
  constexpr std::string_view op = "compliance_totals";
  AEGIS_TRY(session, impl_->pool.acquire());
  auto rows = session.exec(
      "SELECT (SELECT COUNT(*) FROM pipeda_violations), COUNT(*) FILTER (WHERE egress_veto), "
      "COUNT(*) FILTER (WHERE egress_blocked) FROM audit");
  if (!rows.ok()) return impl_->fail(op, session);
  auto violations = rows->int64(0, 0);
  auto vetoes = rows->int64(0, 1);
  auto blocked = rows->int64(0, 2);
  if (!violations || !vetoes || !blocked) return corrupt_row(op);
  return audit::ComplianceTotals{*violations, *vetoes, *blocked};
}

Result<std::vector<audit::TeamSpend>> PostgresStore::load_spend(const std::string& period) {
  constexpr std::string_view op = "load_spend";
  AEGIS_TRY(session, impl_->pool.acquire());
  auto rows = session.exec(
      "SELECT team, period, spent_micros, requests FROM budget_spend WHERE period = $1 ORDER BY team COLLATE \"C\"",
      pg::Params().add(period));
  if (!rows.ok()) return impl_->fail(op, session);
  std::vector<audit::TeamSpend> out;
  for (int i = 0; i < rows->size(); ++i) {
    audit::TeamSpend spend;
    spend.team = rows->text(i, 0);
    spend.period = rows->text(i, 1);
    const auto spent = rows->int64(i, 2), requests = rows->int64(i, 3);
    if (!spent || !requests) return corrupt_row(op);
    spend.spent = Money::from_micros(*spent);
    spend.requests = *requests;
    out.push_back(std::move(spend));
  }
  return out;
}

Result<std::int64_t> PostgresStore::recover_pending() {
  constexpr std::string_view op = "recover_pending";
  AEGIS_TRY(session, impl_->pool.acquire());
  const std::int64_t stale_before = impl_->now_ms() - impl_->options.owner_stale_after.count();
  if (!session.begin().ok()) return impl_->fail(op, session);
  auto abort = [&](Error e) {
    session.rollback();
    return e;
  };
  // SKIP LOCKED: two replicas recovering at once split the orphans instead of
  // booking one twice.
  auto rows = session.exec(std::string("SELECT owner, seq, ") + postgres::kAuditSelect +
                               " FROM audit_pending p WHERE owner <> $1 AND NOT EXISTS (SELECT 1 FROM store_owners o "
                               "WHERE o.owner = p.owner AND o.heartbeat_ms >= $2) ORDER BY owner, seq "
                               "FOR UPDATE SKIP LOCKED",
                           pg::Params().add(impl_->owner).add(stale_before));
  if (!rows.ok()) return abort(impl_->fail(op, session));
  // By owner: each dead replica's costs are booked against its own leases.
  std::map<std::string, std::vector<audit::AuditRecord>> orphans;
  std::size_t recovered = 0;
  std::map<std::string, std::string> seqs_by_owner;  // owner -> "{1,2,3}"
  for (int i = 0; i < rows->size(); ++i) {
    const std::string owner = rows->text(i, 0);
    const auto seq = rows->int64(i, 1);
    auto row = postgres::read_audit_row(*rows, i, 2);
    if (!seq || !row) return abort(corrupt_row(op));
    // The process died between the provider call and the final row: the
    // answer may have reached the client, so the row is kept and the
    // reservation it carries is booked.
    row->status = 0;
    row->error_type = "outcome_unknown";
    if (!row->provider.empty()) row->fallback_path.push_back(row->provider + ":unknown");
    row->intent = false;
    row->intent_seq = 0;
    if (auto r = impl_->ensure_partition(session, row->time_ms, /*in_transaction=*/true); !r.ok())
      return abort(r.error());
    orphans[owner].push_back(std::move(*row));
    ++recovered;
    auto& list = seqs_by_owner[owner];
    list += (list.empty() ? "{" : ",") + std::to_string(*seq);
  }
  auto chain = impl_->chain.begin();
  for (const auto& [owner, rows_of_owner] : orphans) {
    if (auto r = impl_->insert_rows(session, rows_of_owner, owner, chain); !r.ok()) return abort(r.error());
  }
  for (auto& [owner, list] : seqs_by_owner) {
    list += "}";
    if (!session
             .exec("DELETE FROM audit_pending WHERE owner = $1 AND seq = ANY($2::bigint[])",
                   pg::Params().add(owner).add(list))
             .ok())
      return abort(impl_->fail(op, session));
  }
  // Their leases' unspent money goes back to the pool, now that their costs are booked.
  if (auto r = postgres::reclaim_dead_leases(session, impl_->pool, impl_->owner, stale_before); !r.ok())
    return abort(r.error());
  if (auto r =
          postgres::reclaim_dead_leases(session, impl_->pool, impl_->owner, stale_before, postgres::kKeyPoolTables);
      !r.ok())
    return abort(r.error());
  // Owners presumed dead leave the table once their intents are rows.
  if (!session
           .exec("DELETE FROM store_owners o WHERE o.owner <> $1 AND o.heartbeat_ms < $2 AND NOT EXISTS "
                 "(SELECT 1 FROM audit_pending p WHERE p.owner = o.owner)",
                 pg::Params().add(impl_->owner).add(stale_before))
           .ok())
    return abort(impl_->fail(op, session));
  if (!session.commit().ok()) return abort(impl_->fail(op, session));
  chain.commit();
  return static_cast<std::int64_t>(recovered);
}

void PostgresStore::watch_changes(const std::function<void(const std::string&)>& on_key_revoked,
                                  const std::function<void()>& on_teams_changed) {
  stop_watching();
  {
    std::lock_guard lock(impl_->watch_mu);
    impl_->watch_stopping = false;
  }
  impl_->watcher = std::thread([this, keys = on_key_revoked, teams = on_teams_changed] { impl_->watch(keys, teams); });
}

void PostgresStore::stop_watching() {
  {
    std::lock_guard lock(impl_->watch_mu);
    impl_->watch_stopping = true;
  }
  impl_->watch_cv.notify_all();
  if (impl_->watcher.joinable()) impl_->watcher.join();
}

std::int64_t PostgresStore::live_peers() {
  auto session = impl_->pool.acquire();
  if (!session.ok()) return 0;
  auto rows =
      session->exec("SELECT COUNT(*) FROM store_owners WHERE owner <> $1 AND heartbeat_ms >= $2",
                    pg::Params().add(impl_->owner).add(impl_->now_ms() - impl_->options.owner_stale_after.count()));
  if (!rows.ok()) return 0;
  return rows->int64(0, 0).value_or(0);
}

Result<void> PostgresStore::ping() {
  constexpr std::string_view op = "ping";
  AEGIS_TRY(session, impl_->pool.acquire());
  if (!session.exec("SELECT 1").ok()) return impl_->fail(op, session);
  return {};
}

int PostgresStore::schema_version() {
  auto session = impl_->pool.acquire();
  if (!session.ok()) return impl_->version;
  auto rows = session->exec("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  if (rows.ok()) {
    if (auto v = rows->int64(0, 0)) impl_->version = static_cast<int>(*v);
  }
  return impl_->version;
}

Result<void> PostgresStore::scan_audit(const audit::AuditScan& scan,
                                       const std::function<bool(const audit::StoredAuditRow&)>& visit) {
  constexpr std::string_view op = "scan_audit";
  constexpr std::int64_t kPage = 1000;
  constexpr int kChainColumn = 30;
  const std::string select = std::string("SELECT ") + postgres::kAuditSelect +
                             ", chain_id, chain_seq, prev_hash, row_hash, id FROM audit WHERE ";
  const audit::FetchScanPage fetch = [&](const audit::ScanPosition& from,
                                         std::int64_t want) -> Result<audit::ScanPage> {
    AEGIS_TRY(session, impl_->pool.acquire());
    auto rows =
        scan.chain_id
            ? session.exec(select + "chain_id = $1 AND chain_seq > $2 ORDER BY chain_seq LIMIT $3",
                           pg::Params().add(*scan.chain_id).add(from.after_seq).add(want))
            : session.exec(
                  select +
                      "(time_ms, id) > ($1, $2) AND time_ms < $3 AND ($5::text IS NULL OR "
                      "team = $5) ORDER BY time_ms, id LIMIT $4",
                  pg::Params().add(from.after_time_ms).add(from.after_id).add(from.until_ms).add(want).add(scan.team));
    if (!rows.ok()) return impl_->fail(op, session);
    audit::ScanPage page;
    for (int i = 0; i < rows->size(); ++i) {
      auto row = postgres::read_audit_row(*rows, i);
      const auto seq = rows->int64(i, kChainColumn + 1);
      const auto id = rows->int64(i, kChainColumn + 4);
      if (!row || !seq || !id) return corrupt_row(op);
      page.rows.push_back(audit::StoredAuditRow{
          std::move(*row), audit::ChainLink{rows->text(i, kChainColumn), *seq, rows->text(i, kChainColumn + 2),
                                            rows->text(i, kChainColumn + 3)}});
      page.last_id = *id;
    }
    return page;
  };
  return audit::scan_in_pages(scan, kPage, fetch, visit);
}

Result<std::vector<audit::ChainSummary>> PostgresStore::list_chains() {
  constexpr std::string_view op = "list_chains";
  AEGIS_TRY(session, impl_->pool.acquire());
  auto rows = session.exec(
      "SELECT c.chain_id, c.first_seq, c.last_seq, c.n, (SELECT time_ms FROM audit a WHERE a.chain_id = c.chain_id "
      "AND a.chain_seq = c.first_seq LIMIT 1), (SELECT time_ms FROM audit a WHERE a.chain_id = c.chain_id AND "
      "a.chain_seq = c.last_seq LIMIT 1) FROM (SELECT chain_id, MIN(chain_seq) AS first_seq, MAX(chain_seq) AS "
      "last_seq, COUNT(*) AS n FROM audit WHERE chain_id <> '' GROUP BY chain_id) c ORDER BY c.chain_id");
  if (!rows.ok()) return impl_->fail(op, session);
  std::vector<audit::ChainSummary> out;
  for (int i = 0; i < rows->size(); ++i) {
    const auto first = rows->int64(i, 1), last = rows->int64(i, 2), count = rows->int64(i, 3),
               first_time = rows->int64(i, 4), last_time = rows->int64(i, 5);
    if (!first || !last || !count || !first_time || !last_time) return corrupt_row(op);
    out.push_back(audit::ChainSummary{rows->text(i, 0), *first, *last, *count, *first_time, *last_time});
  }
  return out;
}

Result<std::optional<audit::ChainLink>> PostgresStore::chain_head(const std::string& chain_id) {
  AEGIS_TRY(session, impl_->pool.acquire());
  return postgres::read_chain_head(session, impl_->pool, chain_id);
}

namespace {

constexpr const char* kCheckpointColumns = "id, chain_id, seq, head_hash, sealed_at_ms, key_id, signature";

Result<std::vector<audit::Checkpoint>> read_checkpoints(const pg::Rows& rows, std::string_view op) {
  std::vector<audit::Checkpoint> out;
  for (int i = 0; i < rows.size(); ++i) {
    const auto id = rows.int64(i, 0), seq = rows.int64(i, 2), sealed = rows.int64(i, 4);
    if (!id || !seq || !sealed) return corrupt_row(op);
    out.push_back(
        audit::Checkpoint{*id, rows.text(i, 1), *seq, rows.text(i, 3), *sealed, rows.text(i, 5), rows.text(i, 6)});
  }
  return out;
}

}  // namespace

Result<audit::Checkpoint> PostgresStore::append_checkpoint(const audit::Checkpoint& checkpoint) {
  constexpr std::string_view op = "append_checkpoint";
  AEGIS_TRY(session, impl_->pool.acquire());
  auto rows = session.exec(std::string("INSERT INTO audit_checkpoints(chain_id, seq, head_hash, sealed_at_ms, "
                                       "key_id, signature) VALUES ($1, $2, $3, $4, $5, $6) RETURNING ") +
                               kCheckpointColumns,
                           pg::Params()
                               .add(checkpoint.chain_id)
                               .add(checkpoint.seq)
                               .add(checkpoint.head_hash)
                               .add(checkpoint.sealed_at_ms)
                               .add(checkpoint.key_id)
                               .add(checkpoint.signature));
  if (!rows.ok()) return impl_->fail(op, session);
  AEGIS_TRY(stored, read_checkpoints(*rows, op));
  if (stored.size() != 1) return corrupt_row(op);
  return stored.front();
}

Result<std::vector<audit::Checkpoint>> PostgresStore::list_checkpoints(const std::optional<std::string>& chain_id) {
  constexpr std::string_view op = "list_checkpoints";
  AEGIS_TRY(session, impl_->pool.acquire());
  auto rows = session.exec(std::string("SELECT ") + kCheckpointColumns +
                               " FROM audit_checkpoints WHERE ($1::text IS NULL OR chain_id = $1) ORDER BY id",
                           pg::Params().add(chain_id));
  if (!rows.ok()) return impl_->fail(op, session);
  return read_checkpoints(*rows, op);
}

audit::ChainWriter* PostgresStore::chain_writer() { return &impl_->chain; }

namespace {

constexpr const char* kBreachColumns =
    "id, detected_at_ms, kind, ref, team, key_id, provider, entities, request_id, detail, status, note, "
    "updated_at_ms, updated_by";

Result<std::vector<audit::Breach>> read_breaches(const pg::Rows& rows, std::string_view op) {
  std::vector<audit::Breach> out;
  for (int i = 0; i < rows.size(); ++i) {
    const auto id = rows.int64(i, 0), detected = rows.int64(i, 1), updated = rows.int64(i, 12);
    auto entities = audit::entities_from_json(rows.text(i, 7));
    if (!id || !detected || !updated || !entities) return corrupt_row(op);
    out.push_back(audit::Breach{*id, *detected, rows.text(i, 2), rows.text(i, 3), rows.text(i, 4), rows.text(i, 5),
                                rows.text(i, 6), std::move(*entities), rows.text(i, 8), rows.text(i, 9),
                                rows.text(i, 10), rows.text(i, 11), *updated, rows.text(i, 13)});
  }
  return out;
}

}  // namespace

Result<bool> PostgresStore::record_breach(const audit::Breach& breach) {
  constexpr std::string_view op = "record_breach";
  AEGIS_TRY(session, impl_->pool.acquire());
  const pg::Statement insert = postgres::breach_statement(breach);
  auto rows = session.exec(insert.sql, insert.params);
  if (!rows.ok()) return impl_->fail(op, session);
  return rows->affected() > 0;
}

Result<std::vector<audit::Breach>> PostgresStore::list_breaches(const audit::BreachQuery& query) {
  constexpr std::string_view op = "list_breaches";
  AEGIS_TRY(session, impl_->pool.acquire());
  auto rows = session.exec(std::string("SELECT ") + kBreachColumns +
                               " FROM breaches WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR "
                               "team = $2) AND ($3::text IS NULL OR kind = $3) ORDER BY id DESC LIMIT $4",
                           pg::Params()
                               .add(query.status)
                               .add(query.team)
                               .add(query.kind)
                               .add(static_cast<std::int64_t>(std::clamp(query.limit, 1, 1000))));
  if (!rows.ok()) return impl_->fail(op, session);
  return read_breaches(*rows, op);
}

Result<audit::Breach> PostgresStore::get_breach(std::int64_t id) {
  constexpr std::string_view op = "get_breach";
  AEGIS_TRY(session, impl_->pool.acquire());
  auto rows =
      session.exec(std::string("SELECT ") + kBreachColumns + " FROM breaches WHERE id = $1", pg::Params().add(id));
  if (!rows.ok()) return impl_->fail(op, session);
  AEGIS_TRY(found, read_breaches(*rows, op));
  if (found.empty()) return make_error(ErrorCode::not_found, "breach " + std::to_string(id) + " not found");
  return std::move(found.front());
}

Result<audit::Breach> PostgresStore::update_breach(const audit::BreachUpdate& update) {
  constexpr std::string_view op = "update_breach";
  {
    AEGIS_TRY(session, impl_->pool.acquire());
    auto abort = [&](Error e) {
      session.rollback();
      return e;
    };
    if (!session.begin().ok()) return impl_->fail(op, session);
    auto updated = session.exec(
        "UPDATE breaches SET status = $2, note = $3, updated_at_ms = $4, updated_by = $5 WHERE id = $1",
        pg::Params().add(update.breach_id).add(update.status).add(update.note).add(update.time_ms).add(update.actor));
    if (!updated.ok()) return abort(impl_->fail(op, session));
    if (updated->affected() == 0) {
      return abort(make_error(ErrorCode::not_found, "breach " + std::to_string(update.breach_id) + " not found"));
    }
    if (!session
             .exec("INSERT INTO breach_updates(breach_id, time_ms, status, note, actor) VALUES ($1, $2, $3, $4, $5)",
                   pg::Params()
                       .add(update.breach_id)
                       .add(update.time_ms)
                       .add(update.status)
                       .add(update.note)
                       .add(update.actor))
             .ok()) {
      return abort(impl_->fail(op, session));
    }
    if (!session.commit().ok()) return abort(impl_->fail(op, session));
  }
  return get_breach(update.breach_id);
}

Result<std::vector<audit::BreachUpdate>> PostgresStore::breach_history(std::int64_t id) {
  constexpr std::string_view op = "breach_history";
  AEGIS_TRY(session, impl_->pool.acquire());
  auto rows = session.exec(
      "SELECT breach_id, time_ms, status, note, actor FROM breach_updates WHERE breach_id = $1 ORDER BY id",
      pg::Params().add(id));
  if (!rows.ok()) return impl_->fail(op, session);
  std::vector<audit::BreachUpdate> out;
  for (int i = 0; i < rows->size(); ++i) {
    const auto breach_id = rows->int64(i, 0), time = rows->int64(i, 1);
    if (!breach_id || !time) return corrupt_row(op);
    out.push_back(audit::BreachUpdate{*breach_id, *time, rows->text(i, 2), rows->text(i, 3), rows->text(i, 4)});
  }
  return out;
}

// --- rate limits (store/rate_limits.hpp)

namespace {

std::string_view limit_scope_name(LimitScope scope) { return scope == LimitScope::team ? "team" : "key"; }

std::optional<std::int64_t> optional_column(const pg::Rows& rows, int row, int column) {
  if (rows.is_null(row, column)) return std::nullopt;
  return rows.int64(row, column);
}

void add_patch_field(pg::Params& params, const std::optional<std::optional<std::int64_t>>& field) {
  params.add(field.has_value());
  if (field && *field)
    params.add(**field);
  else
    params.add_null();
}

bool positive_or_unset(const std::optional<std::optional<std::int64_t>>& field) {
  return !field || !*field || **field > 0;
}

}  // namespace

RatePool* PostgresStore::rate_pool() {
  if (!impl_->rate_pool) {
    impl_->rate_pool = std::make_unique<postgres::PostgresRatePool>(impl_->pool, [this] { return live_peers() + 1; });
  }
  return impl_->rate_pool.get();
}

Result<RateLimits> PostgresStore::get_rate_limits(LimitScope scope, const std::string& name) {
  constexpr std::string_view op = "get_rate_limits";
  AEGIS_TRY(session, impl_->pool.acquire());
  auto rows = session.exec("SELECT rpm, tpm, max_concurrency FROM rate_limits WHERE scope = $1 AND name = $2",
                           pg::Params().add(limit_scope_name(scope)).add(name));
  if (!rows.ok()) return impl_->fail(op, session);
  RateLimits out;
  if (rows->empty()) return out;
  out.rpm = optional_column(*rows, 0, 0);
  out.tpm = optional_column(*rows, 0, 1);
  out.max_concurrency = optional_column(*rows, 0, 2);
  return out;
}

Result<std::map<std::string, RateLimits>> PostgresStore::list_rate_limits(LimitScope scope) {
  constexpr std::string_view op = "list_rate_limits";
  AEGIS_TRY(session, impl_->pool.acquire());
  auto rows = session.exec("SELECT name, rpm, tpm, max_concurrency FROM rate_limits WHERE scope = $1",
                           pg::Params().add(limit_scope_name(scope)));
  if (!rows.ok()) return impl_->fail(op, session);
  std::map<std::string, RateLimits> out;
  for (int r = 0; r < rows->size(); ++r) {
    RateLimits limits{optional_column(*rows, r, 1), optional_column(*rows, r, 2), optional_column(*rows, r, 3)};
    out.emplace(rows->text(r, 0), limits);
  }
  return out;
}

Result<RateLimits> PostgresStore::update_rate_limits(LimitScope scope, const std::string& name,
                                                     const RateLimitsPatch& patch) {
  constexpr std::string_view op = "update_rate_limits";
  if (!positive_or_unset(patch.rpm) || !positive_or_unset(patch.tpm) || !positive_or_unset(patch.max_concurrency)) {
    return make_error(ErrorCode::invalid_request, "rate limits must be positive whole numbers");
  }
  {
    AEGIS_TRY(session, impl_->pool.acquire());
    auto exists = session.exec(
        scope == LimitScope::team ? "SELECT 1 FROM teams WHERE name = $1" : "SELECT 1 FROM api_keys WHERE id = $1",
        pg::Params().add(name));
    if (!exists.ok()) return impl_->fail(op, session);
    if (exists->empty()) {
      return make_error(ErrorCode::not_found, scope == LimitScope::team ? "team '" + name + "' not found"
                                                                        : "API key '" + name + "' not found");
    }
    if (!patch.empty()) {
      pg::Params p;
      p.add(limit_scope_name(scope)).add(name);
      add_patch_field(p, patch.rpm);
      add_patch_field(p, patch.tpm);
      add_patch_field(p, patch.max_concurrency);
      auto upsert = session.exec(
          "INSERT INTO rate_limits AS l (scope, name, rpm, tpm, max_concurrency) VALUES ($1, $2, "
          "CASE WHEN $3::boolean THEN $4::bigint END, CASE WHEN $5::boolean THEN $6::bigint END, "
          "CASE WHEN $7::boolean THEN $8::bigint END) ON CONFLICT (scope, name) DO UPDATE SET "
          "rpm = CASE WHEN $3::boolean THEN $4::bigint ELSE l.rpm END, "
          "tpm = CASE WHEN $5::boolean THEN $6::bigint ELSE l.tpm END, "
          "max_concurrency = CASE WHEN $7::boolean THEN $8::bigint ELSE l.max_concurrency END",
          p);
      if (!upsert.ok()) {
        if (session.last_failure().sqlstate == pg::kCheckViolation) {
          return make_error(ErrorCode::invalid_request, "rate limits must be positive whole numbers");
        }
        return impl_->fail(op, session);
      }
      (void)session.exec(
          "DELETE FROM rate_limits WHERE scope = $1 AND name = $2 AND rpm IS NULL AND tpm IS NULL AND "
          "max_concurrency IS NULL",
          pg::Params().add(limit_scope_name(scope)).add(name));
      // Cached principals carry the limits: every replica drops them.
      (void)session.exec(
          scope == LimitScope::team ? "SELECT pg_notify('aegis_teams', $1)" : "SELECT pg_notify('aegis_keys', $1)",
          pg::Params().add(name));
    }
  }
  return get_rate_limits(scope, name);
}

}  // namespace aegis::store
