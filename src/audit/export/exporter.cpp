#include "audit/export/exporter.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>
#include <vector>

#include "audit/export/event_json.hpp"
#include "audit/export/sink_factory.hpp"
#include "telemetry/log.hpp"

namespace aegis::audit::siem {

using telemetry::LogLevel;
using SteadyClock = std::chrono::steady_clock;

ExporterOptions ExporterOptions::from_config(const config::AuditExportConfig& config, const std::string& sqlite_path) {
  ExporterOptions options;
  options.batch_rows = config.batch_rows;
  options.max_backoff = config.max_backoff;
  options.initial_backoff = std::min(options.initial_backoff, options.max_backoff);
  options.poll_interval = config.poll_interval;
  options.cursor_file = config.cursor_file.empty() ? sqlite_path + ".export-cursor" : config.cursor_file;
  return options;
}

namespace {

ExportCursor load_cursor(const std::string& path) {
  auto cursor = ExportCursor::load(path);
  if (!cursor.ok()) throw std::runtime_error(cursor.error().message);
  return std::move(cursor).value();
}

}  // namespace

ExportMetrics::ExportMetrics(telemetry::Registry& registry)
    : lag(registry
              .gauge("aegis_audit_export_lag_seconds",
                     "Now minus the time of the oldest audit row not yet exported to the SIEM (0: caught up)")
              .with({})),
      rows(registry.counter("aegis_audit_export_rows_total", "Audit rows the SIEM sink acknowledged").with({})),
      checkpoints(
          registry.counter("aegis_audit_export_checkpoints_total", "Audit checkpoints the SIEM sink acknowledged")
              .with({})),
      errors(registry
                 .counter("aegis_audit_export_errors_total",
                          "Failed SIEM export batches and store reads (each is retried)")
                 .with({})) {}

AuditExporter::AuditExporter(AuditStore& store, std::unique_ptr<ExportSink> sink, telemetry::Registry& registry,
                             ExporterOptions options, const Clock& clock)
    : store_(store),
      sink_(std::move(sink)),
      options_(std::move(options)),
      clock_(clock),
      metrics_(registry),
      cursor_(load_cursor(options_.cursor_file)) {
  options_.batch_rows = std::max<std::int64_t>(options_.batch_rows, 1);
  options_.initial_backoff = std::max(options_.initial_backoff, std::chrono::milliseconds(1));
  options_.max_backoff = std::max(options_.max_backoff, options_.initial_backoff);
}

AuditExporter::~AuditExporter() { stop(); }

Result<void> AuditExporter::send(const std::vector<ExportEvent>& batch) {
  auto sent = sink_->send(batch);
  if (!sent.ok()) metrics_.errors.inc();
  return sent;
}

Result<ExportProgress> AuditExporter::export_pending() {
  std::lock_guard lock(pass_mu_);
  const auto now = SteadyClock::now();
  // Listing the chains aggregates the whole audit table: done now and then
  // (a new chain is a new month or a new writer), on the first and last pass,
  // and every pass while none is known (the table is then empty or nearly);
  // in between the known chains are read after their cursors, by index.
  if (force_checkpoints_ || known_chains_.empty() || !chains_listed_ ||
      now - *chains_listed_ >= options_.chain_list_interval) {
    auto chains = store_.list_chains();
    if (!chains.ok()) {
      metrics_.errors.inc();
      return chains.error();
    }
    known_chains_.clear();
    for (const auto& chain : *chains) known_chains_.push_back(chain.chain_id);
    chains_listed_ = now;
  }
  refresh_lag();
  const bool all_checkpoints = force_checkpoints_;
  ExportProgress progress;
  Result<void> outcome;
  for (const auto& chain_id : known_chains_) {
    outcome = export_chain(chain_id, all_checkpoints, progress);
    if (!outcome.ok()) break;
  }
  if (outcome.ok()) force_checkpoints_ = false;
  exported_.rows += progress.rows;
  exported_.checkpoints += progress.checkpoints;
  refresh_lag();
  if (!outcome.ok()) return outcome.error();
  return progress;
}

Result<void> AuditExporter::export_chain(const std::string& chain_id, bool all_checkpoints, ExportProgress& progress) {
  ChainPosition position = cursor_.position(chain_id);
  const std::int64_t rows_before = position.row_seq;
  std::vector<ExportEvent> batch;
  for (;;) {
    batch.clear();
    AuditScan scan;
    scan.chain_id = chain_id;
    scan.after_seq = position.row_seq;
    scan.limit = options_.batch_rows;
    auto scanned = store_.scan_audit(scan, [&batch](const StoredAuditRow& row) {
      batch.push_back(row_event(row));
      return true;
    });
    if (!scanned.ok()) {
      metrics_.errors.inc();
      return scanned;
    }
    if (batch.empty()) break;
    if (auto sent = send(batch); !sent.ok()) return sent;
    position.row_seq = batch.back().seq;
    cursor_.set(chain_id, position);
    if (auto saved = cursor_.save(options_.cursor_file); !saved.ok()) return saved;
    metrics_.rows.inc(static_cast<double>(batch.size()));
    progress.rows += static_cast<std::int64_t>(batch.size());
    if (static_cast<std::int64_t>(batch.size()) < options_.batch_rows) break;  // caught up with this chain
  }

  // A chain's checkpoints are listed whole: only when its rows moved, now
  // and then, and on the first and last pass.
  const auto now = SteadyClock::now();
  const auto listed = checkpoints_listed_.find(chain_id);
  const bool due = all_checkpoints || position.row_seq != rows_before || listed == checkpoints_listed_.end() ||
                   now - listed->second >= options_.checkpoint_poll;
  if (!due) return {};
  auto checkpoints = store_.list_checkpoints(chain_id);
  if (!checkpoints.ok()) {
    metrics_.errors.inc();
    return checkpoints.error();
  }
  checkpoints_listed_[chain_id] = now;
  // Only checkpoints sealing rows already exported: a SIEM never holds a
  // seal over rows it has not received.
  std::vector<Checkpoint> pending;
  for (auto& checkpoint : *checkpoints) {
    if (checkpoint.seq > position.checkpoint_seq && checkpoint.seq <= position.row_seq) {
      pending.push_back(std::move(checkpoint));
    }
  }
  std::ranges::stable_sort(pending, {}, &Checkpoint::seq);
  for (std::size_t start = 0; start < pending.size(); start += static_cast<std::size_t>(options_.batch_rows)) {
    const std::size_t end = std::min(pending.size(), start + static_cast<std::size_t>(options_.batch_rows));
    batch.clear();
    for (std::size_t i = start; i < end; ++i) batch.push_back(checkpoint_event(pending[i]));
    if (auto sent = send(batch); !sent.ok()) return sent;
    position.checkpoint_seq = pending[end - 1].seq;
    cursor_.set(chain_id, position);
    if (auto saved = cursor_.save(options_.cursor_file); !saved.ok()) return saved;
    metrics_.checkpoints.inc(static_cast<double>(batch.size()));
    progress.checkpoints += static_cast<std::int64_t>(batch.size());
  }
  return {};
}

void AuditExporter::refresh_lag() {
  std::optional<std::int64_t> oldest_ms;
  for (const auto& chain_id : known_chains_) {
    AuditScan scan;
    scan.chain_id = chain_id;
    scan.after_seq = cursor_.position(chain_id).row_seq;
    scan.limit = 1;
    std::optional<std::int64_t> first_ms;
    auto scanned = store_.scan_audit(scan, [&first_ms](const StoredAuditRow& row) {
      first_ms = row.record.time_ms;
      return false;
    });
    // A read that fails leaves the gauge where it was; the pass reports it.
    if (!scanned.ok()) return;
    if (first_ms && (!oldest_ms || *first_ms < *oldest_ms)) oldest_ms = first_ms;
  }
  if (!oldest_ms) {
    metrics_.lag.set(0);
    return;
  }
  const auto now_ms = clock_.wall_ms();
  metrics_.lag.set(static_cast<double>(std::max<std::int64_t>(now_ms - *oldest_ms, 0)) / 1000.0);
}

std::chrono::milliseconds AuditExporter::backoff(int failures) {
  // Exponential, capped, with jitter over its upper half so replicas and
  // restarts do not retry in step.
  auto delay = options_.initial_backoff;
  for (int i = 1; i < failures && delay < options_.max_backoff; ++i) delay *= 2;
  delay = std::min(delay, options_.max_backoff);
  std::uniform_int_distribution<std::int64_t> spread(delay.count() / 2, delay.count());
  return std::chrono::milliseconds(spread(jitter_));
}

Result<ExportProgress> AuditExporter::export_pending_retrying(std::chrono::milliseconds limit) {
  const auto deadline = SteadyClock::now() + limit;
  ExportProgress total;
  for (int failures = 1;; ++failures) {
    auto pass = export_pending();
    if (pass.ok()) {
      total.rows += pass->rows;
      total.checkpoints += pass->checkpoints;
      return total;
    }
    const auto delay = backoff(failures);
    if (SteadyClock::now() + delay >= deadline) return pass.error();
    telemetry::log(LogLevel::warn, "audit_export_retry",
                   {{"error", pass.error().message}, {"attempt", failures}, {"retry_in_ms", delay.count()}});
    if (!wait(delay)) return pass.error();
  }
}

void AuditExporter::start() {
  std::lock_guard lock(join_mu_);
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { run(); });
}

