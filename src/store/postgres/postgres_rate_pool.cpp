#include "store/postgres/postgres_rate_pool.hpp"

namespace aegis::store::postgres {

namespace {

// One statement: refill the bucket ($1) of capacity $2 tokens a minute from
// updated_ms to now ($4, never backwards), then take up to $3 whole tokens of
// what is there. The row lock of the upsert serialises replicas. Levels are
// in thousandths of a token: a millisecond refills capacity/60 of them.
constexpr const char* kTake =
    "INSERT INTO rate_buckets AS b (bucket, level_milli, updated_ms, last_grant) "
    "VALUES ($1, ($2::bigint - LEAST($3::bigint, $2::bigint)) * 1000, $4::bigint, LEAST($3::bigint, $2::bigint)) "
    "ON CONFLICT (bucket) DO UPDATE SET "
    "last_grant = LEAST($3::bigint, GREATEST(0, LEAST($2::bigint * 1000, b.level_milli + "
    "LEAST(GREATEST(0, $4::bigint - b.updated_ms), 60000) * $2::bigint / 60)) / 1000), "
    "level_milli = LEAST($2::bigint * 1000, b.level_milli + LEAST(GREATEST(0, $4::bigint - b.updated_ms), 60000) * "
    "$2::bigint / 60) - 1000 * LEAST($3::bigint, GREATEST(0, LEAST($2::bigint * 1000, b.level_milli + "
    "LEAST(GREATEST(0, $4::bigint - b.updated_ms), 60000) * $2::bigint / 60)) / 1000), "
    "updated_ms = GREATEST(b.updated_ms, $4::bigint) "
    "RETURNING last_grant, GREATEST(level_milli, 0) / 1000";

}  // namespace

Result<RateTake> PostgresRatePool::take(std::string_view bucket, std::int64_t capacity, std::int64_t want,
                                        std::int64_t now_ms) {
  constexpr std::string_view op = "rate_take";
  if (want <= 0 || capacity <= 0) return RateTake{};
  AEGIS_TRY(session, pool_.acquire());
  auto rows = session.exec(kTake, pg::Params().add(bucket).add(capacity).add(want).add(now_ms));
  if (!rows.ok() || rows->empty()) return pool_.error(op, session.last_failure());
  return RateTake{rows->int64(0, 0).value_or(0), rows->int64(0, 1).value_or(0)};
}

}  // namespace aegis::store::postgres
