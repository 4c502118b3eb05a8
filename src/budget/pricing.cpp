#include "budget/pricing.hpp"

#include <algorithm>
#include <limits>

namespace aegis::budget {
namespace {

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
constexpr __int128 kTokensPerMtok = 1'000'000;

std::int64_t non_negative(std::int64_t v) noexcept { return v < 0 ? 0 : v; }

}  // namespace

std::int64_t estimate_input_tokens(std::size_t prompt_bytes) noexcept {
  const unsigned __int128 b = prompt_bytes;
  const unsigned __int128 tokens = (b + (kBytesPerTokenEstimate - 1)) / kBytesPerTokenEstimate;
  return tokens > static_cast<unsigned __int128>(kMax) ? kMax : static_cast<std::int64_t>(tokens);
}

Money price_tokens(std::int64_t input_tokens, std::int64_t output_tokens, const config::ModelPrice& price) noexcept {
  // Each product is < 2^126 and their sum < 2^127: no overflow in __int128.
  const __int128 in = static_cast<__int128>(non_negative(input_tokens)) * non_negative(price.input_per_mtok.micros);
  const __int128 out = static_cast<__int128>(non_negative(output_tokens)) * non_negative(price.output_per_mtok.micros);
  const __int128 total = in + out;
  const __int128 micros = (total + (kTokensPerMtok - 1)) / kTokensPerMtok;
  return Money::from_micros(micros > kMax ? kMax : static_cast<std::int64_t>(micros));
}

CostEstimate estimate_cost(std::size_t prompt_bytes, std::int64_t max_tokens,
                           const config::ModelPrice& price) noexcept {
  CostEstimate e;
  e.input_tokens = estimate_input_tokens(prompt_bytes);
  e.output_tokens = non_negative(max_tokens);
  e.cost = price_tokens(e.input_tokens, e.output_tokens, price);
  return e;
}

Money actual_cost(const Usage& usage, const config::ModelPrice& price) noexcept {
  const std::int64_t in_rate = non_negative(price.input_per_mtok.micros);
  auto rate = [&](const std::optional<Money>& r) { return r ? non_negative(r->micros) : in_rate; };
  auto term = [](std::int64_t tokens, std::int64_t micros_per_mtok) {
    return static_cast<__int128>(non_negative(tokens)) * micros_per_mtok;  // < 2^126
  };
  const std::int64_t writes = non_negative(usage.cache_write_tokens);
  const std::int64_t writes_1h = std::min(non_negative(usage.cache_write_1h_tokens), writes);
  // Five terms each < 2^126 would overflow __int128 in the worst case: add with saturation.
  constexpr __int128 kCeiling = static_cast<__int128>(kMax) * kTokensPerMtok;  // beyond it the result saturates
  __int128 total = 0;
  for (const __int128 t :
       {term(usage.input_tokens, in_rate), term(usage.cache_read_tokens, rate(price.cache_read_per_mtok)),
        term(writes - writes_1h, rate(price.cache_write_per_mtok)),
        term(writes_1h, rate(price.cache_write_1h_per_mtok)),
        term(usage.output_tokens, non_negative(price.output_per_mtok.micros))}) {
    total = t >= kCeiling || total >= kCeiling - t ? kCeiling : total + t;
  }
  const __int128 micros = (total + (kTokensPerMtok - 1)) / kTokensPerMtok;
  return Money::from_micros(micros > kMax ? kMax : static_cast<std::int64_t>(micros));
}

Money worst_input_rate(const config::ModelPrice& price, CacheWrite cache_write) noexcept {
  Money rate = price.input_per_mtok;
  if (cache_write == CacheWrite::five_minutes || cache_write == CacheWrite::one_hour) {
    rate = std::max(rate, price.cache_write_per_mtok.value_or(price.input_per_mtok));
  }
  if (cache_write == CacheWrite::one_hour)
    rate = std::max(rate, price.cache_write_1h_per_mtok.value_or(price.input_per_mtok));
  return rate;
}

Usage streamed_usage(std::size_t streamed_output_bytes, const Usage& reported, std::int64_t estimated_input_tokens,
                     std::optional<std::int64_t> max_output_tokens) noexcept {
  Usage usage;
  const bool has_report =
      reported.input_tokens > 0 || reported.cache_read_tokens > 0 || reported.cache_write_tokens > 0;
  if (has_report) {
    usage = reported;  // the provider's own input counts, cache buckets included
  } else {
    usage.input_tokens = non_negative(estimated_input_tokens);
  }
  usage.output_tokens = estimate_input_tokens(streamed_output_bytes);  // the same ceil(bytes / 3)
  if (max_output_tokens) usage.output_tokens = std::min(usage.output_tokens, non_negative(*max_output_tokens));
  return usage;
}

}  // namespace aegis::budget
