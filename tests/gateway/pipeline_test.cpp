// The governance pipeline end to end, in process (see pipeline_fixture.hpp).
#include <gtest/gtest.h>

#include "gateway/pipeline_fixture.hpp"

namespace aegis::gateway {
namespace {

using namespace test;  // NOLINT(google-build-using-namespace): the fixture's vocabulary
namespace asio = boost::asio;
using namespace std::chrono_literals;

TEST_F(PipelineTest, RestrictedGoesToTheLocalProviderOnly) {
  auto outcome = chat("Please file the return for SIN " + std::string(kSin) + " today.");
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_EQ(outcome->route.provider, "ollama");
  EXPECT_EQ(last_context_.level, Level::RESTRICTED);
  EXPECT_NE(outcome->route.reason.find("restricted"), std::string::npos) << outcome->route.reason;
  EXPECT_TRUE(cloud_traffic().empty());
  EXPECT_TRUE(contains_digits(sim("ollama").requests().back().body, kSinDigits));
  const auto row = audit_.last();
  EXPECT_EQ(row.level, Level::RESTRICTED);
  EXPECT_EQ(row.locality, "local");
  EXPECT_EQ(row.status, 200);
  EXPECT_EQ(row.entities.at("CA_SIN"), 1);
}

TEST_F(PipelineTest, RestrictedInEveryMessagePositionNeverReachesCloud) {
  const std::vector<std::string> secrets = {std::string(kSin), std::string(kCard), "046-454-286", "4111111111111111"};
  for (const auto& secret : secrets) {
    CallContext context;
    context.principal = &principal_;
    ChatRequest request;
    request.model = "claude-opus-4-1";  // even an explicit cloud model
    request.max_tokens = 16;
    request.system = "You are a helpful assistant.";
    request.messages.push_back(user_message("earlier turn"));
    Message assistant = user_message("ok", Role::assistant);
    assistant.tool_calls.push_back(
        ToolCall{"call_1", "lookup", "{\"sin\":\"" + secret + "\",\"note\":\"sin\"}", nullptr});
    request.messages.push_back(assistant);
    Message tool = user_message("card on file", Role::tool);
    tool.tool_call_id = "call_1";
    request.messages.push_back(tool);
    request.messages.push_back(user_message("summarise"));
    auto outcome = run(gateway_->complete(context, std::move(request)));
    ASSERT_TRUE(outcome.ok()) << secret << ": " << outcome.error().message;
    EXPECT_EQ(outcome->route.provider, "ollama") << secret;
  }
  EXPECT_TRUE(cloud_traffic().empty());
}

TEST_F(PipelineTest, RestrictedWithLocalDownIs503AndNeverCloud) {
  sim("ollama").stop();
  auto outcome = chat("card " + std::string(kCard) + " was declined");
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.error().code, ErrorCode::no_local_provider);
  EXPECT_EQ(http_status(outcome.error().code), 503);
  EXPECT_TRUE(cloud_traffic().empty());
  EXPECT_EQ(audit_.last().status, 503);
}

TEST_F(PipelineTest, RestrictedWhileCloudBreakerIsHalfOpenStaysLocal) {
  ASSERT_TRUE(sim("anthropic").set_fault("status_500", 3, std::nullopt).ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(chat("hello " + std::to_string(i)).ok());
  ASSERT_EQ(health_->breaker("anthropic")->state(), CircuitState::open);
  clock_.advance(61s);
  ASSERT_EQ(health_->breaker("anthropic")->state(), CircuitState::half_open);
  sim("anthropic").clear_requests();
  sim("azure").clear_requests();
  auto outcome = chat("my SIN is " + std::string(kSin));
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_EQ(outcome->route.provider, "ollama");
  EXPECT_FALSE(contains_digits(cloud_traffic(), kSinDigits));
  EXPECT_TRUE(cloud_traffic().empty());
  // The probe slot was not used by the RESTRICTED request.
  EXPECT_EQ(health_->breaker("anthropic")->state(), CircuitState::half_open);
}

TEST_F(PipelineTest, PersonAndEmailReachTheCloudOnlyAsPlaceholdersAndComeBackRestored) {
  auto outcome = chat("Write to Jennifer Walsh at jennifer.walsh@acme-mail.com about the offer.");
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_EQ(outcome->route.provider, "anthropic");
  const std::string seen = cloud_traffic();
  EXPECT_EQ(seen.find("jennifer.walsh@acme-mail.com"), std::string::npos) << seen;
  EXPECT_EQ(seen.find("Jennifer"), std::string::npos) << seen;
  EXPECT_NE(seen.find("EMAIL"), std::string::npos) << seen;
  EXPECT_NE(seen.find("PERSON_0"), std::string::npos) << seen;
  // The simulator echoes the (masked) prompt; the client gets the originals back.
  EXPECT_NE(outcome->completion.text.find("jennifer.walsh@acme-mail.com"), std::string::npos)
      << outcome->completion.text;
  EXPECT_NE(outcome->completion.text.find("Jennifer Walsh"), std::string::npos) << outcome->completion.text;
  EXPECT_EQ(outcome->completion.text.find("PERSON_0"), std::string::npos);
  EXPECT_GE(audit_.last().placeholders, 2);
}

TEST_F(PipelineTest, StreamingRestoresPlaceholdersSplitAcrossChunks) {
  CollectingSink sink;
  auto outcome = stream("Ask Jennifer Walsh (jennifer.walsh@acme-mail.com) to review.", sink);
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_EQ(last_context_.route.provider, "anthropic");
  EXPECT_EQ(cloud_traffic().find("jennifer.walsh@acme-mail.com"), std::string::npos);
  EXPECT_NE(sink.text.find("jennifer.walsh@acme-mail.com"), std::string::npos) << sink.text;
  EXPECT_NE(sink.text.find("Jennifer Walsh"), std::string::npos) << sink.text;
  EXPECT_EQ(sink.text.find("EMAIL"), std::string::npos) << sink.text;
  ASSERT_FALSE(sink.events.empty());
  EXPECT_EQ(sink.events.front().kind, StreamEvent::Kind::start);
  EXPECT_EQ(sink.events.back().kind, StreamEvent::Kind::finish);
  const auto row = audit_.last();
  EXPECT_EQ(row.status, 200);
  EXPECT_GT(row.output_tokens, 0);
  EXPECT_GT(row.cost.micros, 0);
}

TEST_F(PipelineTest, FallsBackAfterInjectedFailuresBeforeTheFirstByte) {
  ASSERT_TRUE(sim("anthropic").set_fault("status_503", 1, std::nullopt).ok());
  auto outcome = chat("hello there");
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_EQ(outcome->route.provider, "azure");
  const auto row = audit_.last();
  ASSERT_EQ(row.fallback_path.size(), 2u);
  EXPECT_EQ(row.fallback_path[0], "anthropic:unavailable");
  EXPECT_EQ(row.fallback_path[1], "azure:ok");

  CollectingSink sink;
  ASSERT_TRUE(sim("anthropic").set_fault("reset", 1, std::nullopt).ok());
  auto streamed = stream("hello again", sink);
  ASSERT_TRUE(streamed.ok()) << streamed.error().message;
  EXPECT_EQ(last_context_.route.provider, "azure");
  EXPECT_EQ(sink.events.back().kind, StreamEvent::Kind::finish);
}

TEST_F(PipelineTest, ClientErrorsDoNotFallBack) {
  // Anthropic rejects unknown fields (forwarded from an Anthropic client): the client's error, not an outage.
  CallContext context;
  context.principal = &principal_;
  ChatRequest request;
  request.model = "auto";
  request.max_tokens = 16;
  request.origin = WireProtocol::anthropic;
  request.passthrough["not_a_real_field"] = 1;
  request.messages.push_back(user_message("hi"));
  auto outcome = run(gateway_->complete(context, std::move(request)));
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(http_status(outcome.error().code), 400);
  EXPECT_TRUE(sim("azure").requests().empty());
  EXPECT_EQ(health_->breaker("anthropic")->consecutive_failures(), 0);
}

TEST_F(PipelineTest, LowBudgetDegradesOpusToSonnet) {
  principal_.monthly_budget = Money::from_micros(900'000);  // $0.90 < $1.00 threshold
  auto outcome = chat("review this design", "security_audit");
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_EQ(outcome->route.tier, Tier::sonnet);
  EXPECT_EQ(outcome->route.model, "claude-sonnet-4-5");
  EXPECT_NE(outcome->route.reason.find("opus→sonnet"), std::string::npos) << outcome->route.reason;

  principal_.monthly_budget = Money::from_dollars(50);
  auto rich = chat("review this design", "security_audit");
  ASSERT_TRUE(rich.ok());
  EXPECT_EQ(rich->route.tier, Tier::opus);
}

TEST_F(PipelineTest, BudgetExceededIs402BeforeAnyUpstreamCall) {
  principal_.monthly_budget = Money::from_micros(100);  // $0.0001
  auto outcome = chat("hello", "chat", "auto", 4000);
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.error().code, ErrorCode::budget_exceeded);
  EXPECT_EQ(http_status(outcome.error().code), 402);
  for (const char* name : {"anthropic", "azure", "ollama"}) EXPECT_TRUE(sim(name).requests().empty()) << name;
  const auto spend = ledger_->spend("payments");
  EXPECT_EQ(spend.spent.micros, 0);
  EXPECT_EQ(spend.reserved.micros, 0);
  EXPECT_EQ(audit_.last().status, 402);
}

TEST_F(PipelineTest, ActualCostIsCommittedAndTheRestReleased) {
  auto outcome = chat("hello", "chat", "auto", 1000);
  ASSERT_TRUE(outcome.ok());
  const auto spend = ledger_->spend("payments");
  EXPECT_EQ(spend.reserved.micros, 0);
  EXPECT_EQ(spend.requests, 1);
  // claude-sonnet-4-5 at $3/$15 per Mtok, from the simulator's reported usage.
  const auto& usage = outcome->completion.usage;
  const auto expected = (usage.input_tokens * 3'000'000 + usage.output_tokens * 15'000'000 + 999'999) / 1'000'000;
  EXPECT_EQ(spend.spent.micros, expected);
  EXPECT_EQ(audit_.last().cost.micros, expected);
  EXPECT_FALSE(audit_.last().budget_period.empty());
}

TEST_F(PipelineTest, AClientThatLeavesMidStreamIsBilledForWhatWasStreamedNotTheEstimate) {
  CallContext context;
  context.principal = &principal_;
  ChatRequest request = auto_request(many_words(200), 1000);
  request.stream = true;
  const auto estimate =
      budget::estimate_cost(request.messages[0].text.size(), 1000,
                            config::ModelPrice{Money::from_dollars(3), Money::from_dollars(15), {}, {}, {}});
  LeavingSink sink(3);
  auto outcome = run(gateway_->stream(context, std::move(request), sink));
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;

  const auto row = audit_.last();
  EXPECT_EQ(row.status, 499);
  EXPECT_EQ(row.fallback_path, std::vector<std::string>{"anthropic:client_gone"});
  EXPECT_EQ(row.provider, "anthropic");
  EXPECT_EQ(row.model, "claude-sonnet-4-5");
  EXPECT_EQ(row.locality, "cloud");
  EXPECT_FALSE(row.budget_period.empty());
  // Output: ceil(streamed bytes / 3); input: what message_start reported.
  EXPECT_EQ(row.output_tokens, static_cast<std::int64_t>((sink.offered_bytes + 2) / 3));
  EXPECT_GT(row.input_tokens, 0);
  const auto expected = (row.input_tokens * 3'000'000 + row.output_tokens * 15'000'000 + 999'999) / 1'000'000;
  EXPECT_EQ(row.cost.micros, expected);
  EXPECT_GT(row.cost.micros, 0);
  EXPECT_LT(row.cost.micros, estimate.cost.micros / 10);  // not the worst case of 1000 output tokens
  const auto spend = ledger_->spend("payments");
  EXPECT_EQ(spend.spent.micros, expected);
  EXPECT_EQ(spend.reserved.micros, 0);
}

TEST_F(PipelineTest, AStreamCancelledMidwayIsBilledForWhatItCarriedAndRecordedAsInterrupted) {
  sim("anthropic").set_latency(0ms, 40ms);  // the call waits on the upstream between tokens
  CallContext context;
  context.principal = &principal_;
  ChatRequest request = auto_request(many_words(200), 1000);
  request.stream = true;
  asio::cancellation_signal cut;
  CuttingSink sink(io_, cut, 3);
  auto result = std::make_shared<std::optional<Result<void>>>();
  auto task = [&]() -> asio::awaitable<void> {
    // As the server's sessions: cancellation is an error code, never a throw.
    co_await asio::this_coro::throw_if_cancelled(false);
    result->emplace(co_await gateway_->stream(context, std::move(request), sink));
  };
  asio::co_spawn(io_, task(), asio::bind_cancellation_slot(cut.slot(), asio::use_future)).get();

  ASSERT_TRUE(result->has_value());
  ASSERT_FALSE((*result)->ok());
  EXPECT_EQ((*result)->error().code, ErrorCode::cancelled);
  const auto row = audit_.last();
  EXPECT_EQ(row.status, 499);
  EXPECT_EQ(row.error_type, "cancelled");
  EXPECT_EQ(row.fallback_path, std::vector<std::string>{"anthropic:interrupted"});
  EXPECT_EQ(row.provider, "anthropic");
  EXPECT_FALSE(row.budget_period.empty());
  EXPECT_GE(sink.offered_bytes, 3u);
  EXPECT_EQ(row.output_tokens, static_cast<std::int64_t>((sink.offered_bytes + 2) / 3));
  EXPECT_LT(row.output_tokens, 200);  // cut well before the end of the answer
  EXPECT_GT(row.cost.micros, 0);
  const auto spend = ledger_->spend("payments");
  EXPECT_EQ(spend.spent.micros, row.cost.micros);
  EXPECT_EQ(spend.reserved.micros, 0);
  EXPECT_EQ(health_->breaker("anthropic")->consecutive_failures(), 0);  // not the provider's fault
}

TEST_F(PipelineTest, FailedCallsReleaseTheirReservation) {
  ASSERT_TRUE(sim("anthropic").set_fault("status_500", 10, std::nullopt).ok());
  ASSERT_TRUE(sim("azure").set_fault("status_500", 10, std::nullopt).ok());
  ASSERT_TRUE(sim("ollama").set_fault("status_500", 10, std::nullopt).ok());
  auto outcome = chat("hello");
  ASSERT_FALSE(outcome.ok());
  const auto spend = ledger_->spend("payments");
  EXPECT_EQ(spend.reserved.micros, 0);
  EXPECT_EQ(spend.spent.micros, 0);
}

TEST_F(PipelineTest, BreakerOpensHalfOpensAndClosesWithTheInjectedClock) {
  auto* breaker = health_->breaker("anthropic");
  ASSERT_NE(breaker, nullptr);
  ASSERT_TRUE(sim("anthropic").set_fault("status_500", 3, std::nullopt).ok());
  for (int i = 0; i < 3; ++i) {
    auto outcome = chat("ping " + std::to_string(i));
    ASSERT_TRUE(outcome.ok());
    EXPECT_EQ(outcome->route.provider, "azure");
  }
  EXPECT_EQ(breaker->state(), CircuitState::open);
  const auto anthropic_calls = sim("anthropic").requests().size();
  auto skipped = chat("while open");
  ASSERT_TRUE(skipped.ok());
  EXPECT_EQ(skipped->route.provider, "azure");
  EXPECT_EQ(sim("anthropic").requests().size(), anthropic_calls);  // not even tried
  EXPECT_EQ(audit_.last().fallback_path.front(), "anthropic:circuit_open");

  clock_.advance(59s);
  EXPECT_EQ(breaker->state(), CircuitState::open);
  clock_.advance(2s);
  EXPECT_EQ(breaker->state(), CircuitState::half_open);
  auto probe = chat("probe");
  ASSERT_TRUE(probe.ok());
  EXPECT_EQ(probe->route.provider, "anthropic");
  EXPECT_EQ(breaker->state(), CircuitState::closed);
  const auto scrape = metrics_.expose();
  EXPECT_NE(scrape.find("aegis_circuit_state{provider=\"anthropic\"} 0"), std::string::npos);
}

TEST_F(PipelineTest, ConcurrentRequestsNeverOverspendTheCap) {
  // ~$0.0022 worst case each (sonnet at $3/$15, 128 output tokens): a $0.10 cap admits a few dozen.
  principal_.monthly_budget = Money::from_micros(100'000);
  constexpr int kRequests = 200;
  std::atomic<int> ok{0}, rejected{0}, other{0};
  std::vector<std::future<void>> done;
  for (int i = 0; i < kRequests; ++i) {
    auto work = [this, i, &ok, &rejected, &other]() -> asio::awaitable<void> {
      CallContext context;
      context.principal = &principal_;
      ChatRequest request;
      request.model = "auto";
      request.max_tokens = 128;
      request.messages.push_back(user_message("request number " + std::to_string(i)));
      auto outcome = co_await gateway_->complete(context, std::move(request));
      if (outcome.ok()) {
        ++ok;
      } else if (outcome.error().code == ErrorCode::budget_exceeded) {
        ++rejected;
      } else {
        ++other;
      }
      const auto spend = ledger_->spend("payments");
      EXPECT_LE(spend.spent.micros + spend.reserved.micros, principal_.monthly_budget.micros);
    };
    done.push_back(asio::co_spawn(io_, work, asio::use_future));
  }
  for (auto& f : done) f.get();
  EXPECT_EQ(ok + rejected + other, kRequests);
  EXPECT_EQ(other, 0);
  EXPECT_GT(ok, 0);
  EXPECT_GT(rejected, 0);
  const auto spend = ledger_->spend("payments");
  EXPECT_EQ(spend.reserved.micros, 0);
  EXPECT_LE(spend.spent.micros, principal_.monthly_budget.micros);
  EXPECT_EQ(spend.requests, ok.load());
  std::int64_t audited = 0;
  for (const auto& row : audit_.rows()) audited += row.cost.micros;
  EXPECT_EQ(audited, spend.spent.micros);
}

TEST_F(PipelineTest, EmbeddingsOfRestrictedInputsStayLocal) {
  CallContext context;
  context.principal = &principal_;
  EmbedRequest request;
  request.model = "auto";
  request.inputs = {"customer SIN " + std::string(kSin)};
  auto outcome = run(gateway_->embed(context, std::move(request)));
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_EQ(outcome->route.provider, "ollama");
  EXPECT_TRUE(cloud_traffic().empty());
}

TEST_F(PipelineTest, EveryRequestWritesOneAuditRowWithoutContent) {
  ASSERT_TRUE(chat("Write to Jennifer Walsh at jennifer.walsh@acme-mail.com").ok());
  ASSERT_TRUE(chat("SIN " + std::string(kSin)).ok());
  const auto rows = audit_.rows();
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& row : rows) {
    EXPECT_EQ(row.team, "payments");
    EXPECT_EQ(row.key_id, "key1");
    EXPECT_FALSE(row.reason.empty());
    EXPECT_EQ(row.reason.find("jennifer"), std::string::npos);
    EXPECT_EQ(row.reason.find("046"), std::string::npos);
  }
  EXPECT_EQ(rows[0].entities.at("EMAIL_ADDRESS"), 1);
  EXPECT_EQ(rows[0].entities.at("PERSON"), 1);
  EXPECT_EQ(rows[1].entities.at("CA_SIN"), 1);
  EXPECT_EQ(rows[1].locality, "local");
}

// --- Stage 8: a success is on record before the client can see it. ---

// Runs `work` on the fixture's io_context; its result lands in `slot`.
template <class T>
asio::awaitable<void> park(asio::awaitable<T> work, std::shared_ptr<std::optional<T>> slot) {
  slot->emplace(co_await std::move(work));
}

bool eventually(const std::function<bool()>& condition) {
  for (int i = 0; i < 1000; ++i) {
    if (condition()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return condition();
}

TEST_F(PipelineTest, CompleteAndEmbedWriteAnIntentBeforeTheProviderCallAndReplaceIt) {
  ASSERT_TRUE(chat("hello there").ok());
  EXPECT_EQ(audit_.durable(), 1);  // the intent; the final row is queued without a wait
  ASSERT_EQ(audit_.intents().size(), 1u);
  const auto intent = audit_.intents().front();
  EXPECT_EQ(intent.status, 0);
  EXPECT_NE(intent.intent_seq, 0);
  EXPECT_FALSE(intent.provider.empty());
  EXPECT_GT(intent.cost.micros, 0);  // the reservation
  EXPECT_FALSE(intent.budget_period.empty());
  EXPECT_EQ(audit_.last().status, 200);
  EXPECT_FALSE(audit_.last().intent);
  EXPECT_EQ(audit_.last().intent_seq, intent.intent_seq);  // the final row replaces it
  EXPECT_LE(audit_.last().cost, intent.cost);

  CallContext context;
  context.principal = &principal_;
  EmbedRequest request;
  request.model = "auto";
  request.inputs = {"a harmless sentence"};
  ASSERT_TRUE(run(gateway_->embed(context, std::move(request))).ok());
  EXPECT_EQ(audit_.durable(), 2);
  ASSERT_EQ(audit_.intents().size(), 2u);
  EXPECT_EQ(audit_.last().status, 200);
  EXPECT_EQ(audit_.last().intent_seq, audit_.intents().back().intent_seq);
  EXPECT_NE(audit_.intents().back().intent_seq, intent.intent_seq);

  // Refused before any provider call: no intent, and the row is queued as before.
  ASSERT_FALSE(chat("hello", "chat", "no-such-model").ok());
  EXPECT_EQ(audit_.durable(), 2);
  EXPECT_EQ(audit_.intents().size(), 2u);
  EXPECT_EQ(audit_.rows().size(), 3u);
  EXPECT_EQ(audit_.last().status, 400);
  EXPECT_EQ(audit_.last().intent_seq, 0);
}

TEST_F(PipelineTest, AnAnswerWaitsForItsIntentsCommitNotForItsFinalRow) {
  audit_.hold_durable = true;
  CallContext context;
  context.principal = &principal_;
  auto slot = std::make_shared<std::optional<Result<ChatOutcome>>>();
  auto done =
      asio::co_spawn(io_, park(gateway_->complete(context, auto_request("hello there", 64)), slot), asio::use_future);
  ASSERT_TRUE(eventually([&] { return audit_.held() == 1; }));
  // The simulator has answered by now; the answer waits for the intent.
  EXPECT_EQ(done.wait_for(300ms), std::future_status::timeout);
  EXPECT_TRUE(audit_.rows().empty());
  audit_.release(true);
  ASSERT_EQ(done.wait_for(10s), std::future_status::ready);
  done.get();
  ASSERT_TRUE((*slot)->ok());
  EXPECT_EQ(audit_.held(), 0u);
  EXPECT_EQ(audit_.durable(), 1);
  EXPECT_EQ(audit_.last().status, 200);
}

TEST_F(PipelineTest, AnIntentTheWriterDroppedMakesTheAnswerWaitForItsFinalRow) {
  audit_.hold_durable = true;
  CallContext context;
  context.principal = &principal_;
  auto slot = std::make_shared<std::optional<Result<ChatOutcome>>>();
  auto done =
      asio::co_spawn(io_, park(gateway_->complete(context, auto_request("hello there", 64)), slot), asio::use_future);
  ASSERT_TRUE(eventually([&] { return audit_.held() == 1; }));
  audit_.release(false);                                        // dropped (queue full) or given up on
  ASSERT_TRUE(eventually([&] { return audit_.held() == 1; }));  // now the final row, durably
  EXPECT_EQ(done.wait_for(300ms), std::future_status::timeout);
  EXPECT_EQ(audit_.last().status, 200);
  audit_.release(true);
  ASSERT_EQ(done.wait_for(10s), std::future_status::ready);
  done.get();
  ASSERT_TRUE((*slot)->ok());
  EXPECT_EQ(audit_.durable(), 2);
}

// Fail closed: while the audit trail cannot be written, nothing is served
// unaudited and nothing reaches a provider.
TEST_F(PipelineTest, AFailingAuditTrailRefusesRequestsBeforeAnyProviderCall) {
  audit_.accepting_now = false;
  CallContext context;
  context.principal = &principal_;
  auto outcome = run(gateway_->complete(context, auto_request("hello there", 64)));
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.error().code, ErrorCode::unavailable);
  EXPECT_EQ(outcome.error().retry_after_seconds, 1);
  for (const char* name : {"anthropic", "azure", "ollama"}) EXPECT_TRUE(sim(name).requests().empty()) << name;
  EXPECT_EQ(audit_.last().status, 503);
}

// The store fails while the provider answers: the intent is not written, the
// answer is withheld (503), and the row that is queued for when the store is
// back says 503, not 200.
TEST_F(PipelineTest, AnIntentLostToAFailingStoreTurnsTheAnswerInto503) {
  audit_.hold_durable = true;
  CallContext context;
  context.principal = &principal_;
  auto slot = std::make_shared<std::optional<Result<ChatOutcome>>>();
  auto done =
      asio::co_spawn(io_, park(gateway_->complete(context, auto_request("hello there", 64)), slot), asio::use_future);
  ASSERT_TRUE(eventually([&] { return audit_.held() == 1; }));
  audit_.accepting_now = false;
  audit_.release(false);
  ASSERT_EQ(done.wait_for(10s), std::future_status::ready);
  done.get();
  ASSERT_FALSE((*slot)->ok());
  EXPECT_EQ((*slot)->error().code, ErrorCode::unavailable);
  EXPECT_EQ(audit_.last().status, 503);
  EXPECT_EQ(audit_.last().error_type, "unavailable");
  EXPECT_EQ(audit_.durable(), 1);  // no second durable wait on a store known to be failing
}

TEST_F(PipelineTest, AStreamsEndIsHeldUntilItsIntentIsCommitted) {
  audit_.hold_durable = true;
  CollectingSink sink;
  CallContext context;
  context.principal = &principal_;
  auto slot = std::make_shared<std::optional<Result<void>>>();
  auto done = asio::co_spawn(io_, park(gateway_->stream(context, auto_request("tell me a story", 64), sink), slot),
                             asio::use_future);
  ASSERT_TRUE(eventually([&] { return audit_.held() == 1; }));
  // Read the sink on its own thread: the content goes out, the end does not.
  auto seen = [&] {
    return asio::post(io_, asio::use_future([&] {
                        const bool finished = std::any_of(sink.events.begin(), sink.events.end(), [](const auto& e) {
                          return e.kind == StreamEvent::Kind::finish;
                        });
                        return std::pair<std::string, bool>{sink.text, finished};
                      }))
        .get();
  };
  ASSERT_TRUE(eventually([&] { return !seen().first.empty(); }));
  EXPECT_EQ(done.wait_for(300ms), std::future_status::timeout);
  EXPECT_FALSE(seen().second);
  const auto intent = audit_.intents().at(0);
  EXPECT_EQ(intent.status, 0);
  EXPECT_GT(intent.cost.micros, 0);  // the reservation travels with the intent
  audit_.release(true);
  ASSERT_EQ(done.wait_for(10s), std::future_status::ready);
  done.get();
  ASSERT_TRUE((*slot)->ok());
  ASSERT_FALSE(sink.events.empty());
  EXPECT_EQ(sink.events.back().kind, StreamEvent::Kind::finish);
  EXPECT_EQ(audit_.last().status, 200);
  EXPECT_EQ(audit_.last().intent_seq, intent.intent_seq);
  EXPECT_GT(audit_.last().cost.micros, 0);
  EXPECT_EQ(audit_.durable(), 1);
}

TEST_F(PipelineTest, ACallerThatAsksForTheRowGetsItInsteadOfTheAuditSink) {
  std::optional<audit::AuditRecord> row;
  CallContext context;
  context.principal = &principal_;
  context.surface = "jobs";
  context.request_id = "job_1";
  context.audit_row_out = &row;
  auto outcome = run(gateway_->complete(context, auto_request("hello", 64)));
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_TRUE(audit_.rows().empty());
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->request_id, "job_1");
  EXPECT_EQ(row->status, 200);
  EXPECT_EQ(row->cost, context.cost);
  EXPECT_FALSE(row->budget_period.empty());

  // A failed call hands over its row too (the job store commits it with the failure).
  row.reset();
  context.audit_row_out = &row;
  ChatRequest bad = auto_request("hello", 64);
  bad.model = "no-such-model";
  ASSERT_FALSE(run(gateway_->complete(context, std::move(bad))).ok());
  EXPECT_TRUE(audit_.rows().empty());
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->status, 400);
}

// --- Async jobs: what submit decides (admit_job) is carried into the run. ---

TEST_F(PipelineTest, AdmittedJobHoldsTheWorstCaseAndItsRunAdoptsThatReservation) {
  CallContext submit;
  submit.principal = &principal_;
  submit.task = "chat";
  const ChatRequest request = auto_request("Summarise the quarter", 1000);
  auto admission = run(gateway_->admit_job(submit, request, 24h));
  ASSERT_TRUE(admission.ok()) << admission.error().message;
  ASSERT_TRUE(admission->reservation.has_value());
  EXPECT_GT(admission->estimate.micros, 0);
  EXPECT_EQ(ledger_->spend("payments").reserved, admission->estimate);
  for (const char* name : {"anthropic", "azure", "ollama"}) EXPECT_TRUE(sim(name).requests().empty()) << name;
  EXPECT_TRUE(audit_.rows().empty()) << "an admitted job is audited when it runs, not twice";

  CallContext run_context;
  run_context.principal = &principal_;
  run_context.held_reservation = admission->reservation;
  run_context.held_estimate = admission->estimate;
  auto outcome = run(gateway_->complete(run_context, request));
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_FALSE(run_context.held_reservation.has_value()) << "the call settles an adopted reservation";
  const auto spend = ledger_->spend("payments");
  EXPECT_EQ(spend.reserved.micros, 0);
  EXPECT_EQ(spend.requests, 1);
  EXPECT_EQ(spend.spent, run_context.cost);
}

TEST_F(PipelineTest, AdmitJobIs402WhenTheBudgetCannotCoverIt) {
  principal_.monthly_budget = Money::from_micros(100);
  CallContext submit;
  submit.principal = &principal_;
  submit.surface = "jobs";
  const ChatRequest request = auto_request("hello", 4000);
  auto admission = run(gateway_->admit_job(submit, request, 24h));
  ASSERT_FALSE(admission.ok());
  EXPECT_EQ(admission.error().code, ErrorCode::budget_exceeded);
  EXPECT_EQ(ledger_->spend("payments").reserved.micros, 0);
  // Refused at submit: audited like a refused synchronous call, with no provider.
  ASSERT_EQ(audit_.rows().size(), 1u);
  EXPECT_EQ(audit_.last().status, 402);
  EXPECT_EQ(audit_.last().error_type, "budget_exceeded");
  EXPECT_EQ(audit_.last().surface, "jobs");
  EXPECT_TRUE(audit_.last().provider.empty());
}

TEST_F(PipelineTest, DeclaredRestrictedFloorKeepsHarmlessTextLocal) {
  CallContext submit;
  submit.principal = &principal_;
  submit.minimum_level = Level::RESTRICTED;
  const ChatRequest request = auto_request("What is the capital of France?", 64);
  auto admission = run(gateway_->admit_job(submit, request, 24h));
  ASSERT_TRUE(admission.ok());
  EXPECT_EQ(admission->level, Level::RESTRICTED);

  CallContext run_context = submit;
  run_context.held_reservation = admission->reservation;
  run_context.held_estimate = admission->estimate;
  auto outcome = run(gateway_->complete(run_context, request));
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_EQ(outcome->route.provider, "ollama");
  EXPECT_EQ(cloud_traffic(), "");
}

TEST_F(PipelineTest, EveryAttemptOfAJobSendsTheSameMaskedTextAndGetsTheAnswerRestored) {
  CallContext submit;
  submit.principal = &principal_;
  const ChatRequest request = auto_request("Write to jane.doe@example.com about the invoice", 64);
  auto admission = run(gateway_->admit_job(submit, request, 24h));
  ASSERT_TRUE(admission.ok());
  ASSERT_FALSE(admission->vault_json.empty());
  ASSERT_TRUE(ledger_->release(*admission->reservation).ok());

  std::vector<std::string> answers;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto vault = privacy::Vault::from_json(admission->vault_json);
    ASSERT_TRUE(vault.ok());
    CallContext run_context;
    run_context.principal = &principal_;
    run_context.vault = &*vault;
    auto outcome = run(gateway_->complete(run_context, request));
    ASSERT_TRUE(outcome.ok()) << outcome.error().message;
    answers.push_back(outcome->completion.text);
  }
  const auto bodies = sim("anthropic").requests();
  ASSERT_EQ(bodies.size(), 2u);
  EXPECT_EQ(bodies[0].body, bodies[1].body) << "a retried job must send the identical masked text";
  EXPECT_EQ(bodies[0].body.find("jane.doe@example.com"), std::string::npos);
  EXPECT_NE(bodies[0].body.find("EMAIL_ADDRESS_0"), std::string::npos) << bodies[0].body;
  for (const auto& answer : answers) EXPECT_NE(answer.find("jane.doe@example.com"), std::string::npos) << answer;
}

TEST_F(PipelineTest, ARunMasksWithTheVaultItIsGiven) {
  privacy::Vault vault;
  // Taken by an earlier value, so this run's email must get the next index.
  const std::string first = vault.placeholder_for("EMAIL_ADDRESS", "someone@else.example");
  ASSERT_EQ(first, "EMAIL_ADDRESS_0");
  CallContext context;
  context.principal = &principal_;
  context.vault = &vault;
  const ChatRequest request = auto_request("Write to jane.doe@example.com about the invoice", 64);
  auto outcome = run(gateway_->complete(context, request));
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  const auto bodies = sim("anthropic").requests();
  ASSERT_EQ(bodies.size(), 1u);
  EXPECT_NE(bodies[0].body.find("EMAIL_ADDRESS_1"), std::string::npos) << bodies[0].body;
  EXPECT_EQ(vault.size(), 2u);
  EXPECT_NE(outcome->completion.text.find("jane.doe@example.com"), std::string::npos);
}

// ---------------------------------------------------------------------------
// The local-only invariant, layer by layer (docs/ARCHITECTURE.md): each test
// below fails when its layer alone is taken out.

// The classifier with some of its rules taken out (a "test build" without them):
// their findings are dropped and the level recomputed from what is left.
class RuleDroppingClassifier final : public classify::Classifier {
 public:
  RuleDroppingClassifier(const classify::Classifier& inner, std::vector<std::string> dropped_prefixes)
      : inner_(inner), dropped_(std::move(dropped_prefixes)) {}
  classify::Classification classify(std::string_view text, const classify::Marking& marking) const override {
    auto result = inner_.classify(text, marking);
    std::erase_if(result.findings, [this](const classify::Finding& f) {
      return std::any_of(dropped_.begin(), dropped_.end(),
                         [&f](const std::string& p) { return f.rule.starts_with(p); });
    });
    result.level = Level::INTERNAL;
    for (const auto& f : result.findings) result.level = std::max(result.level, f.level);
    return result;
  }

 private:
  const classify::Classifier& inner_;
  std::vector<std::string> dropped_;
};

TEST_F(PipelineTest, AVetoedCloudSendRunsLocallyAsRestricted) {
  test_support::KeywordEgressDetector detector(std::string(kVetoWord), "pan.luhn");
  build(Layers{.detector = &detector});
  auto outcome = chat("Renewal reference " + std::string(kVetoWord) + ", please confirm.");
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_EQ(outcome->route.provider, "ollama");
  EXPECT_EQ(last_context_.level, Level::RESTRICTED) << "x-aegis-classification reads RESTRICTED";
  EXPECT_TRUE(cloud_traffic().empty()) << "vetoed before a byte left";
  EXPECT_NE(sim("ollama").requests().back().body.find(kVetoWord), std::string::npos);
  const auto row = audit_.last();
  EXPECT_TRUE(row.egress_veto);
  EXPECT_EQ(row.egress_rule, "pan.luhn");
  EXPECT_FALSE(row.egress_blocked);
  EXPECT_EQ(row.level, Level::RESTRICTED);
  EXPECT_EQ(row.locality, "local");
  EXPECT_EQ(row.status, 200);
  EXPECT_EQ(row.fallback_path, (std::vector<std::string>{"anthropic:egress_veto", "ollama:ok"}));
  EXPECT_EQ(scraped(metrics_, "aegis_egress_vetoes_total{rule=\"pan.luhn\"}"), 1);
  EXPECT_EQ(scraped(metrics_, "aegis_pipeda_violations_total"), 0);
  EXPECT_EQ(health_->breaker("anthropic")->consecutive_failures(), 0) << "a veto is not the provider's fault";
}

TEST_F(PipelineTest, AVetoedStreamRunsLocallyBeforeTheClientSeesAByte) {
  test_support::KeywordEgressDetector detector{std::string(kVetoWord)};
  build(Layers{.detector = &detector});
  CollectingSink sink;
  auto outcome = stream("Renewal reference " + std::string(kVetoWord), sink);
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_EQ(last_context_.route.provider, "ollama");
  EXPECT_EQ(last_context_.level, Level::RESTRICTED);
  EXPECT_FALSE(sink.text.empty());
  EXPECT_TRUE(cloud_traffic().empty());
  EXPECT_TRUE(audit_.last().egress_veto);
}

TEST_F(PipelineTest, AVetoedEmbeddingRunsLocally) {
  test_support::KeywordEgressDetector detector(std::string(kVetoWord), "iban.mod97");
  build(Layers{.detector = &detector});
  CallContext context;
  context.principal = &principal_;
  EmbedRequest request;
  request.model = "auto";
  request.inputs = {"harmless", "reference " + std::string(kVetoWord)};
  auto outcome = run(gateway_->embed(context, std::move(request)));
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_EQ(outcome->route.provider, "ollama");
  EXPECT_EQ(context.level, Level::RESTRICTED);
  EXPECT_TRUE(cloud_traffic().empty());
  const auto row = audit_.last();
  EXPECT_TRUE(row.egress_veto);
  EXPECT_EQ(row.egress_rule, "iban.mod97");
  EXPECT_EQ(row.locality, "local");
  EXPECT_EQ(row.fallback_path, (std::vector<std::string>{"azure:egress_veto", "ollama:ok"}));
}

TEST_F(PipelineTest, AVetoWithNoLocalProviderIs503NoLocalProvider) {
  test_support::KeywordEgressDetector detector{std::string(kVetoWord)};
  build(Layers{.detector = &detector});
  sim("ollama").stop();
  auto outcome = chat("Renewal reference " + std::string(kVetoWord));
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.error().code, ErrorCode::no_local_provider);
  EXPECT_EQ(http_status(outcome.error().code), 503);
  EXPECT_TRUE(cloud_traffic().empty());
  const auto row = audit_.last();
  EXPECT_EQ(row.status, 503);
  EXPECT_TRUE(row.egress_veto);
  EXPECT_EQ(row.level, Level::RESTRICTED);
}

// Layer 1, the classifier: a SIN it knows is RESTRICTED from stage 2, so the
// route is local from the start and no later layer has anything to do.
TEST_F(PipelineTest, LayerClassifierDecidesBeforeAnyCloudAttempt) {
  auto outcome = chat("Please file the return for SIN " + std::string(kSin));
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  const auto row = audit_.last();
  EXPECT_EQ(row.fallback_path, (std::vector<std::string>{"ollama:ok"}));
  EXPECT_FALSE(row.egress_veto);
  EXPECT_EQ(row.entities.count("CA_SIN"), 1u);
}

// Layer 2, the router: RESTRICTED data gets a chain of local targets only, so
// the re-check below never has to skip anything.
TEST_F(PipelineTest, LayerRouterChainsOnlyLocalTargetsForRestricted) {
  ASSERT_TRUE(chat("card " + std::string(kCard)).ok());
  const auto row = audit_.last();
  EXPECT_EQ(row.fallback_path, (std::vector<std::string>{"ollama:ok"}));
  EXPECT_NE(row.reason.find("restricted"), std::string::npos) << row.reason;
}

// Layer 3, the gateway's per-target locality re-check: with a router that
// routes RESTRICTED to the cloud, the re-check alone skips every cloud target.
TEST_F(PipelineTest, LayerLocalityRecheckSkipsCloudTargetsAFaultyRouterChose) {
  build(Layers{.leaky_router = true});
  auto outcome = chat("Please file the return for SIN " + std::string(kSin));
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_EQ(outcome->route.provider, "ollama");
  EXPECT_TRUE(cloud_traffic().empty());
  EXPECT_EQ(audit_.last().fallback_path,
            (std::vector<std::string>{"anthropic:skipped_not_local", "azure:skipped_not_local", "ollama:ok"}));
}

// Layer 4, the independent egress detector: with the classifier's card rule
// taken out, the digits-first detector alone keeps a card off the cloud.
TEST_F(PipelineTest, LayerEgressDetectorAloneKeepsACardOffTheCloud) {
  RuleDroppingClassifier no_cards(*classifier_, {"card."});
  build(Layers{.classifier = &no_cards});
  const std::vector<std::string> spellings = {"6759 6498 2643 8453", "6759.6498.2643.8453", "6759-6498-2643-8453",
                                              "67 59 64 98 26 43 84 53", std::string(kCard)};
  for (const auto& card : spellings) {
    ASSERT_NE(no_cards.classify("Charge my Maestro card " + card + " for the renewal", {}).level, Level::RESTRICTED);
    auto outcome = chat("Charge my Maestro card " + card + " for the renewal");
    ASSERT_TRUE(outcome.ok()) << card << ": " << outcome.error().message;
    EXPECT_EQ(outcome->route.provider, "ollama") << card;
    const auto row = audit_.last();
    EXPECT_TRUE(row.egress_veto) << card;
    EXPECT_EQ(row.egress_rule, "pan.luhn") << card;
    EXPECT_EQ(row.level, Level::RESTRICTED) << card;
  }
  EXPECT_FALSE(contains_digits(cloud_traffic(), "6759649826438453"));
  EXPECT_FALSE(contains_digits(cloud_traffic(), "4111111111111111"));
  EXPECT_TRUE(cloud_traffic().empty());
}

// Layers 5 and 6 see what got through: with the router, the re-check and the
// egress guard all taken out, a SIN reaches the cloud, and the violation
// counter (and the audit row the pipeda_violations view reads) show it.
TEST_F(PipelineTest, LayerViolationCounterCountsWhatGotThroughEveryOtherLayer) {
  EXPECT_EQ(scraped(metrics_, "aegis_pipeda_violations_total"), 0);
  build(Layers{.egress_guard = false, .leaky_router = true, .recheck_locality = false});
  auto outcome = chat("Please file the return for SIN " + std::string(kSin));
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_NE(outcome->route.provider, "ollama");
  EXPECT_FALSE(cloud_traffic().empty()) << "the breach this test stages (masking still hides the digits)";
  EXPECT_EQ(scraped(metrics_, "aegis_pipeda_violations_total"), 1);
  const auto row = audit_.last();
  EXPECT_EQ(row.level, Level::RESTRICTED);
  EXPECT_EQ(row.locality, "cloud");
}

}  // namespace
}  // namespace aegis::gateway
