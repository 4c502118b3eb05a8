#pragma once
// Conservative request cost estimates and exact actual costs, in integer
// micro-dollars. Every division rounds UP so a reservation is never smaller
// than what the provider can bill; every product is computed in 128 bits and
// saturates at INT64_MAX so absurd inputs cannot wrap into small amounts.
#include <cstddef>
#include <cstdint>
#include <optional>

#include "config/config.hpp"
#include "core/chat.hpp"
#include "core/money.hpp"

namespace aegis::budget {

// Tokens are ~4 bytes of English text; dividing by 3 over-estimates on purpose.
inline constexpr std::int64_t kBytesPerTokenEstimate = 3;

// ceil(prompt_bytes / 3), saturating.
std::int64_t estimate_input_tokens(std::size_t prompt_bytes) noexcept;

struct CostEstimate {
  std::int64_t input_tokens = 0;   // estimated from bytes
  std::int64_t output_tokens = 0;  // = max_tokens
  Money cost;                      // ceil((in * input_price + out * output_price) / 1e6)
};

// prompt_bytes: byte count of the assembled prompt (all messages, system, tools).
// max_tokens: the request's output ceiling; negative values count as 0.
CostEstimate estimate_cost(std::size_t prompt_bytes, std::int64_t max_tokens, const config::ModelPrice& price) noexcept;

// The exact cost of reported usage, rounded up to the next micro-dollar, as
// the provider bills it: plain input at input_per_mtok, cache reads at
// cache_read_per_mtok, 5-minute cache writes at cache_write_per_mtok, 1-hour
// writes at cache_write_1h_per_mtok (an unset cache rate: input_per_mtok),
// output at output_per_mtok; one sum, one rounding:
//   ceil((in*p_in + read*p_read + write5m*p_write + write1h*p_write1h + out*p_out) / 1e6)
// Negative token counts or prices count as 0; the result saturates at INT64_MAX.
Money actual_cost(const Usage& usage, const config::ModelPrice& price) noexcept;

// The most an input token of this request can cost at `price`: the input
// rate, or the cache-write rate when the request asks the provider to write
// its cache (with the 1-hour TTL: that rate), whichever is higher. Prices
// the reservation's input estimate.
enum class CacheWrite { none, five_minutes, one_hour };
Money worst_input_rate(const config::ModelPrice& price, CacheWrite cache_write) noexcept;

// The usage to bill for a stream whose provider never reported it (the client
// left, the provider failed mid-stream, or the drain deadline cut it off):
// what was streamed, counted conservatively with the estimator's own rule.
//   output: ceil(streamed_output_bytes / 3), the bytes of text and tool-call
//           arguments and names the provider streamed (tokens are ~4 bytes, so
//           this over-counts), capped at the request's max_tokens when it had
//           one (a provider never generates more than that);
//   input:  the input tokens the provider reported in its start event when it
//           did (Anthropic's message_start, with its cache reads and writes,
//           kept as reported), otherwise the preflight estimate.
// The result may exceed the preflight reservation (a reported input count
// above the byte estimate); the caller books it anyway: the provider bills it.
Usage streamed_usage(std::size_t streamed_output_bytes, const Usage& reported, std::int64_t estimated_input_tokens,
                     std::optional<std::int64_t> max_output_tokens) noexcept;

// Lower-level helper: ceil((in_tokens * in_price + out_tokens * out_price) / 1'000'000).
Money price_tokens(std::int64_t input_tokens, std::int64_t output_tokens, const config::ModelPrice& price) noexcept;

}  // namespace aegis::budget