void AuditExporter::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  std::lock_guard lock(join_mu_);
  if (thread_.joinable()) thread_.join();
}

bool AuditExporter::wait(std::chrono::milliseconds delay) {
  std::unique_lock lock(mu_);
  return !wake_.wait_for(lock, delay, [this] { return stopping_; });
}

void AuditExporter::run() {
  int failures = 0;
  FailureLogPolicy logged;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) break;
    }
    auto pass = export_pending();
    std::chrono::milliseconds delay = options_.poll_interval;
    if (pass.ok()) {
      if (failures > 0) telemetry::log(LogLevel::info, "audit_export_recovered", {{"failed_attempts", failures}});
      failures = 0;
      logged.succeeded();
    } else {
      ++failures;
      delay = backoff(failures);
      if (logged.should_log(pass.error().message, failures)) {
        telemetry::log(LogLevel::warn, "audit_export_failed",
                       {{"error", pass.error().message}, {"attempt", failures}, {"retry_in_ms", delay.count()}});
      }
    }
    if (!wait(delay)) break;
  }
  // The last pass, after the audit writer drained: the rows it wrote last go too.
  {
    std::lock_guard lock(pass_mu_);
    force_checkpoints_ = true;
  }
  const auto deadline = SteadyClock::now() + options_.final_pass_limit;
  for (int attempt = 1;; ++attempt) {
    auto pass = export_pending();
    if (pass.ok()) break;
    const auto delay = backoff(attempt);
    if (SteadyClock::now() + delay >= deadline) {
      telemetry::log(LogLevel::warn, "audit_export_incomplete",
                     {{"error", pass.error().message},
                      {"note", "rows not yet exported stay in the store and are exported on the next start"}});
      break;
    }
    std::this_thread::sleep_for(delay);
  }
}

ExportProgress AuditExporter::exported() const {
  std::lock_guard lock(pass_mu_);
  return exported_;
}

ExportCursor AuditExporter::cursor() const {
  std::lock_guard lock(pass_mu_);
  return cursor_;
}

std::unique_ptr<AuditExporter> make_audit_exporter(const config::Config& config, AuditStore& store,
                                                   telemetry::Registry& registry, const Clock& clock) {
  const auto& export_config = config.audit.export_to;
  if (export_config.type.empty()) return nullptr;
  auto sink = make_export_sink(export_config);
  if (!sink.ok()) throw std::runtime_error(sink.error().message);
  return std::make_unique<AuditExporter>(store, std::move(sink).value(), registry,
                                         ExporterOptions::from_config(export_config, config.storage.sqlite_path),
                                         clock);
}

}  // namespace aegis::audit::siem
