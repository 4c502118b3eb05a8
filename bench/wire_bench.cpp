// The JSON work one chat request does outside the pipeline: parse the client's
// body and decode it, and parse and decode the provider's answer. Each is
// measured with Boost.JSON's default heap storage and with a per-request
// arena (a monotonic resource over a stack buffer, the std::pmr pattern), to
// decide whether an arena on the request path pays for itself.
#include <benchmark/benchmark.h>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>

#include <array>
#include <string>

#include "wire/openai.hpp"

namespace {

using namespace aegis;

std::string chat_body(std::size_t content_bytes) {
  std::string content(content_bytes, 'x');
  for (std::size_t i = 7; i < content.size(); i += 8) content[i] = ' ';
  return R"({"model":"auto","messages":[{"role":"system","content":"You are terse."},)"
         R"({"role":"user","content":")" +
         content + R"("}],"max_tokens":64,"temperature":0.2})";
}

constexpr std::string_view kAnswer =
    R"({"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"sim-fast",)"
    R"("choices":[{"index":0,"message":{"role":"assistant","content":"Echo: a short answer of a few words"},)"
    R"("finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":9,"total_tokens":21}})";

void parse_request(benchmark::State& state, bool arena) {
  const std::string body = chat_body(static_cast<std::size_t>(state.range(0)));
  std::array<unsigned char, 8192> buffer{};
  while (state.KeepRunning()) {
    boost::json::monotonic_resource resource(buffer.data(), buffer.size());
    boost::json::storage_ptr storage = arena ? boost::json::storage_ptr(&resource) : boost::json::storage_ptr();
    boost::system::error_code ec;
    boost::json::value value = boost::json::parse(body, ec, storage);
    auto chat = wire::openai::parse_chat_request(value);
    benchmark::DoNotOptimize(chat);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}

void BM_ParseChatRequestHeap(benchmark::State& state) { parse_request(state, false); }
void BM_ParseChatRequestArena(benchmark::State& state) { parse_request(state, true); }
BENCHMARK(BM_ParseChatRequestHeap)->Arg(64)->Arg(4096);
BENCHMARK(BM_ParseChatRequestArena)->Arg(64)->Arg(4096);

void parse_answer(benchmark::State& state, bool arena) {
  std::array<unsigned char, 4096> buffer{};
  while (state.KeepRunning()) {
    boost::json::monotonic_resource resource(buffer.data(), buffer.size());
    boost::json::storage_ptr storage = arena ? boost::json::storage_ptr(&resource) : boost::json::storage_ptr();
    boost::system::error_code ec;
    boost::json::value value = boost::json::parse(kAnswer, ec, storage);
    auto completion = wire::openai::parse_chat_response(value);
    benchmark::DoNotOptimize(completion);
  }
}

void BM_ParseChatAnswerHeap(benchmark::State& state) { parse_answer(state, false); }
void BM_ParseChatAnswerArena(benchmark::State& state) { parse_answer(state, true); }
BENCHMARK(BM_ParseChatAnswerHeap);
BENCHMARK(BM_ParseChatAnswerArena);

}  // namespace
