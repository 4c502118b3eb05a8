#include "store/sqlite/migrations.hpp"

#include <sqlite3.h>

#include <array>
#include <chrono>
#include <stdexcept>
#include <string>

namespace aegis::store::sqlite {

namespace {

// Append new steps at the end; never edit a step that has shipped.
constexpr std::array kMigrations = {
    Migration{1, "teams and api_keys", R"sql(
CREATE TABLE teams (
  name                  TEXT PRIMARY KEY NOT NULL,
  monthly_budget_micros INTEGER NOT NULL CHECK (monthly_budget_micros >= 0),
  clearance             TEXT NOT NULL CHECK (clearance IN ('PUBLIC', 'INTERNAL', 'CONFIDENTIAL', 'RESTRICTED')),
  created_at_ms         INTEGER NOT NULL
);
CREATE TABLE api_keys (
  id            TEXT PRIMARY KEY NOT NULL,
  team          TEXT NOT NULL REFERENCES teams(name),
  prefix        TEXT NOT NULL,
  secret_hash   TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  revoked_at_ms INTEGER
);
CREATE INDEX api_keys_team ON api_keys(team);
)sql"},
    // No foreign keys on team: an audit row must be writable whatever happens
    // to the team later, and a failed insert would lose the record.
    Migration{2, "audit trail, budget spend, pipeda_violations view", R"sql(
CREATE TABLE audit (
  id             INTEGER PRIMARY KEY,
  time_ms        INTEGER NOT NULL,
  request_id     TEXT NOT NULL,
  team           TEXT NOT NULL,
  key_id         TEXT NOT NULL,
  surface        TEXT NOT NULL,
  task           TEXT NOT NULL,
  level          TEXT NOT NULL CHECK (level IN ('PUBLIC', 'INTERNAL', 'CONFIDENTIAL', 'RESTRICTED')),
  entities       TEXT NOT NULL,  -- JSON object: entity type -> count
  placeholders   INTEGER NOT NULL,
  tier           TEXT NOT NULL,
  provider       TEXT NOT NULL,
  model          TEXT NOT NULL,
  locality       TEXT NOT NULL,  -- where data was actually sent: 'local' | 'cloud' | '' (nothing sent)
  reason         TEXT NOT NULL,
  fallback_path  TEXT NOT NULL,  -- JSON array of "provider:outcome"
  status         INTEGER NOT NULL,
  error_type     TEXT NOT NULL,
  input_tokens   INTEGER NOT NULL,
  output_tokens  INTEGER NOT NULL,
  cost_micros    INTEGER NOT NULL,
  budget_period  TEXT NOT NULL,
  latency_us     INTEGER NOT NULL,
  overhead_us    INTEGER NOT NULL,
  invented_pii   INTEGER NOT NULL CHECK (invented_pii IN (0, 1)),
  egress_blocked INTEGER NOT NULL CHECK (egress_blocked IN (0, 1))
);
CREATE INDEX audit_team_time ON audit(team, time_ms);
CREATE INDEX audit_time ON audit(time_ms);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit rows are append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit rows are append-only'); END;
CREATE TABLE budget_spend (
  team         TEXT NOT NULL,
  period       TEXT NOT NULL,  -- "YYYY-MM"
  spent_micros INTEGER NOT NULL DEFAULT 0,
  requests     INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (team, period)
);
-- The compliance view: must always be empty.
CREATE VIEW pipeda_violations AS
  SELECT * FROM audit WHERE level = 'RESTRICTED' AND locality NOT IN ('local', '');
)sql"},
    // Jobs (issue 6). Times are Unix epoch milliseconds, 0 = not yet. seq keeps
    // insertion order for ties and gives SQLite a compact integer key.
    // job_counts is kept by triggers in the same transaction as every change,
    // so the queue-depth check at submit and the aegis_jobs gauge read one row
    // instead of counting the table.
    Migration{3, "jobs and job_counts", R"sql(
CREATE TABLE jobs (
  seq              INTEGER PRIMARY KEY,
  id               TEXT NOT NULL UNIQUE,
  team             TEXT NOT NULL,
  key_id           TEXT NOT NULL,
  status           TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'expired')),
  task_type        TEXT NOT NULL,
  request_json     TEXT NOT NULL,
  vault_json       TEXT NOT NULL,
  classification   TEXT NOT NULL CHECK (classification IN ('PUBLIC', 'INTERNAL', 'CONFIDENTIAL', 'RESTRICTED')),
  idempotency_key  TEXT,
  route_tier       TEXT NOT NULL DEFAULT '',
  route_provider   TEXT NOT NULL DEFAULT '',
  route_model      TEXT NOT NULL DEFAULT '',
  route_reason     TEXT NOT NULL DEFAULT '',
  result_text      TEXT NOT NULL DEFAULT '',
  input_tokens     INTEGER NOT NULL DEFAULT 0,
  output_tokens    INTEGER NOT NULL DEFAULT 0,
  cost_micros      INTEGER NOT NULL DEFAULT 0,
  error_type       TEXT NOT NULL DEFAULT '',
  error_message    TEXT NOT NULL DEFAULT '',
  attempts         INTEGER NOT NULL DEFAULT 0,
  max_attempts     INTEGER NOT NULL CHECK (max_attempts >= 1),
  lease_owner      TEXT NOT NULL DEFAULT '',
  lease_expires_ms INTEGER NOT NULL DEFAULT 0,
  created_at_ms    INTEGER NOT NULL,
  started_at_ms    INTEGER NOT NULL DEFAULT 0,
  finished_at_ms   INTEGER NOT NULL DEFAULT 0,
  reservation_id   INTEGER NOT NULL DEFAULT 0  -- uint64 stored bit for bit
);
CREATE INDEX jobs_status_created ON jobs(status, created_at_ms, id);
CREATE INDEX jobs_team_created ON jobs(team, created_at_ms, id);
CREATE UNIQUE INDEX jobs_team_idempotency ON jobs(team, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_finished ON jobs(finished_at_ms)
  WHERE status IN ('succeeded', 'failed', 'cancelled', 'expired');
CREATE TABLE job_counts (
  status TEXT PRIMARY KEY NOT NULL,
  n      INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO job_counts(status, n) VALUES
  ('queued', 0), ('running', 0), ('succeeded', 0), ('failed', 0), ('cancelled', 0), ('expired', 0);
CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs
BEGIN UPDATE job_counts SET n = n + 1 WHERE status = NEW.status; END;
CREATE TRIGGER jobs_count_update AFTER UPDATE OF status ON jobs WHEN OLD.status <> NEW.status
BEGIN
  UPDATE job_counts SET n = n - 1 WHERE status = OLD.status;
  UPDATE job_counts SET n = n + 1 WHERE status = NEW.status;
END;
CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs
BEGIN UPDATE job_counts SET n = n - 1 WHERE status = OLD.status; END;
)sql"},
    // Job content at rest (issue 11 item 7). request_json, vault_json,
    // metadata_json and result_text hold AES-256-GCM sealed values as BLOBs
    // (jobs/payload_cipher.hpp); a TEXT value is a plaintext row written by an
    // earlier version and is still read as such. request_json and vault_json
    // become nullable: they are set to NULL when the job finishes. The client's
    // metadata gets its own column so GET /v1/jobs/{id} still returns it after
    // the request is gone; existing rows take it from their request. SQLite
    // cannot relax NOT NULL in place, so the table is rebuilt (same rows, same
    // seq values, same indexes and triggers; job_counts is unchanged).
    Migration{4, "jobs content columns for encryption at rest", R"sql(
CREATE TABLE jobs_v4 (
  seq              INTEGER PRIMARY KEY,
  id               TEXT NOT NULL UNIQUE,
  team             TEXT NOT NULL,
  key_id           TEXT NOT NULL,
  status           TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'expired')),
  task_type        TEXT NOT NULL,
  request_json     BLOB,
  vault_json       BLOB,
  metadata_json    BLOB,
  classification   TEXT NOT NULL CHECK (classification IN ('PUBLIC', 'INTERNAL', 'CONFIDENTIAL', 'RESTRICTED')),
  idempotency_key  TEXT,
  route_tier       TEXT NOT NULL DEFAULT '',
  route_provider   TEXT NOT NULL DEFAULT '',
  route_model      TEXT NOT NULL DEFAULT '',
  route_reason     TEXT NOT NULL DEFAULT '',
  result_text      BLOB NOT NULL DEFAULT '',
  input_tokens     INTEGER NOT NULL DEFAULT 0,
  output_tokens    INTEGER NOT NULL DEFAULT 0,
  cost_micros      INTEGER NOT NULL DEFAULT 0,
  error_type       TEXT NOT NULL DEFAULT '',
  error_message    TEXT NOT NULL DEFAULT '',
  attempts         INTEGER NOT NULL DEFAULT 0,
  max_attempts     INTEGER NOT NULL CHECK (max_attempts >= 1),
  lease_owner      TEXT NOT NULL DEFAULT '',
  lease_expires_ms INTEGER NOT NULL DEFAULT 0,
  created_at_ms    INTEGER NOT NULL,
  started_at_ms    INTEGER NOT NULL DEFAULT 0,
  finished_at_ms   INTEGER NOT NULL DEFAULT 0,
  reservation_id   INTEGER NOT NULL DEFAULT 0
);
INSERT INTO jobs_v4(seq, id, team, key_id, status, task_type, request_json, vault_json, metadata_json,
                    classification, idempotency_key, route_tier, route_provider, route_model, route_reason,
                    result_text, input_tokens, output_tokens, cost_micros, error_type, error_message, attempts,
                    max_attempts, lease_owner, lease_expires_ms, created_at_ms, started_at_ms, finished_at_ms,
                    reservation_id)
  SELECT seq, id, team, key_id, status, task_type, request_json, vault_json,
         CASE WHEN json_valid(request_json) THEN json_extract(request_json, '$.metadata') END,
         classification, idempotency_key, route_tier, route_provider, route_model, route_reason,
         result_text, input_tokens, output_tokens, cost_micros, error_type, error_message, attempts,
         max_attempts, lease_owner, lease_expires_ms, created_at_ms, started_at_ms, finished_at_ms,
         reservation_id
  FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_v4 RENAME TO jobs;
CREATE INDEX jobs_status_created ON jobs(status, created_at_ms, id);
CREATE INDEX jobs_team_created ON jobs(team, created_at_ms, id);
CREATE UNIQUE INDEX jobs_team_idempotency ON jobs(team, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_finished ON jobs(finished_at_ms)
  WHERE status IN ('succeeded', 'failed', 'cancelled', 'expired');
CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs
BEGIN UPDATE job_counts SET n = n + 1 WHERE status = NEW.status; END;
CREATE TRIGGER jobs_count_update AFTER UPDATE OF status ON jobs WHEN OLD.status <> NEW.status
BEGIN
  UPDATE job_counts SET n = n - 1 WHERE status = OLD.status;
  UPDATE job_counts SET n = n + 1 WHERE status = NEW.status;
END;
CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs
BEGIN UPDATE job_counts SET n = n - 1 WHERE status = OLD.status; END;
)sql"},
    // The independent egress detector (issue 12): a row records when it vetoed
    // a cloud send and moved the request to a local provider, and which of its
    // rules fired. Existing rows had no veto.
    Migration{5, "audit egress veto columns", R"sql(
ALTER TABLE audit ADD COLUMN egress_veto INTEGER NOT NULL DEFAULT 0 CHECK (egress_veto IN (0, 1));
ALTER TABLE audit ADD COLUMN egress_rule TEXT NOT NULL DEFAULT '';
)sql"},
    // Intents (audit/record.hpp): a request's row as routed, committed while
    // the provider answers and deleted when its final row commits. The same
    // columns as audit, keyed by the writer's sequence number; not append-only.
    Migration{6, "audit intents of requests in flight", R"sql(
CREATE TABLE audit_pending (
  seq            INTEGER PRIMARY KEY,
  time_ms        INTEGER NOT NULL,
  request_id     TEXT NOT NULL,
  team           TEXT NOT NULL,
  key_id         TEXT NOT NULL,
  surface        TEXT NOT NULL,
  task           TEXT NOT NULL,
  level          TEXT NOT NULL,
  entities       TEXT NOT NULL,
  placeholders   INTEGER NOT NULL,
  tier           TEXT NOT NULL,
  provider       TEXT NOT NULL,
  model          TEXT NOT NULL,
  locality       TEXT NOT NULL,
  reason         TEXT NOT NULL,
  fallback_path  TEXT NOT NULL,
  status         INTEGER NOT NULL,
  error_type     TEXT NOT NULL,
  input_tokens   INTEGER NOT NULL,
  output_tokens  INTEGER NOT NULL,
  cost_micros    INTEGER NOT NULL,
  budget_period  TEXT NOT NULL,
  latency_us     INTEGER NOT NULL,
  overhead_us    INTEGER NOT NULL,
  invented_pii   INTEGER NOT NULL,
  egress_blocked INTEGER NOT NULL,
  egress_veto    INTEGER NOT NULL,
  egress_rule    TEXT NOT NULL
);
)sql"},
    // Retrieval (rag/rag_store.hpp): documents, their chunks, and each chunk's
    // vectors (float32, little-endian, unit length), one per embedding model.
    Migration{7, "rag documents and chunks", R"sql(
CREATE TABLE rag_documents (
  id            TEXT PRIMARY KEY NOT NULL,
  team          TEXT NOT NULL,
  collection    TEXT NOT NULL,
  source        TEXT NOT NULL,
  metadata      TEXT NOT NULL,
  level         TEXT NOT NULL CHECK (level IN ('PUBLIC', 'INTERNAL', 'CONFIDENTIAL', 'RESTRICTED')),
  created_at_ms INTEGER NOT NULL
);
CREATE INDEX rag_documents_collection ON rag_documents(team, collection, created_at_ms);
CREATE TABLE rag_chunks (
  id          TEXT PRIMARY KEY NOT NULL,
  document_id TEXT NOT NULL,
  chunk_index INTEGER NOT NULL,
  text        TEXT NOT NULL,
  level       TEXT NOT NULL CHECK (level IN ('PUBLIC', 'INTERNAL', 'CONFIDENTIAL', 'RESTRICTED'))
);
CREATE TABLE rag_vectors (
  chunk_id TEXT NOT NULL,
  model    TEXT NOT NULL,
  vector   BLOB NOT NULL,
  PRIMARY KEY (chunk_id, model)
);
CREATE INDEX rag_chunks_document ON rag_chunks(document_id, chunk_index);
)sql"},
    Migration{8, "api key clearance", R"sql(
ALTER TABLE api_keys ADD COLUMN clearance TEXT
  CHECK (clearance IS NULL OR clearance IN ('PUBLIC', 'INTERNAL', 'CONFIDENTIAL', 'RESTRICTED'));
)sql"},
    // The audit chain (audit/chain.hpp): each row's place in its writer's
    // chain and its hash; rows written before this version keep chain_id ''.
    // Checkpoints are append-only like the rows they seal.
    Migration{9, "audit chain and checkpoints", R"sql(
ALTER TABLE audit ADD COLUMN chain_id TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN chain_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE audit ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN row_hash TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX audit_chain ON audit(chain_id, chain_seq) WHERE chain_id <> '';
CREATE TABLE audit_checkpoints (
  id           INTEGER PRIMARY KEY,
  chain_id     TEXT NOT NULL,
  seq          INTEGER NOT NULL,
  head_hash    TEXT NOT NULL,
  sealed_at_ms INTEGER NOT NULL,
  key_id       TEXT NOT NULL,
  signature    TEXT NOT NULL
);
CREATE INDEX audit_checkpoints_chain ON audit_checkpoints(chain_id, seq);
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
)sql"},
    // The breach register (audit/breach_store.hpp): entries are kept (no
    // DELETE); their status changes, each change kept in breach_updates.
    Migration{10, "breach register", R"sql(
CREATE TABLE breaches (
  id             INTEGER PRIMARY KEY,
  detected_at_ms INTEGER NOT NULL,
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
  updated_at_ms  INTEGER NOT NULL,
  updated_by     TEXT NOT NULL DEFAULT '',
  UNIQUE (kind, ref)
);
CREATE INDEX breaches_status ON breaches(status, id);
CREATE TABLE breach_updates (
  id        INTEGER PRIMARY KEY,
  breach_id INTEGER NOT NULL REFERENCES breaches(id),
  time_ms   INTEGER NOT NULL,
  status    TEXT NOT NULL,
  note      TEXT NOT NULL,
  actor     TEXT NOT NULL
);
CREATE INDEX breach_updates_breach ON breach_updates(breach_id, id);
CREATE TRIGGER breaches_no_delete BEFORE DELETE ON breaches
BEGIN SELECT RAISE(ABORT, 'breach register entries are kept'); END;
CREATE TRIGGER breach_updates_no_update BEFORE UPDATE ON breach_updates
BEGIN SELECT RAISE(ABORT, 'breach history is append-only'); END;
CREATE TRIGGER breach_updates_no_delete BEFORE DELETE ON breach_updates
BEGIN SELECT RAISE(ABORT, 'breach history is append-only'); END;
)sql"},
    // Prompt-cache accounting (issue 19): the input tokens read from and
    // written to the provider's prompt cache, per audit row (and intent) and
    // per job result. Existing rows had none; the chain hashes these columns
    // only when they are not 0 (audit/chain.hpp), so those rows still verify.
    Migration{11, "prompt cache token counts", R"sql(
ALTER TABLE audit ADD COLUMN cache_read_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE audit ADD COLUMN cache_write_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE audit_pending ADD COLUMN cache_read_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE audit_pending ADD COLUMN cache_write_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN cache_read_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN cache_write_tokens INTEGER NOT NULL DEFAULT 0;
)sql"},
    // Key lifecycle (issue 19): a key's model allow-list (a JSON array of
    // names, NULL: none), monthly sub-budget, expiry, description, last use
    // (written in batches, to the minute), the secret a rotation replaced
    // with the end of its grace, and each key's spend per budget month,
    // booked with the audit rows like budget_spend.
    Migration{12, "api key lifecycle and key spend", R"sql(
ALTER TABLE api_keys ADD COLUMN models TEXT;
ALTER TABLE api_keys ADD COLUMN monthly_budget_micros INTEGER
  CHECK (monthly_budget_micros IS NULL OR monthly_budget_micros >= 0);
ALTER TABLE api_keys ADD COLUMN expires_at_ms INTEGER;
ALTER TABLE api_keys ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN last_used_at_ms INTEGER;
ALTER TABLE api_keys ADD COLUMN previous_secret_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN previous_valid_until_ms INTEGER;
CREATE TABLE key_spend (
  key_id       TEXT NOT NULL,
  period       TEXT NOT NULL,  -- "YYYY-MM"
  spent_micros INTEGER NOT NULL DEFAULT 0,
  requests     INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (key_id, period)
);
)sql"},
    // Rate and concurrency limits per team and per key (issue 19): a row
    // only for a team or key with a limit set; NULL is no limit.
    Migration{13, "rate limits", R"sql(
CREATE TABLE rate_limits (
  scope           TEXT NOT NULL CHECK (scope IN ('team', 'key')),
  name            TEXT NOT NULL,
  rpm             INTEGER CHECK (rpm IS NULL OR rpm > 0),
  tpm             INTEGER CHECK (tpm IS NULL OR tpm > 0),
  max_concurrency INTEGER CHECK (max_concurrency IS NULL OR max_concurrency > 0),
  PRIMARY KEY (scope, name)
);
)sql"},
    // The exact response cache (issue 19): a team's TTL as the admin API set
    // it (NULL: never set, the config decides; 0: off), and the audit rows of
    // answers served from it. Old rows read cache_hit 0, which their chain
    // hash encodes as it always did (audit/chain.cpp).
    Migration{14, "response cache team setting and audit cache_hit", R"sql(
ALTER TABLE teams ADD COLUMN response_cache_ttl_s INTEGER
  CHECK (response_cache_ttl_s IS NULL OR response_cache_ttl_s >= 0);
ALTER TABLE audit ADD COLUMN cache_hit INTEGER NOT NULL DEFAULT 0;
ALTER TABLE audit_pending ADD COLUMN cache_hit INTEGER NOT NULL DEFAULT 0;
)sql"},
    // Stored Responses API conversations (store/response_store.hpp): raw
    // turns, kept for their team until expires_at_ms, erasable.
    Migration{15, "stored responses", R"sql(
CREATE TABLE responses (
  id                TEXT PRIMARY KEY,
  team              TEXT NOT NULL,
  created_at_ms     INTEGER NOT NULL,
  expires_at_ms     INTEGER NOT NULL,
  conversation_json TEXT NOT NULL,
  response_json     TEXT NOT NULL
);
CREATE INDEX responses_expiry ON responses(expires_at_ms);
)sql"},
    // Console sign-outs every process honours (store/console_session_store.hpp).
    Migration{16, "console sign-outs", R"sql(
CREATE TABLE console_revocations (
  id_digest     TEXT PRIMARY KEY,
  expires_at_ms INTEGER NOT NULL
);
)sql"},
};

std::string errmsg(sqlite3* db) {
  const char* m = sqlite3_errmsg(db);
  return m ? m : "unknown error";
}

void exec(sqlite3* db, const char* sql, const char* what) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = std::string("SQLite migration failed (") + what + "): " + (err ? err : errmsg(db));
    sqlite3_free(err);
    throw std::runtime_error(msg);
  }
}

