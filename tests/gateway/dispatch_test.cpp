// Stage 6 (Gateway::dispatch), each rule once, through every surface that
// reaches a provider: a chat completion, a stream, embeddings and a job's run
// (admitted with a held reservation, then run). A surface that walked its own
// chain would fail here wherever it drifted from the others.
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>
#include <gtest/gtest.h>

#include "gateway/pipeline_fixture.hpp"

namespace aegis::gateway {
namespace {

using namespace test;  // NOLINT(google-build-using-namespace): the fixture's vocabulary
namespace asio = boost::asio;
using namespace std::chrono_literals;

enum class Surface { complete, stream, embed, job };

std::string surface_name(const ::testing::TestParamInfo<Surface>& info) {
  switch (info.param) {
    case Surface::complete: return "Complete";
    case Surface::stream: return "Stream";
    case Surface::embed: return "Embed";
    case Surface::job: return "Job";
  }
  return "Unknown";
}

// A classifier that finds nothing: the gateway believes every text INTERNAL.
class BlindClassifier final : public classify::Classifier {
 public:
  classify::Classification classify(std::string_view, const classify::Marking&) const override {
    classify::Classification c;
    c.level = Level::INTERNAL;
    return c;
  }
};

class DispatchTest : public PipelineTest, public ::testing::WithParamInterface<Surface> {
 protected:
  // The first cloud target of an automatic request on this surface.
  std::string first_cloud() const { return GetParam() == Surface::embed ? "azure" : "anthropic"; }
  std::vector<std::string> chat_cloud_targets() const {
    return GetParam() == Surface::embed ? std::vector<std::string>{"azure"}
                                        : std::vector<std::string>{"anthropic", "azure"};
  }

  double attempts(const std::string& provider, const std::string& outcome) const {
    return scraped(metrics_,
                   "aegis_provider_attempts_total{provider=\"" + provider + "\",outcome=\"" + outcome + "\"}");
  }

  // The surface under test, with `text` as the user's content (an embedding's
  // second input); `cut_after` cancels the call as a job's DELETE or the
  // drain deadline does.
  Result<Route> call(const std::string& text, std::optional<std::chrono::milliseconds> cut_after = std::nullopt) {
    switch (GetParam()) {
      case Surface::complete: {
        CallContext context;
        context.principal = &principal_;
        auto outcome = run_cut(gateway_->complete(context, auto_request(text, 64)), cut_after);
        last_context_ = context;
        if (!outcome.ok()) return std::move(outcome).error();
        return outcome->route;
      }
      case Surface::stream: {
        CallContext context;
        context.principal = &principal_;
        ChatRequest request = auto_request(text, 64);
        request.stream = true;
        CollectingSink sink;
        auto outcome = run_cut(gateway_->stream(context, std::move(request), sink), cut_after);
        last_context_ = context;
        if (!outcome.ok()) return std::move(outcome).error();
        return context.route;
      }
      case Surface::embed: {
        CallContext context;
        context.principal = &principal_;
        EmbedRequest request;
        request.model = "auto";
        request.inputs = {"first input", text};
        auto outcome = run_cut(gateway_->embed(context, std::move(request)), cut_after);
        last_context_ = context;
        if (!outcome.ok()) return std::move(outcome).error();
        return outcome->route;
      }
      case Surface::job: {
        CallContext submit;
        submit.principal = &principal_;
        const ChatRequest request = auto_request(text, 64);
        auto admission = run(gateway_->admit_job(submit, request, 24h));
        if (!admission.ok()) return std::move(admission).error();
        CallContext context;
        context.principal = &principal_;
        context.surface = "jobs";
        context.held_reservation = admission->reservation;
        context.held_estimate = admission->estimate;
        auto outcome = run_cut(gateway_->complete(context, request), cut_after);
        last_context_ = context;
        if (!outcome.ok()) return std::move(outcome).error();
        return outcome->route;
      }
    }
    return make_error(ErrorCode::internal, "unknown surface");
  }

  // run(), with the call's cancellation slot emitted `after` (if set).
  template <class T>
  T run_cut(asio::awaitable<T> work, std::optional<std::chrono::milliseconds> after) {
    if (!after) return run(std::move(work));
    asio::cancellation_signal cut;
    auto slot = std::make_shared<std::optional<T>>();
    auto task = [slot](asio::awaitable<T> w) -> asio::awaitable<void> {
      // As the server's sessions: cancellation is an error code, never a throw.
      co_await asio::this_coro::throw_if_cancelled(false);
      slot->emplace(co_await std::move(w));
    };
    auto cutter = [&cut, after]() -> asio::awaitable<void> {
      asio::steady_timer timer(co_await asio::this_coro::executor, *after);
      co_await timer.async_wait(asio::use_awaitable);
      cut.emit(asio::cancellation_type::terminal);
    };
    auto cut_done = asio::co_spawn(io_, cutter(), asio::use_future);
    asio::co_spawn(io_, task(std::move(work)), asio::bind_cancellation_slot(cut.slot(), asio::use_future)).get();
    cut_done.get();
    return std::move(**slot);
  }

