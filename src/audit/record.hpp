#pragma once
// The audit trail: one row per governed request (stage 8 in docs/ARCHITECTURE.md).
// A row holds classifications, entity types and counts, routes and costs,
// never prompt or answer text and never a detected value.
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/classification.hpp"
#include "core/money.hpp"

namespace aegis::audit {

struct AuditRecord {
  std::int64_t time_ms = 0;  // Unix epoch milliseconds, when the request arrived
  std::string request_id;
  std::string team;
  std::string key_id;
  std::string surface;  // "openai.chat" | "anthropic.messages" | "openai.embeddings" | "jobs" | "rag"
  std::string task;     // task type, e.g. "code_review"
  Level level = Level::PUBLIC;
  std::map<std::string, int> entities;  // entity type -> count found in the request
  int placeholders = 0;                 // values masked before a cloud send
  std::string tier;                     // to_string(Tier), "" for embeddings: stored by name
  std::string provider;                 // the provider that answered (or was last tried); "" if none
  std::string model;
  std::string locality;                    // "local" | "cloud" | "" (nothing sent)
  std::string reason;                      // the router's one-line reason
  std::vector<std::string> fallback_path;  // each attempt: "anthropic:unavailable", "azure:ok"
  int status = 0;                          // HTTP status returned to the client
  std::string error_type;                  // "" on success, else the error type string
  std::int64_t input_tokens = 0;           // billed at the plain input rate: excludes the cache tokens below
  std::int64_t output_tokens = 0;
  std::int64_t cache_read_tokens = 0;   // input read from the provider's prompt cache
  std::int64_t cache_write_tokens = 0;  // input written to it (Anthropic)
  Money cost;                           // actual cost committed to the budget
  std::string budget_period;            // "YYYY-MM" the cost was booked to; "" when nothing was booked
  std::int64_t latency_us = 0;
  std::int64_t overhead_us = 0;  // latency minus time waiting for providers
  bool invented_pii = false;
  bool egress_blocked = false;
  // The independent egress detector vetoed a cloud send (the request then ran
  // as RESTRICTED on a local provider); egress_rule names its rule, e.g. "pan.luhn".
  bool egress_veto = false;
  std::string egress_rule;
  // Answered from the exact response cache (gateway/response_cache.hpp): no
  // provider was called; the route fields are the original answer's.
  bool cache_hit = false;

  // Not columns. A synchronous request writes an intent before its first
  // provider call: this row as routed, with status 0 and the reservation as
  // its cost. The writer commits it while the provider answers, and the
  // request's final row (same intent_seq) replaces it in one transaction, so
  // the answer only waits for the intent. An intent still there at start-up
  // belongs to a request the process died in (its answer may have left):
  // AuditStore::recover_pending() books it as an "outcome_unknown" row.
  bool intent = false;
  std::int64_t intent_seq = 0;  // 0: the row has no intent (jobs, refused requests)
};

// Where the pipeline hands finished rows. Must not block: implementations
// queue the row and write it in batches on a thread of their own.
class AuditSink {
 public:
  // Called once, from any thread: true when the row is committed to the
  // store, false when it was dropped or given up on.
  using DurableHandler = boost::asio::any_completion_handler<void(bool)>;

  virtual ~AuditSink() = default;
  virtual void record(AuditRecord record) = 0;

  // Whether a request admitted now can be put on record: false while the
  // store is failing or the queue is close to full. The gateway then refuses
  // new requests (503) rather than serve them unaudited.
  virtual bool accepting() const noexcept { return true; }

  // record(), and `done` runs once the row is durable (see DurableHandler).
  // Implementations with a store behind them write it without the batching
  // delay. This default, for sinks that keep rows in memory, answers at once.
  virtual void record_durable(AuditRecord record, DurableHandler done) {
    this->record(std::move(record));
    std::move(done)(true);
  }

  // record_durable as an asynchronous operation, e.g.
  //   bool written = co_await sink.async_record(std::move(row), asio::use_awaitable);
  // The caller waits without blocking its thread; the completion is posted to
  // the caller's executor (never run inline), which is kept busy meanwhile.
  template <typename CompletionToken>
  auto async_record(AuditRecord record, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(bool)>(
        [this](auto handler, AuditRecord&& row) {
          auto work = boost::asio::prefer(boost::asio::get_associated_executor(handler),
                                          boost::asio::execution::outstanding_work.tracked);
          record_durable(std::move(row), [handler = std::move(handler), work = std::move(work)](bool written) mutable {
            boost::asio::post(work, [handler = std::move(handler), written]() mutable { std::move(handler)(written); });
          });
        },
        token, std::move(record));
  }
};

}  // namespace aegis::audit
