#include <limits>
#include <string_view>

#include "config/config.hpp"

namespace aegis::config {

namespace {

// ceil(input * num / den) micro-dollars per million tokens, saturating.
Money scaled(Money input, std::int64_t num, std::int64_t den) {
  const __int128 in = input.micros < 0 ? 0 : input.micros;
  const __int128 v = (in * num + den - 1) / den;
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  return Money::from_micros(v > kMax ? kMax : static_cast<std::int64_t>(v));
}

}  // namespace

ModelPrice with_cache_defaults(ModelPrice price, std::string_view provider_type) {
  const bool anthropic = provider_type == "anthropic";
  if (!price.cache_read_per_mtok) price.cache_read_per_mtok = scaled(price.input_per_mtok, 1, anthropic ? 10 : 2);
  if (!price.cache_write_per_mtok)
    price.cache_write_per_mtok = scaled(price.input_per_mtok, anthropic ? 5 : 1, anthropic ? 4 : 1);
  if (!price.cache_write_1h_per_mtok)
    price.cache_write_1h_per_mtok = scaled(price.input_per_mtok, anthropic ? 2 : 1, 1);
  return price;
}

}  // namespace aegis::config
