// The exact response cache (gateway/response_cache.hpp): the LRU and its
// bounds, TTLs against an injected time, the canonical key, team isolation,
// and, through the real pipeline, what is cached, served and recorded.
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "gateway/cache_key.hpp"
#include "gateway/lru_response_cache.hpp"
#include "pipeline_fixture.hpp"

namespace aegis::gateway::test {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

constexpr Clock::time_point kT0 = Clock::time_point{} + std::chrono::hours(1);

CacheKey key_of(std::string text, const std::string& team = "t") {
  ChatRequest request;
  request.model = "auto";
  request.temperature = 0.0;
  request.messages.push_back(user_message(std::move(text)));
  return response_cache_key(team, "chat", Level::INTERNAL, request);
}

std::shared_ptr<const CachedAnswer> answer_of(std::string text) {
  auto answer = std::make_shared<CachedAnswer>();
  answer->completion.text = std::move(text);
  answer->route.provider = "anthropic";
  answer->route.model = "claude-sonnet-4-5";
  return answer;
}

LruResponseCache::Limits limits(std::size_t entries, std::size_t bytes = std::size_t{1} << 30) {
  return LruResponseCache::Limits{entries, bytes};
}

TEST(ResponseCacheLru, EvictsTheLeastRecentlyUsedBeyondMaxEntries) {
  telemetry::Registry metrics;
  LruResponseCache cache(limits(2), metrics);
  cache.store(key_of("a"), "t", answer_of("A"), kT0);
  cache.store(key_of("b"), "t", answer_of("B"), kT0);
  ASSERT_NE(cache.lookup(key_of("a"), "t", kT0, std::chrono::seconds(60)), nullptr);  // a is now the most recent
  cache.store(key_of("c"), "t", answer_of("C"), kT0);
  EXPECT_EQ(cache.entries(), 2U);
  EXPECT_EQ(cache.lookup(key_of("b"), "t", kT0, std::chrono::seconds(60)), nullptr);
  EXPECT_EQ(cache.lookup(key_of("a"), "t", kT0, std::chrono::seconds(60))->completion.text, "A");
  EXPECT_EQ(cache.lookup(key_of("c"), "t", kT0, std::chrono::seconds(60))->completion.text, "C");
  EXPECT_EQ(scraped(metrics, R"(aegis_cache_evictions_total{reason="capacity"})"), 1);
}

TEST(ResponseCacheLru, EvictsUntilTheBytesFitAndRefusesAnAnswerLargerThanTheBound) {
  telemetry::Registry metrics;
  const auto big = answer_of(std::string(1000, 'x'));
  const std::size_t one = LruResponseCache::footprint("t", *big);
  LruResponseCache cache(limits(100, (2 * one) + (one / 2)), metrics);
  cache.store(key_of("a"), "t", big, kT0);
  cache.store(key_of("b"), "t", big, kT0);
  EXPECT_EQ(cache.bytes(), 2 * one);
  cache.store(key_of("c"), "t", big, kT0);
  EXPECT_EQ(cache.entries(), 2U);
  EXPECT_LE(cache.bytes(), (2 * one) + (one / 2));
  EXPECT_EQ(cache.lookup(key_of("a"), "t", kT0, std::chrono::seconds(60)), nullptr);

  cache.store(key_of("huge"), "t", answer_of(std::string(10 * one, 'y')), kT0);
  EXPECT_EQ(cache.lookup(key_of("huge"), "t", kT0, std::chrono::seconds(60)), nullptr);
  EXPECT_EQ(cache.entries(), 2U);  // nothing was evicted for it
}

TEST(ResponseCacheLru, AnEntryLivesForItsTeamsTtlAndIsDroppedWhenFoundOlder) {
  telemetry::Registry metrics;
  LruResponseCache cache(limits(10), metrics);
  cache.store(key_of("a"), "t", answer_of("A"), kT0);
  const auto ttl = std::chrono::seconds(30);
  EXPECT_NE(cache.lookup(key_of("a"), "t", kT0 + std::chrono::seconds(29), ttl), nullptr);
  // A shorter TTL set later applies to what is already cached.
  EXPECT_EQ(cache.lookup(key_of("a"), "t", kT0 + std::chrono::seconds(29), std::chrono::seconds(10)), nullptr);
  EXPECT_EQ(cache.entries(), 0U);
  EXPECT_EQ(scraped(metrics, R"(aegis_cache_evictions_total{reason="expired"})"), 1);

  cache.store(key_of("b"), "t", answer_of("B"), kT0);
  EXPECT_EQ(cache.lookup(key_of("b"), "t", kT0 + ttl, ttl), nullptr);  // exactly the TTL: expired
}

TEST(ResponseCacheLru, NeverAnswersAnotherTeam) {
  telemetry::Registry metrics;
  LruResponseCache cache(limits(10), metrics);
  EXPECT_NE(key_of("same words", "red"), key_of("same words", "blue"));
  cache.store(key_of("same words", "red"), "red", answer_of("red's answer"), kT0);
  EXPECT_EQ(cache.lookup(key_of("same words", "red"), "blue", kT0, std::chrono::seconds(60)), nullptr);
  EXPECT_EQ(cache.lookup(key_of("same words", "blue"), "blue", kT0, std::chrono::seconds(60)), nullptr);
  EXPECT_NE(cache.lookup(key_of("same words", "red"), "red", kT0, std::chrono::seconds(60)), nullptr);
}

// --- the key

ChatRequest full_request(const std::string& passthrough_json, const std::string& schema_json,
                         const std::string& arguments) {
  ChatRequest r;
  r.model = "claude-sonnet-4-5";
  r.system = "be brief";
  r.temperature = 0.0;
  r.max_tokens = 100;
  r.stop = {"END"};
  Message user = user_message("what is 2+2?");
  Message assistant = user_message("", Role::assistant);
  assistant.tool_calls.push_back(ToolCall{"call_1", "calc", arguments, {}});
  Message tool = user_message("4", Role::tool);
  tool.tool_call_id = "call_1";
  r.messages = {user, assistant, tool};
  r.tools.push_back(ToolDefinition{"calc", "adds numbers", json::parse(schema_json), {}});
  r.passthrough = json::parse(passthrough_json).as_object();
  return r;
}

CacheKey key(const ChatRequest& r) { return response_cache_key("t", "chat", Level::INTERNAL, r); }

TEST(ResponseCacheKey, IgnoresKeyOrderWhitespaceAndNumberSpelling) {
  const auto a = full_request(R"({"user":"u1","metadata":{"a":1,"b":[1,2]}})",
                              R"({"type":"object","properties":{"x":{"type":"number"}}})", R"({"x":1,"y":2})");
  const auto b = full_request(R"({ "metadata" : { "b" : [1, 2.0], "a" : 1.0 }, "user" : "u1" })",
                              R"({"properties":{"x":{"type":"number"}},"type":"object"})", R"({ "y": 2, "x": 1 })");
  EXPECT_EQ(key(a), key(b));
  ChatRequest streamed = a;
  streamed.stream = true;
  streamed.stream_include_usage = true;
  EXPECT_EQ(key(a), key(streamed));  // a stream and a complete request share the answer
}

TEST(ResponseCacheKey, EveryFieldThatCanChangeTheAnswerChangesTheKey) {
  const auto base = full_request(R"({"user":"u1"})", R"({"type":"object"})", R"({"x":1})");
  const CacheKey k = key(base);
  std::vector<std::pair<std::string, ChatRequest>> variants;
  auto vary = [&](std::string what, auto change) {
    ChatRequest r = base;
    change(r);
    variants.emplace_back(std::move(what), std::move(r));
  };
  vary("model", [](ChatRequest& r) { r.model = "claude-haiku-4-5"; });
  vary("system", [](ChatRequest& r) { r.system = "be long"; });
  vary("temperature", [](ChatRequest& r) { r.temperature = 0.5; });
  vary("no temperature", [](ChatRequest& r) { r.temperature.reset(); });
  vary("top_p", [](ChatRequest& r) { r.top_p = 0.9; });
  vary("max_tokens", [](ChatRequest& r) { r.max_tokens = 101; });
  vary("stop", [](ChatRequest& r) { r.stop = {"STOP"}; });
  vary("message text", [](ChatRequest& r) { r.messages[0].text = "what is 2+3?"; });
  vary("role", [](ChatRequest& r) { r.messages[0].role = Role::assistant; });
  vary("tool arguments", [](ChatRequest& r) { r.messages[1].tool_calls[0].arguments_json = R"({"x":2})"; });
  vary("tool error", [](ChatRequest& r) { r.messages[2].tool_error = true; });
  vary("tool schema", [](ChatRequest& r) { r.tools[0].input_schema = json::parse(R"({"type":"array"})"); });
  vary("tool_choice", [](ChatRequest& r) { r.tool_choice = "auto"; });
  vary("passthrough", [](ChatRequest& r) { r.passthrough["user"] = "u2"; });
  vary("protocol", [](ChatRequest& r) { r.origin = WireProtocol::anthropic; });
  vary("split text", [](ChatRequest& r) {  // the same characters in other fields
    r.system = "be brief what";
    r.messages[0].text = " is 2+2?";
  });
  for (const auto& [what, r] : variants) EXPECT_NE(key(r), k) << what;
  EXPECT_NE(response_cache_key("t", "code_review", Level::INTERNAL, base), k);
  EXPECT_NE(response_cache_key("t", "chat", Level::PUBLIC, base), k);
  EXPECT_NE(response_cache_key("u", "chat", Level::INTERNAL, base), k);
}

// Two requests differing only in an image (or a document, its name, its
// detail, its URL) never share an answer.
TEST(ResponseCacheKey, AttachmentsChangeTheKey) {
  ChatRequest base = full_request(R"({})", R"({"type":"object"})", R"({})");
  Attachment image;
  image.media_type = "image/png";
  image.data = std::string("\x89PNG\r\n\x1a\n-one", 12);
  base.messages[0].attachments = {image};
  const CacheKey k = key(base);
  EXPECT_EQ(key(base), k);
  std::vector<std::pair<std::string, ChatRequest>> variants;
  auto vary = [&](std::string what, auto change) {
    ChatRequest r = base;
    change(r.messages[0].attachments);
    variants.emplace_back(std::move(what), std::move(r));
  };
  vary("no attachment", [](std::vector<Attachment>& a) { a.clear(); });
  vary("image bytes", [](std::vector<Attachment>& a) { a[0].data.back() = 'x'; });
  vary("media type", [](std::vector<Attachment>& a) { a[0].media_type = "image/gif"; });
  vary("detail", [](std::vector<Attachment>& a) { a[0].detail = "low"; });
  vary("filename", [](std::vector<Attachment>& a) { a[0].filename = "a.png"; });
  vary("kind", [](std::vector<Attachment>& a) { a[0].kind = Attachment::Kind::document; });
  vary("url", [](std::vector<Attachment>& a) {
    a[0].data.clear();
    a[0].url = "https://example.com/a.png";
  });
  vary("a second image", [](std::vector<Attachment>& a) { a.push_back(a[0]); });
  for (const auto& [what, r] : variants) EXPECT_NE(key(r), k) << what;

  ChatRequest other_url = base;
  other_url.messages[0].attachments[0].data.clear();
  other_url.messages[0].attachments[0].url = "https://example.com/a.png";
  ChatRequest next_url = other_url;
  next_url.messages[0].attachments[0].url = "https://example.com/b.png";
  EXPECT_NE(key(other_url), key(next_url));
  // The image on another message is another request.
  ChatRequest moved = base;
  moved.messages[0].attachments.clear();
  moved.messages[2].attachments = {image};
  EXPECT_NE(key(moved), k);
}

// --- through the pipeline

class ResponseCacheGatewayTest : public PipelineTest {
 protected:
  void SetUp() override {
    PipelineTest::SetUp();
    cache_ = std::make_unique<LruResponseCache>(limits(100), metrics_);
    response_cache_ = cache_.get();
    build(Layers{});
    principal_.response_cache_ttl_s = 300;
  }