int read_version(sqlite3* db) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", -1, &st, nullptr) !=
      SQLITE_OK) {
    throw std::runtime_error("cannot read the schema version: " + errmsg(db));
  }
  const int rc = sqlite3_step(st);
  const int version = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
  sqlite3_finalize(st);
  if (version < 0) throw std::runtime_error("cannot read the schema version: " + errmsg(db));
  return version;
}

void record_version(sqlite3* db, int version, std::int64_t now_ms) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, "INSERT INTO schema_migrations(version, applied_at_ms) VALUES (?1, ?2)", -1, &st,
                         nullptr) != SQLITE_OK) {
    throw std::runtime_error("cannot record the schema version: " + errmsg(db));
  }
  sqlite3_bind_int(st, 1, version);
  sqlite3_bind_int64(st, 2, now_ms);
  const int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) throw std::runtime_error("cannot record the schema version: " + errmsg(db));
}

[[noreturn]] void refuse_newer(int found, int known) {
  throw std::runtime_error("the database schema is version " + std::to_string(found) +
                           ", newer than this aegis binary supports (" + std::to_string(known) +
                           "); run a newer aegis or restore a matching backup");
}

}  // namespace

std::span<const Migration> migrations() { return kMigrations; }

int latest_schema_version() { return kMigrations.back().version; }