  void open_breaker(const std::string& name) {
    auto* breaker = health_->breaker(name);
    ASSERT_NE(breaker, nullptr);
    for (int i = 0; i < config_.resilience.failure_threshold; ++i) {
      auto permit = breaker->try_acquire();
      permit.record_failure(make_error(ErrorCode::upstream_error, "test"));
    }
    ASSERT_EQ(breaker->state(), CircuitState::open);
  }
};

TEST_P(DispatchTest, AnAnswerIsRecordedAsOneOkAttempt) {
  auto route = call("Summarise the quarter");
  ASSERT_TRUE(route.ok()) << route.error().message;
  EXPECT_EQ(route->provider, first_cloud());
  const auto row = audit_.last();
  EXPECT_EQ(row.fallback_path, std::vector<std::string>{first_cloud() + ":ok"});
  EXPECT_EQ(row.locality, "cloud");
  EXPECT_EQ(row.status, 200);
  EXPECT_EQ(attempts(first_cloud(), "ok"), 1);
}

TEST_P(DispatchTest, AnOpenCircuitIsSkippedCountedAndGivesRetryAfterWhenNothingIsLeft) {
  for (const char* name : {"anthropic", "azure", "ollama"}) open_breaker(name);
  auto route = call("Summarise the quarter");
  ASSERT_FALSE(route.ok());
  EXPECT_EQ(route.error().code, ErrorCode::unavailable);
  EXPECT_EQ(http_status(route.error().code), 503);
  EXPECT_GE(route.error().retry_after_seconds, 1) << "a client should know when to retry";
  const auto row = audit_.last();
  ASSERT_FALSE(row.fallback_path.empty());
  EXPECT_EQ(row.fallback_path.front(), first_cloud() + ":circuit_open");
  EXPECT_EQ(attempts(first_cloud(), "circuit_open"), 1);
  EXPECT_TRUE(cloud_traffic().empty());
}

TEST_P(DispatchTest, AFailureBeforeTheFirstByteCountsAgainstTheBreakerAndMovesOn) {
  ASSERT_TRUE(sim(first_cloud()).set_fault("status_500", 1, std::nullopt).ok());
  auto route = call("Summarise the quarter");
  const auto row = audit_.last();
  ASSERT_FALSE(row.fallback_path.empty());
  EXPECT_EQ(row.fallback_path.front(), first_cloud() + ":upstream_error");
  EXPECT_EQ(attempts(first_cloud(), "upstream_error"), 1);
  EXPECT_EQ(health_->breaker(first_cloud())->consecutive_failures(), 1);
  if (GetParam() == Surface::embed) {
    // One embedding model is one target: nothing to fall back to.
    ASSERT_FALSE(route.ok());
    EXPECT_EQ(route.error().code, ErrorCode::upstream_error);
  } else {
    ASSERT_TRUE(route.ok()) << route.error().message;
    EXPECT_EQ(route->provider, "azure");
    EXPECT_EQ(row.fallback_path, (std::vector<std::string>{"anthropic:upstream_error", "azure:ok"}));
  }
}

TEST_P(DispatchTest, ARestrictedRequestSkipsTheCloudTargetsAFaultyRouterChose) {
  build(Layers{.leaky_router = true});
  auto route = call("my SIN is " + std::string(kSin));
  std::vector<std::string> expected;
  for (const auto& name : chat_cloud_targets()) {
    expected.push_back(name + ":skipped_not_local");
    EXPECT_EQ(attempts(name, "skipped_not_local"), 1) << name;
  }
  if (GetParam() == Surface::embed) {
    // The leaked decision names one (cloud) embedding model: refusing it leaves
    // nothing, and the answer is the compliance one.
    ASSERT_FALSE(route.ok());
    EXPECT_EQ(route.error().code, ErrorCode::no_local_provider);
  } else {
    ASSERT_TRUE(route.ok()) << route.error().message;
    EXPECT_EQ(route->provider, "ollama");
    expected.push_back("ollama:ok");
    EXPECT_EQ(audit_.last().locality, "local");
  }
  EXPECT_EQ(audit_.last().fallback_path, expected);
  EXPECT_TRUE(cloud_traffic().empty());
}

TEST_P(DispatchTest, AnEgressVetoMakesTheRequestRestrictedAndRunsItLocally) {
  test_support::KeywordEgressDetector detector(std::string(kVetoWord), "pan.luhn");
  build(Layers{.detector = &detector});
  auto route = call("Renewal reference " + std::string(kVetoWord));
  ASSERT_TRUE(route.ok()) << route.error().message;
  EXPECT_EQ(route->provider, "ollama");
  EXPECT_EQ(last_context_.level, Level::RESTRICTED);
  const auto row = audit_.last();
  EXPECT_EQ(row.fallback_path, (std::vector<std::string>{first_cloud() + ":egress_veto", "ollama:ok"}));
  EXPECT_TRUE(row.egress_veto);
  EXPECT_EQ(row.egress_rule, "pan.luhn");
  EXPECT_EQ(row.locality, "local");
  EXPECT_EQ(row.level, Level::RESTRICTED);
  EXPECT_EQ(attempts(first_cloud(), "egress_veto"), 1);
  EXPECT_EQ(health_->breaker(first_cloud())->consecutive_failures(), 0) << "a veto is not the provider's fault";
  EXPECT_TRUE(cloud_traffic().empty());
}

TEST_P(DispatchTest, AnEgressBlockStopsWithoutFallbackAndTheRowSaysNothingWasSent) {
  // The gateway's classifier misses the SIN; the guard's re-scan does not.
  BlindClassifier blind;
  build(Layers{.classifier = &blind, .guard_classifier = classifier_.get()});
  auto route = call("my SIN is " + std::string(kSin));
  ASSERT_FALSE(route.ok());
  EXPECT_EQ(route.error().code, ErrorCode::egress_blocked);
  const auto row = audit_.last();
  EXPECT_EQ(row.fallback_path, std::vector<std::string>{first_cloud() + ":egress_blocked"});
  EXPECT_TRUE(row.egress_blocked);
  EXPECT_EQ(row.locality, "") << "the guard stopped it before a byte left";
  EXPECT_EQ(attempts(first_cloud(), "egress_blocked"), 1);
  EXPECT_TRUE(cloud_traffic().empty());
}

TEST_P(DispatchTest, ACancelledCallIsNeutralForTheBreakerAndNotRetriedElsewhere) {
  ASSERT_TRUE(sim(first_cloud()).set_fault("hang", 1, std::nullopt).ok());
  auto route = call("Summarise the quarter", 50ms);
  ASSERT_FALSE(route.ok());
  EXPECT_EQ(route.error().code, ErrorCode::cancelled);
  const std::string cut = GetParam() == Surface::stream ? "interrupted" : "cancelled";
  const auto row = audit_.last();
  EXPECT_EQ(row.fallback_path, std::vector<std::string>{first_cloud() + ":" + cut});
  EXPECT_EQ(row.status, 499);
  EXPECT_EQ(attempts(first_cloud(), cut), 1);
  EXPECT_EQ(health_->breaker(first_cloud())->consecutive_failures(), 0);
  EXPECT_TRUE(sim("ollama").requests().empty()) << "no fallback after a cancellation";
}

TEST_P(DispatchTest, RestrictedDataWithNoLocalProviderIs503NoLocalProvider) {
  sim("ollama").stop();
  auto route = call("my SIN is " + std::string(kSin));
  ASSERT_FALSE(route.ok());
  EXPECT_EQ(route.error().code, ErrorCode::no_local_provider);
  EXPECT_EQ(http_status(route.error().code), 503);
  EXPECT_EQ(audit_.last().status, 503);
  EXPECT_EQ(audit_.last().fallback_path.front(), "ollama:upstream_error");
  EXPECT_TRUE(cloud_traffic().empty());
}

TEST_P(DispatchTest, EveryBudgetReservationIsSettledWhateverTheOutcome) {
  ASSERT_TRUE(sim(first_cloud()).set_fault("status_500", 1, std::nullopt).ok());
  (void)call("Summarise the quarter");
  (void)call("Summarise the quarter again");
  EXPECT_EQ(ledger_->spend("payments").reserved.micros, 0);
}

INSTANTIATE_TEST_SUITE_P(Surfaces, DispatchTest,
                         ::testing::Values(Surface::complete, Surface::stream, Surface::embed, Surface::job),
                         surface_name);

}  // namespace
}  // namespace aegis::gateway
