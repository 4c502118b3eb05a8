#pragma once
// The SIEM export loop (docs/ARCHITECTURE.md, "SIEM export"): reads every
// audit chain in seq order from the store and hands the rows, then the
// checkpoints sealing them, to an ExportSink in batches, on a thread of its
// own (never an I/O thread).
//
// At-least-once: the cursor (per chain: last row seq, last checkpoint seq,
// audit/export/cursor.hpp) is saved, atomically and durably, only after the
// sink acknowledged a batch; a restart resumes there, so a batch that was
// delivered but not yet recorded is sent again, and nothing is skipped. A
// failing sink is retried with exponential backoff and jitter, capped at
// max_backoff; rows are never dropped (they stay in the store).
//
// Metrics: aegis_audit_export_lag_seconds (now minus the time of the oldest
// row not yet exported; 0 when caught up), aegis_audit_export_rows_total,
// aegis_audit_export_checkpoints_total, aegis_audit_export_errors_total
// (failed batches and failed store reads).
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "audit/audit_store.hpp"
#include "audit/export/cursor.hpp"
#include "audit/export/export_sink.hpp"
#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"
#include "telemetry/metrics.hpp"

namespace aegis::audit::siem {

struct ExporterOptions {
  std::int64_t batch_rows = 500;
  std::chrono::milliseconds initial_backoff{500};
  std::chrono::milliseconds max_backoff{60'000};
  std::chrono::milliseconds poll_interval{1'000};
  // A chain whose rows did not move has its checkpoints looked for at most
  // this often (a chain's checkpoints are listed whole).
  std::chrono::milliseconds checkpoint_poll{10'000};
  // How often the chains are listed (AuditStore::list_chains aggregates the
  // whole table); between listings the known chains are read after their
  // cursors. A chain that begins meanwhile (a new month, a new writer) waits
  // at most this long.
  std::chrono::milliseconds chain_list_interval{15'000};
  // How long stop() keeps retrying the last pass while the sink fails; what
  // is left stays in the store and goes out on the next start.
  std::chrono::milliseconds final_pass_limit{5'000};
  std::string cursor_file;

  // From audit.export; the cursor defaults to <sqlite_path>.export-cursor.
  static ExporterOptions from_config(const config::AuditExportConfig& config, const std::string& sqlite_path);
};

// The export's metrics. The gateway registers them whether or not it exports,
// so dashboards and alert rules find the series (the lag then stays 0).
struct ExportMetrics {
  explicit ExportMetrics(telemetry::Registry& registry);
  telemetry::Gauge& lag;
  telemetry::Counter& rows;
  telemetry::Counter& checkpoints;
  telemetry::Counter& errors;
};

struct ExportProgress {
  std::int64_t rows = 0;
  std::int64_t checkpoints = 0;
};

// Which failed attempts of a run of failures are logged: the first time each
// reason appears (a refused connection that turns into a certificate the
// receiver cannot prove says so at once), and every tenth attempt; a long
// outage does not flood the log. Remembers a bounded number of reasons, for
// a reason that carries a changing detail.
class FailureLogPolicy {
 public:
  static constexpr std::size_t kMaxReasons = 8;
  // `failures`: the attempts failed in this run so far, this one included.
  bool should_log(const std::string& reason, int failures) {
    const bool new_reason =
        reasons_.size() < kMaxReasons && std::find(reasons_.begin(), reasons_.end(), reason) == reasons_.end();
    if (new_reason) reasons_.push_back(reason);
    return new_reason || failures % 10 == 0;
  }
  void succeeded() { reasons_.clear(); }

 private:
  std::vector<std::string> reasons_;
};

class AuditExporter {
 public:
  // Loads the cursor: throws when its file is unreadable or malformed.
  // `store`, `registry` and `clock` must outlive the exporter.
  AuditExporter(AuditStore& store, std::unique_ptr<ExportSink> sink, telemetry::Registry& registry,
                ExporterOptions options, const Clock& clock);
  ~AuditExporter();  // stop()
  AuditExporter(const AuditExporter&) = delete;
  AuditExporter& operator=(const AuditExporter&) = delete;

  // One pass on the caller's thread: exports what the store holds now, every
  // chain, checkpoints included. Stops at the first failure (what was
  // acknowledged before it stays exported).
  Result<ExportProgress> export_pending();

  // Passes, with backoff between failures, until one succeeds or `limit` has
  // passed (the error of the last attempt then). For `aegis audit export --once`.
  Result<ExportProgress> export_pending_retrying(std::chrono::milliseconds limit);

  // Starts the thread: a pass every poll_interval, backoff after a failure.
  void start();
  // Wakes the thread for one last pass (retried up to final_pass_limit) and
  // joins it. Call after the audit writer stopped, so its last rows go too.
  // Idempotent.
  void stop();

  ExportProgress exported() const;  // totals since construction
  ExportCursor cursor() const;

 private:
  Result<void> export_chain(const std::string& chain_id, bool all_checkpoints, ExportProgress& progress);
  Result<void> send(const std::vector<ExportEvent>& batch);
  // The lag over the known chains: one indexed read of a row per chain.
  void refresh_lag();
  std::chrono::milliseconds backoff(int failures);
  // Waits up to `delay`; false when stop() was called meanwhile.
  bool wait(std::chrono::milliseconds delay);
  void run();

  AuditStore& store_;
  std::unique_ptr<ExportSink> sink_;
  ExporterOptions options_;
  const Clock& clock_;
  ExportMetrics metrics_;

  mutable std::mutex pass_mu_;  // one pass at a time; guards the state below
  ExportCursor cursor_;
  ExportProgress exported_;
  bool force_checkpoints_ = true;  // the first and the last pass list the chains and all their checkpoints
  std::vector<std::string> known_chains_;
  std::optional<std::chrono::steady_clock::time_point> chains_listed_;
  std::map<std::string, std::chrono::steady_clock::time_point> checkpoints_listed_;
  std::mt19937_64 jitter_{std::random_device{}()};

  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::mutex join_mu_;
  std::thread thread_;
};

// The exporter audit.export describes, with its sink; null when no type is
// set. Throws on a configuration the sink cannot start with (an unset token
// variable, an unreadable trust store or cursor).
std::unique_ptr<AuditExporter> make_audit_exporter(const config::Config& config, AuditStore& store,
                                                   telemetry::Registry& registry, const Clock& clock);

}  // namespace aegis::audit::siem
