#pragma once
// Value types of the async job API (issue 6). No behaviour beyond naming and
// parsing: the store (jobs/job_store.hpp) owns the state transitions.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/classification.hpp"
#include "core/money.hpp"

namespace aegis::jobs {

// queued → running → succeeded | failed; queued | running → cancelled;
// queued → expired (waited past the TTL); running → queued when a lease is lost
// and attempts remain.
enum class JobStatus { queued = 0, running, succeeded, failed, cancelled, expired };
inline constexpr std::size_t kJobStatusCount = 6;

std::string_view to_string(JobStatus status) noexcept;
// Exact lower-case names only: these come from query strings and the database.
std::optional<JobStatus> parse_job_status(std::string_view text) noexcept;
// succeeded, failed, cancelled, expired: nothing will change the job any more.
constexpr bool is_finished(JobStatus s) noexcept { return s != JobStatus::queued && s != JobStatus::running; }

// "job_" + 12 hex digits of created_at_ms + 32 hex digits of 128 random bits
// (OpenSSL). The random part makes ids unguessable (lookups are team-scoped
// anyway); the time prefix makes new ids sort after old ones, so inserts into
// the unique id index append instead of landing on random B-tree pages — that
// doubles batched submit throughput (bench/job_store_bench.cpp). Throws only
// if the system RNG fails.
std::string new_job_id(std::int64_t created_at_ms);

struct JobRoute {
  std::string tier;
  std::string provider;
  std::string model;
  std::string reason;
};

struct JobResult {
  std::string text;
  std::int64_t input_tokens = 0;  // billed at the plain input rate (the cache tokens are apart)
  std::int64_t output_tokens = 0;
  std::int64_t cache_read_tokens = 0;   // input read from the provider's prompt cache
  std::int64_t cache_write_tokens = 0;  // input written to it
  Money cost;                           // integer micro-dollars
};

// Where a running rag_ingest job stands (rag::IngestProgress): the
// document's chunks, the vectors to make and those made so far. Held by the
// process running the job, never stored.
struct JobProgress {
  std::int64_t chunks_total = 0;
  std::int64_t embeddings_total = 0;
  std::int64_t embeddings_done = 0;
};

struct JobError {
  std::string type;     // the stable error type, e.g. "upstream_timeout", "worker_lost"
  std::string message;  // never carries prompt content
};

struct Job {
  std::string id;
  std::string team;
  std::string key_id;
  JobStatus status = JobStatus::queued;
  std::string task_type;
  // The client's request as received (prompt/messages/max_tokens/model/metadata).
  // Stored encrypted (jobs/payload_cipher.hpp) and only while the job may
  // still run: the store deletes it when the job finishes, unless
  // jobs.keep_requests keeps it until retention. Empty once deleted.
  std::string request_json;
  // The masking vault (placeholder → original); empty when nothing was masked.
  // Encrypted and deleted like the request.
  std::string vault_json;
  // The client's metadata as a JSON object; empty when none was given. Kept
  // (encrypted) until retention so a finished job still returns it.
  std::string metadata_json;
  Level classification = Level::INTERNAL;
  std::optional<std::string> idempotency_key;

  JobRoute route;    // set when the job ran (succeeded or failed after routing)
  JobResult result;  // set when succeeded
  JobError error;    // set when failed, cancelled by the system, or expired

  int attempts = 0;                   // claims so far
  int max_attempts = 3;               // a lost worker past this many claims fails the job
  std::string lease_owner;            // empty unless running
  std::int64_t lease_expires_ms = 0;  // 0 unless running

  // Unix epoch milliseconds; 0 = not yet.
  std::int64_t created_at_ms = 0;
  std::int64_t started_at_ms = 0;  // first claim; kept across retries
  std::int64_t finished_at_ms = 0;

  // The budget hold taken at submit; released or reconciled when the job ends.
  std::uint64_t reservation_id = 0;

  // Set when a stored content column (request, vault, metadata, result) could
  // not be decrypted: a wrong or missing key. Those fields are then empty. The
  // message names the column and key id, never a secret or content.
  std::optional<std::string> content_error;

  // A running rag_ingest job's progress, filled in by the JobService running
  // it (not stored); empty otherwise.
  std::optional<JobProgress> progress;
};

// Jobs per status, indexed by JobStatus (for the aegis_jobs{status} gauge).
using JobCounts = std::array<std::int64_t, kJobStatusCount>;

}  // namespace aegis::jobs
