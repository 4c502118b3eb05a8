// The exact response cache's hit path (target: <= 50 us added per hit): the
// key of a typical chat request (a system prompt, a short conversation, about
// 2 KB of text), the lookup in a cache holding 10,000 answers, and the hit's
// response (the OpenAI body of a 1 KB answer, serialised, with the governance
// headers). Run with repetitions and read the median:
//   build/aegis_bench --benchmark_filter=BM_ResponseCache --benchmark_repetitions=10
//                     --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <chrono>
#include <memory>
#include <string>

#include "api/chat_stream.hpp"
#include "gateway/cache_key.hpp"
#include "gateway/lru_response_cache.hpp"
#include "http/json_response.hpp"
#include "telemetry/metrics.hpp"
#include "wire/openai.hpp"

namespace {

using namespace aegis;

ChatRequest typical_request(int variant) {
  ChatRequest r;
  r.model = "auto";
  r.temperature = 0.0;
  r.max_tokens = 512;
  r.system =
      "You are a concise assistant for the platform team. Answer in plain English, cite the runbook section "
      "when one applies, and never invent configuration keys.";
  const std::string turn =
      "Our deploy pipeline retries a failed canary twice before rolling back; the second retry waits 90 seconds. "
      "Yesterday the rollback started while the first retry was still draining connections. ";
  for (int i = 0; i < 3; ++i) {
    Message user;
    user.role = Role::user;
    user.text = turn + turn + "Question " + std::to_string(i) + ": what should the drain timeout be?";
    r.messages.push_back(user);
    Message assistant;
    assistant.role = Role::assistant;
    assistant.text = "Set the drain timeout below the retry wait, for example 60 seconds, so a retry never overlaps.";
    r.messages.push_back(assistant);
  }
  r.messages.back().text += " (variant " + std::to_string(variant) + ")";
  return r;
}

std::shared_ptr<const gateway::CachedAnswer> answer(int i) {
  auto a = std::make_shared<gateway::CachedAnswer>();
  a->completion.id = "msg_" + std::to_string(i);
  a->completion.model = "claude-sonnet-4-5";
  a->completion.provider = "anthropic";
  a->completion.text = std::string(1024, 'a');
  a->completion.usage = Usage{600, 256};
  a->route =
      gateway::Route{Tier::sonnet, "anthropic", "claude-sonnet-4-5",
                     "task 'chat' -> tier sonnet; INTERNAL data may go to cloud providers", config::Locality::cloud};
  return a;
}

struct Filled {
  Filled() : cache(gateway::LruResponseCache::Limits{20'000, std::size_t{1} << 30}, metrics) {
    const auto now = std::chrono::steady_clock::now();
    for (int i = 0; i < 10'000; ++i) {
      cache.store(gateway::response_cache_key("bench", "chat", Level::INTERNAL, typical_request(i)), "bench", answer(i),
                  now);
    }
  }
  telemetry::Registry metrics;
  gateway::LruResponseCache cache;
};

Filled& filled() {
  static Filled f;
  return f;
}

// Key, lookup and the hit's response: what a hit costs the gateway beyond
// the classification and routing that every request pays.
void BM_ResponseCacheHit(benchmark::State& state) {
  auto& f = filled();
  const ChatRequest request = typical_request(4242);
  gateway::CallContext context;
  context.level = Level::INTERNAL;
  context.cache = gateway::CallContext::CacheResult::hit;
  for (auto _ : state) {
    (void)_;
    const auto key = gateway::response_cache_key("bench", "chat", Level::INTERNAL, request);
    auto hit = f.cache.lookup(key, "bench", std::chrono::steady_clock::now(), std::chrono::seconds(300));
    if (!hit) {
      state.SkipWithError("miss");
      break;
    }
    Completion completion = hit->completion;
    context.route = hit->route;
    auto response = http::json_response(200, wire::openai::write_chat_response(completion, 1'700'000'000));
    api::add_governance_headers(response, context);
    benchmark::DoNotOptimize(response);
  }
}
BENCHMARK(BM_ResponseCacheHit);

void BM_ResponseCacheKey(benchmark::State& state) {
  const ChatRequest request = typical_request(4242);
  for (auto _ : state) {
    (void)_;
    benchmark::DoNotOptimize(gateway::response_cache_key("bench", "chat", Level::INTERNAL, request));
  }
}
BENCHMARK(BM_ResponseCacheKey);

// The lookup alone, from several threads at once: the one lock shared by the I/O threads.
void BM_ResponseCacheLookupContended(benchmark::State& state) {
  auto& f = filled();
  const auto key = gateway::response_cache_key("bench", "chat", Level::INTERNAL, typical_request(state.thread_index()));
  for (auto _ : state) {
    (void)_;
    benchmark::DoNotOptimize(f.cache.lookup(key, "bench", std::chrono::steady_clock::now(), std::chrono::seconds(300)));
  }
}
BENCHMARK(BM_ResponseCacheLookupContended)->Threads(1)->Threads(2)->Threads(4);

}  // namespace
