#include "store/postgres/migrations.hpp"

#include <array>
#include <stdexcept>
#include <string>

#include "store/postgres/pg.hpp"

namespace aegis::store::postgres {

namespace {

// Append new steps at the end; never edit a step that has shipped.
constexpr std::array kMigrations = {
    // The same tables and meaning as the SQLite store (docs/ARCHITECTURE.md,
    // "Storage"), with PostgreSQL types. The audit trail is range-partitioned
    // by month on time_ms (UTC); the store creates each month's partition
    // before it writes rows for that month, and the default partition only
    // catches a timestamp far outside them. No foreign keys on team in audit:
    // an audit row must be writable whatever happens to the team later.
    Migration{1, "teams, api_keys, audit (partitioned by month), budget_spend, intents, pipeda_violations", R"sql(
CREATE TABLE teams (
  name                  TEXT PRIMARY KEY,
  monthly_budget_micros BIGINT NOT NULL CHECK (monthly_budget_micros >= 0),
  clearance             TEXT NOT NULL CHECK (clearance IN ('PUBLIC', 'INTERNAL', 'CONFIDENTIAL', 'RESTRICTED')),
  created_at_ms         BIGINT NOT NULL
);
CREATE TABLE api_keys (
  seq           BIGSERIAL NOT NULL,
  id            TEXT PRIMARY KEY,
  team          TEXT NOT NULL REFERENCES teams(name),
  prefix        TEXT NOT NULL,
  secret_hash   TEXT NOT NULL,
  created_at_ms BIGINT NOT NULL,
  revoked_at_ms BIGINT
);
CREATE INDEX api_keys_team ON api_keys(team);

CREATE TABLE audit (
  id             BIGSERIAL NOT NULL,
  time_ms        BIGINT NOT NULL,
  request_id     TEXT NOT NULL,
  team           TEXT NOT NULL,
  key_id         TEXT NOT NULL,
  surface        TEXT NOT NULL,
  task           TEXT NOT NULL,
  level          TEXT NOT NULL CHECK (level IN ('PUBLIC', 'INTERNAL', 'CONFIDENTIAL', 'RESTRICTED')),
  entities       JSONB NOT NULL,  -- entity type -> count
  placeholders   INTEGER NOT NULL,
  tier           TEXT NOT NULL,
  provider       TEXT NOT NULL,
  model          TEXT NOT NULL,
  locality       TEXT NOT NULL,  -- where data was actually sent: 'local' | 'cloud' | '' (nothing sent)
  reason         TEXT NOT NULL,
  fallback_path  JSONB NOT NULL,  -- array of "provider:outcome"
  status         INTEGER NOT NULL,
  error_type     TEXT NOT NULL,
  input_tokens   BIGINT NOT NULL,
  output_tokens  BIGINT NOT NULL,
  cost_micros    BIGINT NOT NULL,
  budget_period  TEXT NOT NULL,
  latency_us     BIGINT NOT NULL,
  overhead_us    BIGINT NOT NULL,
  invented_pii   BOOLEAN NOT NULL,
  egress_blocked BOOLEAN NOT NULL,
  egress_veto    BOOLEAN NOT NULL,
  egress_rule    TEXT NOT NULL
) PARTITION BY RANGE (time_ms);
CREATE TABLE audit_default PARTITION OF audit DEFAULT;
CREATE INDEX audit_team_time ON audit(team, time_ms);
CREATE INDEX audit_time ON audit(time_ms, id);

-- Append-only: no UPDATE, DELETE or TRUNCATE through the table. Retention
-- detaches and drops whole monthly partitions instead.
CREATE FUNCTION aegis_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit rows are append-only';
END
$$;
CREATE TRIGGER audit_no_update_or_delete BEFORE UPDATE OR DELETE ON audit
  FOR EACH ROW EXECUTE FUNCTION aegis_audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
  FOR EACH STATEMENT EXECUTE FUNCTION aegis_audit_append_only();

CREATE TABLE budget_spend (
  team         TEXT NOT NULL,
  period       TEXT NOT NULL,  -- "YYYY-MM"
  spent_micros BIGINT NOT NULL DEFAULT 0,
  requests     BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (team, period)
);

-- Intents (audit/record.hpp) of requests in flight, per writing process
-- (owner): several replicas share the table, so a sequence number alone is
-- not a key, and recovery takes only the intents of owners that stopped.
CREATE TABLE audit_pending (
  owner          TEXT NOT NULL,
  seq            BIGINT NOT NULL,
  time_ms        BIGINT NOT NULL,
  request_id     TEXT NOT NULL,
  team           TEXT NOT NULL,
  key_id         TEXT NOT NULL,
  surface        TEXT NOT NULL,
  task           TEXT NOT NULL,
  level          TEXT NOT NULL,
  entities       JSONB NOT NULL,
  placeholders   INTEGER NOT NULL,
  tier           TEXT NOT NULL,
  provider       TEXT NOT NULL,
  model          TEXT NOT NULL,
  locality       TEXT NOT NULL,
  reason         TEXT NOT NULL,
  fallback_path  JSONB NOT NULL,
  status         INTEGER NOT NULL,
  error_type     TEXT NOT NULL,
  input_tokens   BIGINT NOT NULL,
  output_tokens  BIGINT NOT NULL,
  cost_micros    BIGINT NOT NULL,
  budget_period  TEXT NOT NULL,
  latency_us     BIGINT NOT NULL,
  overhead_us    BIGINT NOT NULL,
  invented_pii   BOOLEAN NOT NULL,
  egress_blocked BOOLEAN NOT NULL,
  egress_veto    BOOLEAN NOT NULL,
  egress_rule    TEXT NOT NULL,
  PRIMARY KEY (owner, seq)
);
-- Each writing process refreshes its heartbeat while it runs.
CREATE TABLE store_owners (
  owner        TEXT PRIMARY KEY,
  heartbeat_ms BIGINT NOT NULL
);

-- The compliance view: must always be empty.
CREATE VIEW pipeda_violations AS
  SELECT * FROM audit WHERE level = 'RESTRICTED' AND locality NOT IN ('local', '');
)sql"},
    // The job queue (the SQLite store's migrations 3 and 4 in one step).
    // Content columns hold AES-256-GCM sealed values (jobs/payload_cipher.hpp);
    // request and vault become NULL when the job finishes. Ids and teams sort
    // by bytes (COLLATE "C"), as SQLite sorts them, whatever the database's
    // locale, so cursors and claim order agree across backends.
    Migration{2, "jobs", R"sql(
CREATE TABLE jobs (
  id               TEXT COLLATE "C" PRIMARY KEY,
  team             TEXT COLLATE "C" NOT NULL,
  key_id           TEXT NOT NULL,
  status           TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'expired')),
  task_type        TEXT NOT NULL,
  request_json     BYTEA,
  vault_json       BYTEA,
  metadata_json    BYTEA,
  classification   TEXT NOT NULL CHECK (classification IN ('PUBLIC', 'INTERNAL', 'CONFIDENTIAL', 'RESTRICTED')),
  idempotency_key  TEXT,
  route_tier       TEXT NOT NULL DEFAULT '',
  route_provider   TEXT NOT NULL DEFAULT '',
  route_model      TEXT NOT NULL DEFAULT '',
  route_reason     TEXT NOT NULL DEFAULT '',
  result_text      BYTEA NOT NULL DEFAULT ''::bytea,
  input_tokens     BIGINT NOT NULL DEFAULT 0,
  output_tokens    BIGINT NOT NULL DEFAULT 0,
  cost_micros      BIGINT NOT NULL DEFAULT 0,
  error_type       TEXT NOT NULL DEFAULT '',
  error_message    TEXT NOT NULL DEFAULT '',
  attempts         INTEGER NOT NULL DEFAULT 0,
  max_attempts     INTEGER NOT NULL CHECK (max_attempts >= 1),
  lease_owner      TEXT NOT NULL DEFAULT '',
  lease_expires_ms BIGINT NOT NULL DEFAULT 0,
  created_at_ms    BIGINT NOT NULL,
  started_at_ms    BIGINT NOT NULL DEFAULT 0,
  finished_at_ms   BIGINT NOT NULL DEFAULT 0,
  reservation_id   BIGINT NOT NULL DEFAULT 0  -- uint64 stored bit for bit
);
CREATE INDEX jobs_status_created ON jobs(status, created_at_ms, id);
CREATE INDEX jobs_team_created ON jobs(team, created_at_ms, id);
CREATE UNIQUE INDEX jobs_team_idempotency ON jobs(team, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_finished ON jobs(finished_at_ms)
  WHERE status IN ('succeeded', 'failed', 'cancelled', 'expired');
)sql"},
    // Budgets shared by the replicas (store/budget_pool.hpp): per team and
    // month, the money leased to replicas (granted <= cap, except spend past
    // a reservation), and per replica what it holds and what its audit rows
    // booked against it, so a dead replica's unused slice can be reclaimed.
    Migration{3, "budget leases", R"sql(
CREATE TABLE budget_pool (
  team           TEXT NOT NULL,
  period         TEXT NOT NULL,  -- "YYYY-MM"
  cap_micros     BIGINT NOT NULL,
  granted_micros BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (team, period)
);
CREATE TABLE budget_leases (
  owner          TEXT NOT NULL,
  team           TEXT NOT NULL,
  period         TEXT NOT NULL,
  granted_micros BIGINT NOT NULL DEFAULT 0,  -- leased to this owner and not given back
  spent_micros   BIGINT NOT NULL DEFAULT 0,  -- booked by this owner's audit rows
  PRIMARY KEY (owner, team, period)
);
)sql"},
    Migration{4, "api key clearance", R"sql(
ALTER TABLE api_keys ADD COLUMN clearance TEXT
  CHECK (clearance IS NULL OR clearance IN ('PUBLIC', 'INTERNAL', 'CONFIDENTIAL', 'RESTRICTED'));
)sql"},
    // The audit chain (audit/chain.hpp), as in the SQLite schema. A chain
    // lives in one month, so in one partition; the index cannot be unique
    // without the partition key, and the chain writer alone hands out seqs.
    Migration{5, "audit chain and checkpoints", R"sql(
ALTER TABLE audit ADD COLUMN chain_id TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN chain_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE audit ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN row_hash TEXT NOT NULL DEFAULT '';
CREATE INDEX audit_chain ON audit(chain_id, chain_seq);
CREATE TABLE audit_checkpoints (
  id           BIGSERIAL PRIMARY KEY,
  chain_id     TEXT NOT NULL,
  seq          BIGINT NOT NULL,
  head_hash    TEXT NOT NULL,
  sealed_at_ms BIGINT NOT NULL,
  key_id       TEXT NOT NULL,
  signature    TEXT NOT NULL
);
CREATE INDEX audit_checkpoints_chain ON audit_checkpoints(chain_id, seq);
CREATE TRIGGER audit_checkpoints_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_checkpoints
  FOR EACH ROW EXECUTE FUNCTION aegis_audit_append_only();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
  FOR EACH STATEMENT EXECUTE FUNCTION aegis_audit_append_only();
)sql"},
    // The breach register, as in the SQLite schema.
    Migration{6, "breach register", R"sql(
CREATE TABLE breaches (
  id             BIGSERIAL PRIMARY KEY,
  detected_at_ms BIGINT NOT NULL,
  kind           TEXT NOT NULL CHECK (kind IN ('pipeda_violation', 'egress_block', 'chain_failure')),
  ref            TEXT NOT NULL,
  team           TEXT NOT NULL,
  key_id         TEXT NOT NULL,
  provider       TEXT NOT NULL,
  entities       TEXT NOT NULL,  -- JSON object: entity type -> count
  request_id     TEXT NOT NULL,
  detail         TEXT NOT NULL,
  status         TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'assessed', 'reported', 'closed')),
  note           TEXT NOT NULL DEFAULT '',
  updated_at_ms  BIGINT NOT NULL,
  updated_by     TEXT NOT NULL DEFAULT '',
  UNIQUE (kind, ref)
);
CREATE INDEX breaches_status ON breaches(status, id);
CREATE TABLE breach_updates (
  id        BIGSERIAL PRIMARY KEY,
  breach_id BIGINT NOT NULL REFERENCES breaches(id),
  time_ms   BIGINT NOT NULL,
  status    TEXT NOT NULL,
  note      TEXT NOT NULL,
  actor     TEXT NOT NULL
);
CREATE INDEX breach_updates_breach ON breach_updates(breach_id, id);
CREATE FUNCTION aegis_breach_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'breach register entries and their history are kept';
END $$;
CREATE TRIGGER breaches_no_delete BEFORE DELETE ON breaches
  FOR EACH ROW EXECUTE FUNCTION aegis_breach_kept();
CREATE TRIGGER breach_updates_append_only BEFORE UPDATE OR DELETE ON breach_updates
  FOR EACH ROW EXECUTE FUNCTION aegis_breach_kept();
)sql"},
    // Prompt-cache accounting, as in the SQLite schema (its migration 11).
    // On the partitioned audit table the columns reach every partition.
    Migration{7, "prompt cache token counts", R"sql(
ALTER TABLE audit ADD COLUMN cache_read_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE audit ADD COLUMN cache_write_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE audit_pending ADD COLUMN cache_read_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE audit_pending ADD COLUMN cache_write_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN cache_read_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN cache_write_tokens BIGINT NOT NULL DEFAULT 0;
)sql"},
    // Key lifecycle (issue 19), as in the SQLite schema (migration 12 there),
    // plus the per-key budget pool shared by the replicas: the same shape as
    // budget_pool and budget_leases (store/budget_pool.hpp), keyed by key id.
    Migration{8, "api key lifecycle, key spend and key budget leases", R"sql(
ALTER TABLE api_keys ADD COLUMN models TEXT;
ALTER TABLE api_keys ADD COLUMN monthly_budget_micros BIGINT
  CHECK (monthly_budget_micros IS NULL OR monthly_budget_micros >= 0);
ALTER TABLE api_keys ADD COLUMN expires_at_ms BIGINT;
ALTER TABLE api_keys ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN last_used_at_ms BIGINT;
ALTER TABLE api_keys ADD COLUMN previous_secret_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN previous_valid_until_ms BIGINT;
CREATE TABLE key_spend (
  key_id       TEXT NOT NULL,
  period       TEXT NOT NULL,  -- "YYYY-MM"
  spent_micros BIGINT NOT NULL DEFAULT 0,
  requests     BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (key_id, period)
);
CREATE TABLE key_budget_pool (
  key_id         TEXT NOT NULL,
  period         TEXT NOT NULL,
  cap_micros     BIGINT NOT NULL,
  granted_micros BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (key_id, period)
);
CREATE TABLE key_budget_leases (
  owner          TEXT NOT NULL,
  key_id         TEXT NOT NULL,
  period         TEXT NOT NULL,
  granted_micros BIGINT NOT NULL DEFAULT 0,
  spent_micros   BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (owner, key_id, period)
);
)sql"},
    // Rate and concurrency limits per team and per key (issue 19), as in the
    // SQLite schema, and the token buckets the replicas share
    // (store/rate_limits.hpp): each bucket's level in thousandths of a token
    // as of updated_ms, and the grant of the last take (what RETURNING reads).
    Migration{9, "rate limits and shared rate buckets", R"sql(
CREATE TABLE rate_limits (
  scope           TEXT NOT NULL CHECK (scope IN ('team', 'key')),
  name            TEXT NOT NULL,
  rpm             BIGINT CHECK (rpm IS NULL OR rpm > 0),
  tpm             BIGINT CHECK (tpm IS NULL OR tpm > 0),
  max_concurrency BIGINT CHECK (max_concurrency IS NULL OR max_concurrency > 0),
  PRIMARY KEY (scope, name)
);
CREATE TABLE rate_buckets (
  bucket      TEXT PRIMARY KEY,
  level_milli BIGINT NOT NULL,
  updated_ms  BIGINT NOT NULL,
  last_grant  BIGINT NOT NULL DEFAULT 0
);
)sql"},
    // The exact response cache (issue 19): a team's TTL as the admin API set
    // it (NULL: never set, the config decides; 0: off), and the audit rows of
    // answers served from it. Old rows read cache_hit false, which their chain
    // hash encodes as it always did (audit/chain.cpp). Added to the
    // partitioned parent, so every month's partition has it.
    Migration{10, "response cache team setting and audit cache_hit", R"sql(
ALTER TABLE teams ADD COLUMN response_cache_ttl_s BIGINT
  CHECK (response_cache_ttl_s IS NULL OR response_cache_ttl_s >= 0);
ALTER TABLE audit ADD COLUMN cache_hit BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE audit_pending ADD COLUMN cache_hit BOOLEAN NOT NULL DEFAULT false;
)sql"},
    // Stored Responses API conversations, as in the SQLite schema.
    Migration{11, "stored responses", R"sql(
CREATE TABLE responses (
  id                TEXT PRIMARY KEY,
  team              TEXT NOT NULL,
  created_at_ms     BIGINT NOT NULL,
  expires_at_ms     BIGINT NOT NULL,
  conversation_json TEXT NOT NULL,
  response_json     TEXT NOT NULL
);
CREATE INDEX responses_expiry ON responses(expires_at_ms);
)sql"},
    // Console sign-outs every replica honours, as in the SQLite schema.
    Migration{12, "console sign-outs", R"sql(
CREATE TABLE console_revocations (
  id_digest     TEXT PRIMARY KEY,
  expires_at_ms BIGINT NOT NULL
);
)sql"},
};

