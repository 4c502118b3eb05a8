#pragma once
// Conservative request cost estimates and exact actual costs, in integer
// micro-dollars. Every division rounds UP so a reservation is never smaller
// than what the provider can bill; every product is computed in 128 bits and
// saturates at INT64_MAX so absurd inputs cannot wrap into small amounts.
#include <cstddef>
#include <cstdint>

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

// The exact cost of reported usage, rounded up to the next micro-dollar.
// Negative token counts or prices count as 0; the result saturates at INT64_MAX.
Money actual_cost(const Usage& usage, const config::ModelPrice& price) noexcept;

// Lower-level helper: ceil((in_tokens * in_price + out_tokens * out_price) / 1'000'000).
Money price_tokens(std::int64_t input_tokens, std::int64_t output_tokens, const config::ModelPrice& price) noexcept;

}  // namespace aegis::budget
