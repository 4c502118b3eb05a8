#pragma once
// store::RatePool on PostgreSQL: one row per shared token bucket
// (rate_buckets, migration 9), refilled and taken from in one statement.
#include <functional>
#include <string>

#include "store/postgres/pg.hpp"
#include "store/rate_limits.hpp"

namespace aegis::store::postgres {

class PostgresRatePool final : public RatePool {
 public:
  PostgresRatePool(pg::Pool& pool, std::function<std::int64_t()> replicas)
      : pool_(pool), replicas_(std::move(replicas)) {}

  Result<RateTake> take(std::string_view bucket, std::int64_t capacity, std::int64_t want,
                        std::int64_t now_ms) override;
  std::int64_t replicas() override { return replicas_(); }

 private:
  pg::Pool& pool_;
  std::function<std::int64_t()> replicas_;
};

}  // namespace aegis::store::postgres