std::string message_of(PGconn* conn, PGresult* result) {
  const char* m = result ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  return m ? m : PQerrorMessage(conn);
}

void exec(PGconn* conn, const std::string& sql, const std::string& what) {
  std::unique_ptr<PGresult, pg::ResultClearer> result(PQexec(conn, sql.c_str()));
  const auto status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    throw std::runtime_error("PostgreSQL migration failed (" + what + "): " + message_of(conn, result.get()));
  }
}

int read_version(PGconn* conn, const MigrationLedger& ledger) {
  std::string sql = "SELECT COALESCE(MAX(version), 0) FROM ";
  sql.append(ledger.table);
  std::unique_ptr<PGresult, pg::ResultClearer> result(PQexec(conn, sql.c_str()));
  if (!result || PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
    throw std::runtime_error("cannot read the schema version: " + message_of(conn, result.get()));
  }
  return std::stoi(PQgetvalue(result.get(), 0, 0));
}

}  // namespace

std::span<const Migration> migrations() { return kMigrations; }
int latest_schema_version() { return kMigrations.back().version; }

int current_schema_version(PGconn* conn, const MigrationLedger& ledger) {
  std::string sql = "SELECT to_regclass('";
  sql.append(ledger.table).append("') IS NOT NULL");
  std::unique_ptr<PGresult, pg::ResultClearer> exists(PQexec(conn, sql.c_str()));
  if (!exists || PQresultStatus(exists.get()) != PGRES_TUPLES_OK) {
    throw std::runtime_error("cannot read the schema version: " + message_of(conn, exists.get()));
  }
  if (std::string_view(PQgetvalue(exists.get(), 0, 0)) != "t") return 0;
  return read_version(conn, ledger);
}

