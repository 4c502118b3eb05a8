#include "audit/chain.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <openssl/evp.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <stdexcept>

#include "core/classification.hpp"
#include "core/encoding.hpp"

namespace aegis::audit {

namespace json = boost::json;

std::string canonical_row(const AuditRecord& r, std::string_view chain_id, std::int64_t seq) {
  // A JSON array in a fixed order: Boost.JSON writes the same bytes for the
  // same values, and a tag names the encoding should it ever change.
  json::array row;
  row.reserve(30);
  row.emplace_back("aegis-audit-v1");
  row.emplace_back(chain_id);
  row.emplace_back(seq);
  row.emplace_back(r.time_ms);
  row.emplace_back(r.request_id);
  row.emplace_back(r.team);
  row.emplace_back(r.key_id);
  row.emplace_back(r.surface);
  row.emplace_back(r.task);
  row.emplace_back(to_string(r.level));
  json::array entities;  // [type, count] pairs in the map's (sorted) order
  for (const auto& [type, count] : r.entities) entities.emplace_back(json::array{json::value(type), count});
  row.emplace_back(std::move(entities));
  row.emplace_back(r.placeholders);
  row.emplace_back(r.tier);
  row.emplace_back(r.provider);
  row.emplace_back(r.model);
  row.emplace_back(r.locality);
  row.emplace_back(r.reason);
  json::array path;
  for (const auto& step : r.fallback_path) path.emplace_back(step);
  row.emplace_back(std::move(path));
  row.emplace_back(r.status);
  row.emplace_back(r.error_type);
  row.emplace_back(r.input_tokens);
  row.emplace_back(r.output_tokens);
  row.emplace_back(r.cost.micros);
  row.emplace_back(r.budget_period);
  row.emplace_back(r.latency_us);
  row.emplace_back(r.overhead_us);
  row.emplace_back(r.invented_pii);
  row.emplace_back(r.egress_blocked);
  row.emplace_back(r.egress_veto);
  row.emplace_back(r.egress_rule);
  // Columns added later are appended only when they differ from their
  // default, so a row written before them keeps the bytes, and the hash, it
  // was written with; a later edit that sets or clears one changes both. The
  // two groups cannot be confused: numbers, then a tagged array.
  if (r.cache_read_tokens != 0 || r.cache_write_tokens != 0) {
    row.emplace_back(r.cache_read_tokens);
    row.emplace_back(r.cache_write_tokens);
  }
  if (r.cache_hit) row.emplace_back(json::array{json::value("cache_hit"), true});
  return json::serialize(row);
}

std::string link_hash(std::string_view prev_hash, const std::string& canonical) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  const bool ok =
      ctx != nullptr && EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 &&
      EVP_DigestUpdate(ctx, prev_hash.data(), prev_hash.size()) == 1 && EVP_DigestUpdate(ctx, "\n", 1) == 1 &&
      EVP_DigestUpdate(ctx, canonical.data(), canonical.size()) == 1 && EVP_DigestFinal_ex(ctx, md.data(), &len) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) throw std::runtime_error("SHA-256 is unavailable");  // OpenSSL without its default provider
  return hex_encode(std::span<const unsigned char>(md.data(), len));
}

std::string checkpoint_message(const Checkpoint& c) {
  json::array message{"aegis-checkpoint-v1",    json::value(c.chain_id), c.seq,
                      json::value(c.head_hash), c.sealed_at_ms,          json::value(c.key_id)};
  return json::serialize(message);
}

std::string chain_month(std::int64_t time_ms) {
  const std::chrono::sys_days day = std::chrono::floor<std::chrono::days>(
      std::chrono::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(time_ms)));
  const std::chrono::year_month_day ymd(day);
  char out[16];
  std::snprintf(out, sizeof out, "%04d-%02u", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()));
  return out;
}

}  // namespace aegis::audit