int current_schema_version(sqlite3* db) {
  exec(db, "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at_ms INTEGER)",
       "schema_migrations");
  return read_version(db);
}

int apply_migrations(sqlite3* db, std::span<const Migration> steps, std::int64_t now_ms) {
  int previous = 0;
  for (const auto& step : steps) {
    if (step.version <= previous) throw std::logic_error("migration versions must be strictly increasing");
    previous = step.version;
  }
  const int known = steps.empty() ? 0 : steps.back().version;

  int current = current_schema_version(db);
  if (current > known) refuse_newer(current, known);

  for (const auto& step : steps) {
    if (step.version <= current) continue;
    exec(db, "BEGIN IMMEDIATE", "begin");
    try {
      // Another process may have applied it while we waited for the write lock.
      current = read_version(db);
      if (current > known) refuse_newer(current, known);
      if (step.version > current) {
        const std::string sql(step.sql);
        const std::string what = "step " + std::to_string(step.version) + " '" + std::string(step.name) + "'";
        exec(db, sql.c_str(), what.c_str());
        record_version(db, step.version, now_ms);
        current = step.version;
      }
      exec(db, "COMMIT", "commit");
    } catch (...) {
      sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }
  return current;
}

void configure_and_migrate(sqlite3* db, const std::string& path, std::string_view purpose,
                           std::initializer_list<std::string_view> pragmas) {
  for (const auto pragma : pragmas) {
    const std::string sql(pragma);
    char* err = nullptr;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = "cannot configure the SQLite database '";
      msg.append(path).append("'").append(purpose).append(" (").append(sql).append("): ");
      msg += err ? err : sqlite3_errmsg(db);
      sqlite3_free(err);
      throw std::runtime_error(msg);
    }
  }
  try {
    // The only clock read at start-up: the audit stamp of a migration step.
    const auto now =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    apply_migrations(db, now);
  } catch (const std::exception& e) {
    throw std::runtime_error("SQLite database '" + path + "': " + e.what());
  }
}

}  // namespace aegis::store::sqlite