int apply_migrations(PGconn* conn, std::span<const Migration> steps, std::int64_t now_ms,
                     const MigrationLedger& ledger) {
  const std::string key(ledger.lock_key);
  const std::string table(ledger.table);
  exec(conn, "SELECT pg_advisory_lock(" + key + ")", "lock");
  struct Unlock {
    PGconn* conn;
    std::string sql;
    ~Unlock() { PQclear(PQexec(conn, sql.c_str())); }
  } unlock{conn, "SELECT pg_advisory_unlock(" + key + ")"};
  exec(conn,
       "CREATE TABLE IF NOT EXISTS " + table +
           " (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at_ms BIGINT NOT NULL)",
       table);
  int version = read_version(conn, ledger);
  const int latest = steps.empty() ? 0 : steps.back().version;
  if (version > latest) {
    throw std::runtime_error("the database schema is version " + std::to_string(version) +
                             ", newer than this binary knows (" + std::to_string(latest) +
                             "): upgrade Aegis before pointing it at this database");
  }
  for (const auto& step : steps) {
    if (step.version <= version) continue;
    const std::string what = "step " + std::to_string(step.version) + ", " + std::string(step.name);
    exec(conn, "BEGIN", what);
    try {
      exec(conn, std::string(step.sql), what);
      exec(conn,
           "INSERT INTO " + table + "(version, name, applied_at_ms) VALUES (" + std::to_string(step.version) + ", '" +
               std::string(step.name) + "', " + std::to_string(now_ms) + ")",
           what);
      exec(conn, "COMMIT", what);
    } catch (...) {
      PQclear(PQexec(conn, "ROLLBACK"));
      throw;
    }
    version = step.version;
  }
  return version;
}

}  // namespace aegis::store::postgres
