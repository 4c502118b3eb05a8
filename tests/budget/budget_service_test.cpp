#include "budget/budget_service.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <latch>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "budget/memory_ledger.hpp"
#include "core/system_clock.hpp"

namespace aegis::budget {
namespace {

using namespace std::chrono;

Money micros(std::int64_t m) { return Money::from_micros(m); }

system_clock::time_point at(year_month_day d, hours h = hours{0}) { return system_clock::time_point{sys_days{d}} + h; }

struct Fixture {
  explicit Fixture(nanoseconds ttl = minutes{15}) : service(ledger, metrics, ttl) {}
  ManualClock clock{at(2026y / November / 10)};
  MemoryLedger ledger{clock};
  telemetry::Registry metrics;
  BudgetService service;

  // The value of one series in the exposition; NaN when absent.
  double sample(const std::string& name, const std::string& team) {
    const std::string text = metrics.expose();
    const std::string prefix = name + "{team=\"" + team + "\"} ";
    const auto pos = text.find(prefix);
    if (pos == std::string::npos) return std::nan("");
    return std::stod(text.substr(pos + prefix.size(), text.find('\n', pos) - pos - prefix.size()));
  }
  double spent_gauge(const std::string& team) { return sample("aegis_budget_spent_usd", team); }
  double remaining_gauge(const std::string& team) { return sample("aegis_budget_remaining_usd", team); }
  double rejections(const std::string& team) {
    const double v = sample("aegis_budget_rejections_total", team);
    return std::isnan(v) ? 0.0 : v;
  }
};

TEST(BudgetService, PublishesSpentAndRemainingInDollars) {
  telemetry::Registry metrics;
  ManualClock clock{at(2026y / November / 10)};
  MemoryLedger ledger{clock};
  BudgetService service(ledger, metrics, minutes{15});
  const Money cap = Money::from_dollars(10);

  auto r = service.preflight("payments", cap, micros(2'500'000));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(service.remaining("payments", cap), micros(7'500'000));
  std::string text = metrics.expose();
  EXPECT_NE(text.find("aegis_budget_remaining_usd{team=\"payments\"} 7.5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("aegis_budget_spent_usd{team=\"payments\"} 0\n"), std::string::npos) << text;

  EXPECT_EQ(service.commit(*r, "payments", cap, micros(1'250'000)), "2026-11");
  text = metrics.expose();
  EXPECT_NE(text.find("aegis_budget_spent_usd{team=\"payments\"} 1.25\n"), std::string::npos) << text;
  EXPECT_NE(text.find("aegis_budget_remaining_usd{team=\"payments\"} 8.75\n"), std::string::npos) << text;
  EXPECT_NE(text.find("aegis_budget_rejections_total{team=\"payments\"} 0\n"), std::string::npos) << text;
  EXPECT_EQ(service.spend("payments").requests, 1);

  auto r2 = service.preflight("payments", cap, micros(3'000'000));
  ASSERT_TRUE(r2.ok());
  EXPECT_NE(metrics.expose().find("aegis_budget_remaining_usd{team=\"payments\"} 5.75\n"), std::string::npos);
  service.release(*r2, "payments", cap);
  text = metrics.expose();
  EXPECT_NE(text.find("aegis_budget_remaining_usd{team=\"payments\"} 8.75\n"), std::string::npos) << text;
  EXPECT_NE(text.find("aegis_budget_spent_usd{team=\"payments\"} 1.25\n"), std::string::npos) << text;
  EXPECT_EQ(service.spend("payments").requests, 1);
  // Releasing twice is harmless.
  service.release(*r2, "payments", cap);
  EXPECT_EQ(service.spend("payments").reserved, Money{});
}

TEST(BudgetService, CountsOnlyBudgetRejectionsPerTeam) {
  Fixture f;
  const Money cap = micros(100);
  ASSERT_TRUE(f.service.preflight("a", cap, micros(60)).ok());
  auto over = f.service.preflight("a", cap, micros(41));
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().code, ErrorCode::budget_exceeded);
  EXPECT_EQ(http_status(over.error().code), 402);
  EXPECT_FALSE(f.service.preflight("a", cap, micros(1000)).ok());
  EXPECT_EQ(f.rejections("a"), 2.0);
  EXPECT_EQ(f.rejections("b"), 0.0);
  // Not a budget rejection: a negative estimate is a bad request.
  EXPECT_EQ(f.service.preflight("a", cap, micros(-1)).error().code, ErrorCode::invalid_request);
  EXPECT_EQ(f.rejections("a"), 2.0);
  // A zero cap refuses anything that costs money.
  EXPECT_FALSE(f.service.preflight("b", Money{}, micros(1)).ok());
  EXPECT_EQ(f.rejections("b"), 1.0);
  EXPECT_DOUBLE_EQ(f.remaining_gauge("a"), 0.00004);
}

TEST(BudgetService, CommitAfterExpiryStillBooksTheMoney) {
  Fixture f(seconds{30});
  const Money cap = micros(1000);
  auto r = f.service.preflight("t", cap, micros(800));
  ASSERT_TRUE(r.ok());
  f.clock.advance(seconds{31});  // the provider was slow: the reservation expired
  EXPECT_EQ(f.ledger.spend("t").reserved, Money{});
  // Meanwhile someone else reserved the freed room.
  auto other = f.service.preflight("t", cap, micros(500));
  ASSERT_TRUE(other.ok());

  EXPECT_EQ(f.service.commit(*r, "t", cap, micros(700)), "2026-11");
  auto s = f.service.spend("t");
  EXPECT_EQ(s.spent, micros(700));  // booked although it overshoots the cap with the live reservation
  EXPECT_EQ(s.requests, 1);
  EXPECT_EQ(s.reserved, micros(500));
  EXPECT_EQ(f.service.remaining("t", cap), Money{});
  EXPECT_DOUBLE_EQ(f.spent_gauge("t"), 0.0007);
  EXPECT_EQ(f.remaining_gauge("t"), 0.0);
  // A reservation id that never existed books too; a negative actual counts as 0.
  EXPECT_EQ(f.service.commit(ReservationId{424242}, "t", cap, micros(5)), "2026-11");
  EXPECT_EQ(f.service.commit(ReservationId{424243}, "t", cap, micros(-9)), "2026-11");
  EXPECT_EQ(f.service.spend("t").spent, micros(705));
  EXPECT_EQ(f.service.spend("t").requests, 3);
  // The live one settles normally.
  EXPECT_EQ(f.service.commit(*other, "t", cap, micros(100)), "2026-11");
  EXPECT_EQ(f.service.spend("t").spent, micros(805));
}

TEST(BudgetService, CommitAfterRolloverBooksToTheReservationsMonth) {
  Fixture f;
  f.clock.advance(days{20} + hours{23} + minutes{55});  // 2026-11-30T23:55Z
  const Money cap = micros(1000);
  auto r = f.service.preflight("t", cap, micros(400));
  ASSERT_TRUE(r.ok());
  f.clock.advance(minutes{10});
  EXPECT_EQ(f.service.commit(*r, "t", cap, micros(300)), "2026-11");
  EXPECT_EQ(f.ledger.spend("t", "2026-11").spent, micros(300));
  // The gauges show the month we are in now.
  EXPECT_EQ(f.spent_gauge("t"), 0.0);
  EXPECT_DOUBLE_EQ(f.remaining_gauge("t"), 0.001);
}

TEST(BudgetService, RejectsANonPositiveTtlAtStartUp) {
  ManualClock clock;
  MemoryLedger ledger(clock);
  telemetry::Registry metrics;
  EXPECT_THROW(BudgetService(ledger, metrics, nanoseconds{0}), std::invalid_argument);
}

// 200 threads race reserve/commit/release against a cap far smaller than
// their demand. Actual costs never exceed estimates here, so committed plus
// reserved must stay within the cap at every instant; a monitor thread
// samples it the whole time. At the end the ledger holds exactly the sum of
// the committed actuals.
TEST(BudgetService, TwoHundredThreadsNeverOvershootAndLoseNothing) {
  Fixture f;
  const Money cap = micros(5'000);
  constexpr int kThreads = 200;
  constexpr int kRounds = 25;
  std::atomic<std::int64_t> committed_sum{0};
  std::atomic<std::int64_t> committed_count{0};
  std::atomic<std::int64_t> rejected{0};
  std::atomic<std::int64_t> violations{0};
  std::atomic<std::int64_t> samples{0};
  std::atomic<bool> done{false};
  std::latch start(kThreads + 1);

  std::thread monitor([&] {
    start.arrive_and_wait();
    while (!done.load()) {
      const auto s = f.ledger.spend("t");
      if (s.spent.micros + s.reserved.micros > cap.micros) ++violations;
      ++samples;
    }
  });
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      for (int round = 0; round < kRounds; ++round) {
        const std::int64_t estimate = 10 + (i * 7 + round * 13) % 90;
        auto r = f.service.preflight("t", cap, micros(estimate));
        if (!r.ok()) {
          if (r.error().code != ErrorCode::budget_exceeded) ++violations;
          ++rejected;
          continue;
        }
        const auto s = f.ledger.spend("t");
        if (s.spent.micros + s.reserved.micros > cap.micros) ++violations;
        if ((i + round) % 4 == 0) {
          f.service.release(*r, "t", cap);  // the call failed
        } else {
          const std::int64_t actual = estimate - std::int64_t{round % 3} * 3;  // at most the estimate
          f.service.commit(*r, "t", cap, micros(actual));
          committed_sum += actual;
          ++committed_count;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  done = true;
  monitor.join();

  EXPECT_EQ(violations.load(), 0);
  EXPECT_GT(samples.load(), 0);
  EXPECT_GT(rejected.load(), 0);  // the cap really was contended
  EXPECT_GT(committed_count.load(), 0);
  const auto s = f.ledger.spend("t");
  EXPECT_EQ(s.spent.micros, committed_sum.load());
  EXPECT_EQ(s.requests, committed_count.load());
  EXPECT_EQ(s.reserved, Money{});
  EXPECT_LE(s.spent, cap);
  EXPECT_EQ(f.ledger.live_reservations(), 0u);
  EXPECT_EQ(f.rejections("t"), static_cast<double>(rejected.load()));
  EXPECT_DOUBLE_EQ(f.spent_gauge("t"), s.spent.to_usd_double());
  EXPECT_DOUBLE_EQ(f.remaining_gauge("t"), (cap - s.spent).to_usd_double());
}

}  // namespace
}  // namespace aegis::budget

namespace aegis::budget {
namespace {

// A key's monthly sub-budget (issue 19): reserved beside its team's cap.
struct KeyFixture {
  ManualClock clock{at(2026y / November / 10)};
  MemoryLedger teams{clock};
  MemoryLedger keys{clock};
  telemetry::Registry metrics;
  BudgetService service{teams, metrics, minutes{15}, nullptr, &keys};
  boost::asio::io_context io;

  Result<ReservationId> reserve(Money estimate, std::optional<KeyBudget> key) {
    std::optional<Result<ReservationId>> out;
    boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<void> {
          const std::optional<nanoseconds> ttl;
          out.emplace(co_await service.reserve("payments", micros(10'000'000), estimate, ttl, key));
        },
        [](const std::exception_ptr& e) {
          if (e) std::rethrow_exception(e);
        });
    io.restart();
    io.run();
    return std::move(*out);
  }
};

TEST(BudgetService, AKeysSubBudgetRefusesWhileTheTeamStillHasMoney) {
  KeyFixture f;
  const KeyBudget key{"00000000000000k1", micros(1'000'000)};  // $1 of the team's $10
  auto first = f.reserve(micros(600'000), key);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(f.keys.spend("00000000000000k1").reserved, micros(600'000));
  auto second = f.reserve(micros(600'000), key);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::budget_exceeded);
  EXPECT_NE(second.error().message.find("API key '00000000000000k1' monthly budget of $1"), std::string::npos)
      << second.error().message;
  // The team's reservation for the refused request was given back.
  EXPECT_EQ(f.teams.spend("payments").reserved, micros(600'000));
  // Commit books both, with the actual cost.
  EXPECT_EQ(f.service.commit(*first, "payments", micros(10'000'000), micros(500'000)), "2026-11");
  EXPECT_EQ(f.keys.spend("00000000000000k1").spent, micros(500'000));
  EXPECT_EQ(f.keys.spend("00000000000000k1").reserved, Money{});
  EXPECT_EQ(f.teams.spend("payments").spent, micros(500'000));
  // $0.50 left on the key: one more of $0.50 fits, then nothing.
  auto third = f.reserve(micros(500'000), key);
  ASSERT_TRUE(third.ok()) << third.error().message;
  EXPECT_FALSE(f.reserve(micros(1), key).ok());
  // Release frees the key's share too.
  f.service.release(*third, "payments", micros(10'000'000));
  EXPECT_EQ(f.keys.spend("00000000000000k1").reserved, Money{});
  EXPECT_TRUE(f.reserve(micros(1), key).ok());
  // Another key, or no key budget, is held only to the team's cap.
  EXPECT_TRUE(f.reserve(micros(5'000'000), KeyBudget{"00000000000000k2", micros(6'000'000)}).ok());
  EXPECT_TRUE(f.reserve(micros(3'000'000), std::nullopt).ok());
  EXPECT_FALSE(f.reserve(micros(3'000'000), std::nullopt).ok());  // the team's $10 now
  EXPECT_EQ(f.service.remaining("payments", micros(10'000'000), key),
            std::min(f.service.remaining("payments", micros(10'000'000)), micros(500'000 - 1)));
}

}  // namespace
}  // namespace aegis::budget
