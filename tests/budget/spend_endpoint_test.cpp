// GET /admin/v1/teams/{name}/spend against a real SQLite store and ledger.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>

#include "api/access.hpp"
#include "api/admin.hpp"
#include "budget/memory_ledger.hpp"
#include "core/system_clock.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace aegis::budget {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono;

constexpr const char* kAdminKey = "spend-test-admin-key";

class SpendEndpoint : public ::testing::Test {
 protected:
  SpendEndpoint() {
    static std::atomic<int> counter{0};
    dir_ = fs::temp_directory_path() /
           ("aegis-spend-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(dir_);
    store_ = std::make_unique<store::SqliteStore>((dir_ / "aegis.db").string(), clock_);
    authenticator_ = std::make_unique<identity::Authenticator>(*store_, *store_, db_, clock_);
  }
  ~SpendEndpoint() override {
    db_.stop();
    store_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  void register_routes(Ledger* ledger) {
    router_.set_authorizer(api::make_authorizer({authenticator_.get(), kAdminKey, ""}));
    api::AdminContext context{*store_, db_, *authenticator_, clock_};
    context.ledger = ledger;
    api::register_admin_routes(router_, std::move(context));
  }

  http::HttpResponse get(const std::string& path, const char* key = kAdminKey) {
    http::HttpRequest request;
    request.method = "GET";
    request.path = path;
    request.target = path;
    if (key != nullptr) request.headers.push_back({"authorization", std::string("Bearer ") + key});
    boost::asio::io_context io;
    auto future = boost::asio::co_spawn(io, router_.dispatch(request), boost::asio::use_future);
    io.run();
    return future.get();
  }

  void add_team(const std::string& name, Money budget) {
    ASSERT_TRUE(store_->create_team(store::Team{name, budget, Level::INTERNAL, 1}).ok());
  }

  // 2026-11-01T03:00Z: still October in Toronto, already November in UTC.
  ManualClock clock_{system_clock::time_point{sys_days{2026y / November / 1}} + hours{3}};
  fs::path dir_;
  store::DbExecutor db_{1};
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<identity::Authenticator> authenticator_;
  http::Router router_;
};

TEST_F(SpendEndpoint, ReportsTheCurrentPeriodInDollars) {
  MemoryLedger ledger(clock_, *BudgetZone::parse("America/Toronto"));
  register_routes(&ledger);
  add_team("payments", Money::from_micros(250'500'000));  // $250.50
  auto committed = ledger.reserve("payments", Money::from_dollars(5), Money::from_micros(3'000'000), minutes{5});
  ASSERT_TRUE(committed.ok());  // the ledger's cap is not what the endpoint reports
  ASSERT_TRUE(ledger.commit(*committed, Money::from_micros(1'234'567)).ok());
  ASSERT_TRUE(ledger.reserve("payments", Money::from_dollars(300), Money::from_micros(100'000), minutes{5}).ok());
  ledger.seed("payments", "2026-11", Money::from_dollars(99), 5);  // next month: not reported

  auto response = get("/admin/v1/teams/payments/spend");
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.body,
            R"({"period":"2026-10","cap_usd":250.5,"spent_usd":1.234567,"reserved_usd":0.1,)"
            R"("remaining_usd":249.165433,"requests":1})");
  const auto body = boost::json::parse(response.body).as_object();
  EXPECT_EQ(body.size(), 6u);
}

TEST_F(SpendEndpoint, RemainingIsFlooredAtZeroAndExactToTheMicroDollar) {
  MemoryLedger ledger(clock_);
  register_routes(&ledger);
  add_team("tiny", Money::from_micros(1));
  ledger.seed("tiny", "2026-11", Money::from_micros(5), 2);
  auto response = get("/admin/v1/teams/tiny/spend");
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.body,
            R"({"period":"2026-11","cap_usd":0.000001,"spent_usd":0.000005,"reserved_usd":0.0,"remaining_usd":0.0,"requests":2})");
}

TEST_F(SpendEndpoint, UnknownTeamIs404AndTheAdminKeyIsRequired) {
  MemoryLedger ledger(clock_);
  register_routes(&ledger);
  add_team("payments", Money::from_dollars(10));
  auto missing = get("/admin/v1/teams/nobody/spend");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(boost::json::parse(missing.body).at("error").at("type").as_string(), "not_found");
  EXPECT_EQ(get("/admin/v1/teams/payments/spend", nullptr).status, 401);
  EXPECT_EQ(get("/admin/v1/teams/payments/spend", "wrong").status, 401);
  EXPECT_EQ(get("/admin/v1/teams/payments/spend").status, 200);
}

TEST_F(SpendEndpoint, WithoutALedgerItIs503) {
  register_routes(nullptr);
  add_team("payments", Money::from_dollars(10));
  auto response = get("/admin/v1/teams/payments/spend");
  EXPECT_EQ(response.status, 503);
  EXPECT_EQ(get("/admin/v1/teams/nobody/spend").status, 404);
}

}  // namespace
}  // namespace aegis::budget