  std::size_t provider_calls() {
    std::size_t n = 0;
    for (const char* name : {"anthropic", "azure", "ollama"}) n += sim(name).requests().size();
    return n;
  }

  Result<ChatOutcome> ask(const std::string& text, std::optional<double> temperature = 0.0, bool opt_in = false,
                          bool marked_public = false) {
    CallContext context;
    context.principal = &principal_;
    context.use_response_cache = true;
    context.cache_opt_in = opt_in;
    context.marked_public = marked_public;
    ChatRequest request = auto_request(text, 64);
    request.temperature = temperature;
    auto outcome = run(gateway_->complete(context, std::move(request)));
    last_context_ = context;
    return outcome;
  }

  Result<void> ask_stream(const std::string& text, CollectingSink& sink) {
    CallContext context;
    context.principal = &principal_;
    context.use_response_cache = true;
    ChatRequest request = auto_request(text, 64);
    request.temperature = 0.0;
    request.stream = true;
    auto outcome = run(gateway_->stream(context, std::move(request), sink));
    last_context_ = context;
    return outcome;
  }

  std::unique_ptr<LruResponseCache> cache_;
};

TEST_F(ResponseCacheGatewayTest, ASecondIdenticalRequestIsAnsweredFromTheCacheAtNoCost) {
  auto first = ask("Summarise the plot of Hamlet in one line.");
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(last_context_.cache, CallContext::CacheResult::miss);
  const Money spent = ledger_->spend("payments").spent;
  const auto calls = provider_calls();
  EXPECT_GT(last_context_.cost.micros, 0);

  auto second = ask("Summarise the plot of Hamlet in one line.");
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(last_context_.cache, CallContext::CacheResult::hit);
  EXPECT_EQ(provider_calls(), calls);
  EXPECT_EQ(second->completion.text, first->completion.text);
  EXPECT_EQ(second->route.header_value(), first->route.header_value());
  EXPECT_EQ(last_context_.cost.micros, 0);
  EXPECT_EQ(ledger_->spend("payments").spent, spent);

  const auto row = audit_.last();
  EXPECT_TRUE(row.cache_hit);
  EXPECT_EQ(row.status, 200);
  EXPECT_EQ(row.provider, first->route.provider);
  EXPECT_EQ(row.model, first->route.model);
  EXPECT_EQ(row.reason, first->route.reason);
  EXPECT_EQ(row.cost.micros, 0);
  EXPECT_TRUE(row.budget_period.empty());
  EXPECT_TRUE(row.locality.empty());  // nothing was sent anywhere
  EXPECT_TRUE(row.fallback_path.empty());
  EXPECT_EQ(scraped(metrics_, R"(aegis_cache_requests_total{result="hit"})"), 1);
  EXPECT_EQ(scraped(metrics_, R"(aegis_cache_requests_total{result="miss"})"), 1);
}

TEST_F(ResponseCacheGatewayTest, OnlyTemperatureZeroOrTheOptInIsCached) {
  const auto calls = provider_calls();
  ASSERT_TRUE(ask("Name a colour.", std::nullopt).ok());
  EXPECT_EQ(last_context_.cache, CallContext::CacheResult::bypass);
  ASSERT_TRUE(ask("Name a colour.", std::nullopt).ok());
  EXPECT_EQ(last_context_.cache, CallContext::CacheResult::bypass);
  ASSERT_TRUE(ask("Name a colour.", 0.7).ok());
  EXPECT_EQ(last_context_.cache, CallContext::CacheResult::bypass);
  EXPECT_EQ(provider_calls(), calls + 3);
  EXPECT_EQ(cache_->entries(), 0U);

  ASSERT_TRUE(ask("Name a colour.", 0.7, /*opt_in=*/true).ok());
  EXPECT_EQ(last_context_.cache, CallContext::CacheResult::miss);
  ASSERT_TRUE(ask("Name a colour.", 0.7, /*opt_in=*/true).ok());
  EXPECT_EQ(last_context_.cache, CallContext::CacheResult::hit);
  EXPECT_EQ(provider_calls(), calls + 4);
  EXPECT_EQ(scraped(metrics_, R"(aegis_cache_requests_total{result="bypass"})"), 3);
}

TEST_F(ResponseCacheGatewayTest, ConfidentialAndRestrictedAreNeverStoredNorServed) {
  const std::string confidential =
      "token sk-ant-api03-u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8dKLzdocJ2isAjIhKtJ0RlgLKOmxgJTeKdNnFRIBXuDL7DxtpYlSXpfKt"
      "HFAA";
  const std::string restricted = "My SIN is " + std::string(kSin) + ", what now?";
  for (const auto& text : {confidential, restricted}) {
    const auto calls = provider_calls();
    ASSERT_TRUE(ask(text).ok());
    EXPECT_GT(last_context_.level, Level::INTERNAL) << text;
    EXPECT_EQ(last_context_.cache, CallContext::CacheResult::bypass);
    ASSERT_TRUE(ask(text).ok());
    EXPECT_EQ(last_context_.cache, CallContext::CacheResult::bypass);
    EXPECT_EQ(provider_calls(), calls + 2) << text;
    EXPECT_FALSE(audit_.last().cache_hit);
  }
  EXPECT_EQ(cache_->entries(), 0U);
}

TEST_F(ResponseCacheGatewayTest, AMaskedRequestCachesTheRestoredAnswer) {
  const std::string text = "Write to alice.martin@example.com about the release.";
  auto first = ask(text);
  ASSERT_TRUE(first.ok()) << first.error().message;
  ASSERT_GT(last_context_.masked, 0);  // the cloud saw a placeholder
  ASSERT_NE(first->completion.text.find("alice.martin@example.com"), std::string::npos) << first->completion.text;
  auto second = ask(text);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(last_context_.cache, CallContext::CacheResult::hit);
  EXPECT_EQ(second->completion.text, first->completion.text);
}

TEST_F(ResponseCacheGatewayTest, TeamsDoNotShareAnswersAndATeamWithoutTheCacheIsNotLookedUp) {
  ASSERT_TRUE(ask("What is a gateway?").ok());
  const auto calls = provider_calls();
  principal_.team = "research";
  ASSERT_TRUE(ask("What is a gateway?").ok());
  EXPECT_EQ(last_context_.cache, CallContext::CacheResult::miss);
  EXPECT_EQ(provider_calls(), calls + 1);

  principal_.response_cache_ttl_s = 0;  // turned off through the admin API
  ASSERT_TRUE(ask("What is a gateway?").ok());
  EXPECT_EQ(last_context_.cache, CallContext::CacheResult::none);
  EXPECT_EQ(provider_calls(), calls + 2);

  principal_.response_cache_ttl_s.reset();  // never set: the config decides
  config_.response_cache.teams["research"] = std::chrono::seconds(60);
  ASSERT_TRUE(ask("What is a gateway?").ok());
  EXPECT_EQ(last_context_.cache, CallContext::CacheResult::hit);
}

TEST_F(ResponseCacheGatewayTest, AnEntryExpiresWithTheTeamsTtlOnTheInjectedClock) {
  principal_.response_cache_ttl_s = 5;
  ASSERT_TRUE(ask("Tell me a fact about owls.").ok());
  clock_.advance(std::chrono::seconds(4));
  ASSERT_TRUE(ask("Tell me a fact about owls.").ok());
  EXPECT_EQ(last_context_.cache, CallContext::CacheResult::hit);
  clock_.advance(std::chrono::seconds(1));
  const auto calls = provider_calls();
  ASSERT_TRUE(ask("Tell me a fact about owls.").ok());
  EXPECT_EQ(last_context_.cache, CallContext::CacheResult::miss);
  EXPECT_EQ(provider_calls(), calls + 1);
}

TEST_F(ResponseCacheGatewayTest, AStreamIsCachedAndAHitIsReplayedAsAStream) {
  CollectingSink first;
  ASSERT_TRUE(ask_stream("Count to five.", first).ok());
  EXPECT_EQ(last_context_.cache, CallContext::CacheResult::miss);
  const auto calls = provider_calls();

  CollectingSink second;
  ASSERT_TRUE(ask_stream("Count to five.", second).ok());
  EXPECT_EQ(last_context_.cache, CallContext::CacheResult::hit);
  EXPECT_EQ(provider_calls(), calls);
  EXPECT_EQ(second.text, first.text);
  ASSERT_GE(second.events.size(), 3U);
  EXPECT_EQ(second.events.front().kind, StreamEvent::Kind::start);
  EXPECT_EQ(second.events.back().kind, StreamEvent::Kind::finish);

  // A complete request for the same thing gets the streamed answer.
  auto whole = ask("Count to five.");
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(last_context_.cache, CallContext::CacheResult::hit);
  EXPECT_EQ(whole->completion.text, first.text);
}

TEST_F(ResponseCacheGatewayTest, SurfacesThatDoNotUseTheCacheNeverMeetIt) {
  ASSERT_TRUE(ask("Hello there.").ok());
  CallContext context;  // use_response_cache false: a job, a retrieval answer
  context.principal = &principal_;
  ChatRequest request = auto_request("Hello there.", 64);
  request.temperature = 0.0;
  const auto calls = provider_calls();
  ASSERT_TRUE(run(gateway_->complete(context, std::move(request))).ok());
  EXPECT_EQ(context.cache, CallContext::CacheResult::none);
  EXPECT_EQ(provider_calls(), calls + 1);
}

}  // namespace
}  // namespace aegis::gateway::test
