// Unit tests of the provider simulator's pure parts (src/sim/sim_core.hpp):
// answers, pieces, usage, embeddings, fault plans and each protocol's shapes.
#include "sim/simulator.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <cmath>

#include "core/encoding.hpp"
#include "sim/sim_core.hpp"
#include "support/media_samples.hpp"

namespace aegis::sim::detail {
namespace {

namespace json = boost::json;

http::HttpRequest post(const std::string& path, std::string body, std::vector<http::Header> headers) {
  http::HttpRequest r;
  r.method = "POST";
  const auto q = path.find('?');
  r.target = path;
  r.path = path.substr(0, q);
  if (q != std::string::npos) r.query = path.substr(q + 1);
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

std::vector<http::Header> anthropic_headers() { return {{"x-api-key", "k"}, {"anthropic-version", "2023-06-01"}}; }
std::vector<http::Header> openai_headers() { return {{"Authorization", "Bearer k"}}; }
const Context kContext{7, 1'700'000'000'000, nullptr};

json::object parse(const std::string& text) { return json::parse(text).as_object(); }

std::vector<json::object> sse_data(const Reply& reply) {
  std::vector<json::object> out;
  for (const auto& f : reply.frames) {
    if (f.data != "[DONE]") out.push_back(parse(f.data));
  }
  return out;
}

TEST(SimText, PiecesJoinBackToTheText) {
  const std::string text = "Echo: hello  PERSON_0\nand  more ";
  auto pieces = split_pieces(text);
  std::string joined;
  for (const auto& p : pieces) joined += p;
  EXPECT_EQ(joined, text);
  ASSERT_EQ(pieces.size(), 6u);
  EXPECT_EQ(pieces[0], "Echo:");
  EXPECT_EQ(pieces[2], "  PERSON_0");
  EXPECT_EQ(pieces[5], " ");
  EXPECT_TRUE(split_pieces("").empty());
}

TEST(SimText, TokenEstimateIsCeilOfQuarterBytes) {
  EXPECT_EQ(estimate_tokens(0), 0);
  EXPECT_EQ(estimate_tokens(1), 1);
  EXPECT_EQ(estimate_tokens(4), 1);
  EXPECT_EQ(estimate_tokens(5), 2);
}

TEST(SimAnswer, EchoesCutsAtStopAndMaxTokens) {
  Conversation c;
  c.echo_text = "call PERSON_0 at EMAIL_1 today";
  c.text_bytes = 31;
  auto a = make_answer(c);
  EXPECT_EQ(a.text, "Echo: call PERSON_0 at EMAIL_1 today");
  EXPECT_EQ(a.output_tokens, 6);
  EXPECT_EQ(a.input_tokens, 8);
  EXPECT_EQ(a.stop, StopReason::end_turn);

  c.max_tokens = 3;
  a = make_answer(c);
  EXPECT_EQ(a.text, "Echo: call PERSON_0");
  EXPECT_EQ(a.stop, StopReason::max_tokens);

  c.max_tokens.reset();
  c.stop_sequences = {"EMAIL", "today"};
  a = make_answer(c);
  EXPECT_EQ(a.text, "Echo: call PERSON_0 at ");
  EXPECT_EQ(a.stop, StopReason::stop_sequence);
  EXPECT_EQ(a.stop_sequence, "EMAIL");
}

TEST(SimAnswer, ToolCallOnlyForUserTextAskingForIt) {
  Conversation c;
  c.echo_text = "please Use Tool now";
  c.user_text_last = true;
  c.tool_names = {"get_weather", "other"};
  auto a = make_answer(c);
  EXPECT_TRUE(a.tool_call);
  EXPECT_EQ(a.tool_name, "get_weather");
  EXPECT_EQ(a.stop, StopReason::tool_use);
  c.user_text_last = false;  // e.g. the last turn is a tool result
  EXPECT_FALSE(make_answer(c).tool_call);
  c.user_text_last = true;
  c.tools_allowed = false;
  EXPECT_FALSE(make_answer(c).tool_call);
}

TEST(SimEmbeddings, DeterministicUnitLengthAndWordSensitive) {
  auto a = embed_text("the quick brown fox", 768);
  auto b = embed_text("the quick brown fox", 768);
  auto c = embed_text("quick brown fox jumps", 768);
  auto d = embed_text("entirely unrelated sentence here", 768);
  ASSERT_EQ(a.size(), 768u);
  EXPECT_EQ(a, b);
  double norm = 0, ac = 0, ad = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    norm += a[i] * a[i];
    ac += a[i] * c[i];
    ad += a[i] * d[i];
  }
  EXPECT_NEAR(norm, 1.0, 1e-5);
  EXPECT_GT(ac, ad + 0.3);
  EXPECT_EQ(embed_text("", 16).size(), 16u);
}

TEST(SimFaults, CountThenClears) {
  FaultPlan plan;
  ASSERT_TRUE(plan.set("status_429", 2, std::nullopt).ok());
  EXPECT_EQ(plan.next(), FaultMode::status_429);
  EXPECT_EQ(plan.next(), FaultMode::status_429);
  EXPECT_EQ(plan.next(), FaultMode::none);
  EXPECT_EQ(plan.mode(), FaultMode::none);
}

TEST(SimFaults, RateIsRepeatableForASeed) {
  FaultPlan plan;
  ASSERT_TRUE(plan.set("reset", std::nullopt, 0.5).ok());
  std::vector<FaultMode> first, second;
  for (int i = 0; i < 200; ++i) first.push_back(plan.next());
  ASSERT_TRUE(plan.set("reset", std::nullopt, 0.5).ok());
  for (int i = 0; i < 200; ++i) second.push_back(plan.next());
  EXPECT_EQ(first, second);
  const auto hits = std::count(first.begin(), first.end(), FaultMode::reset);
  EXPECT_GT(hits, 60);
  EXPECT_LT(hits, 140);
  ASSERT_TRUE(plan.set("hang", std::nullopt, 0.0).ok());
  for (int i = 0; i < 50; ++i) EXPECT_EQ(plan.next(), FaultMode::none);
  ASSERT_TRUE(plan.set("hang", std::nullopt, 1.0).ok());
  for (int i = 0; i < 50; ++i) EXPECT_EQ(plan.next(), FaultMode::hang);
}

TEST(SimFaults, RejectsBadSettings) {
  FaultPlan plan;
  EXPECT_FALSE(plan.set("explode", 1, std::nullopt).ok());
  EXPECT_FALSE(plan.set("reset", 1, 0.5).ok());
  EXPECT_FALSE(plan.set("reset", std::nullopt, std::nullopt).ok());
  EXPECT_FALSE(plan.set("reset", std::nullopt, 1.5).ok());
  EXPECT_FALSE(plan.set("reset", -1, std::nullopt).ok());
  EXPECT_TRUE(plan.set("none", std::nullopt, std::nullopt).ok());
}

TEST(SimAnthropic, NonStreamMessage) {
  auto reply = handle_provider_request(
      post(
          "/v1/messages",
          R"({"model":"claude-x","max_tokens":100,"system":"be brief","messages":[{"role":"user","content":"hi PERSON_0"}]})",
          anthropic_headers()),
      kContext);
  ASSERT_EQ(reply.status, 200) << reply.body;
  auto body = parse(reply.body);
  EXPECT_EQ(body.at("type"), "message");
  EXPECT_EQ(body.at("model"), "claude-x");
  EXPECT_EQ(body.at("content").as_array()[0].as_object().at("text"), "Echo: hi PERSON_0");
  EXPECT_EQ(body.at("stop_reason"), "end_turn");
  EXPECT_EQ(body.at("usage").as_object().at("input_tokens").as_int64(), estimate_tokens(8 + 11));
  EXPECT_EQ(body.at("usage").as_object().at("output_tokens").as_int64(), 3);
}

// The prompt cache (sim_core.hpp): Anthropic writes the prefix through each
// cache_control breakpoint and reads it on the next request with the same
// prefix; without a cache in the context nothing is cached.
TEST(SimAnthropic, PromptCacheWritesThenReadsThePrefixThroughEachBreakpoint) {
  const std::string doc(400, 'a');  // 100 tokens
  auto body = [&](const std::string& question) {
    return R"({"model":"claude-x","max_tokens":10,"system":[{"type":"text","text":")" + doc +
           R"(","cache_control":{"type":"ephemeral","ttl":"1h"}}],"messages":[{"role":"user","content":")" + question +
           R"("}]})";
  };
  PromptCache cache;
  const Context context{7, 1'700'000'000'000, &cache};
  auto usage = [&](const std::string& question, const Context& ctx) {
    auto reply = handle_provider_request(post("/v1/messages", body(question), anthropic_headers()), ctx);
    EXPECT_EQ(reply.status, 200) << reply.body;
    return parse(reply.body).at("usage").as_object();
  };
  auto first = usage("q one", context);  // 405 bytes: 102 tokens
  EXPECT_EQ(first.at("cache_creation_input_tokens").as_int64(), 100);
  EXPECT_EQ(first.at("cache_read_input_tokens").as_int64(), 0);
  EXPECT_EQ(first.at("input_tokens").as_int64(), 2);
  EXPECT_EQ(first.at("cache_creation").at("ephemeral_1h_input_tokens").as_int64(), 100);
  auto second = usage("question two", context);  // 412 bytes: 103 tokens
  EXPECT_EQ(second.at("cache_read_input_tokens").as_int64(), 100);
  EXPECT_EQ(second.at("cache_creation_input_tokens").as_int64(), 0);
  EXPECT_EQ(second.at("input_tokens").as_int64(), 3);
  auto uncached = usage("question two", kContext);
  EXPECT_EQ(uncached.at("cache_read_input_tokens").as_int64() + uncached.at("cache_creation_input_tokens").as_int64(),
            0);
  EXPECT_EQ(uncached.at("input_tokens").as_int64(), 103);
}

TEST(SimOpenAi, PromptCacheReadsLongPrefixesInSteps) {
  const std::string system(4200, 's');  // 1050 tokens: cached as 1024
  auto request = [&](const std::string& question) {
    return post("/v1/chat/completions",
                R"({"model":"gpt-x","messages":[{"role":"system","content":")" + system +
                    R"("},{"role":"user","content":")" + question + R"("}]})",
                openai_headers());
  };
  PromptCache cache;
  const Context context{7, 1'700'000'000'000, &cache};
  auto cached = [&](const std::string& question) {
    auto reply = handle_provider_request(request(question), context);
    EXPECT_EQ(reply.status, 200) << reply.body;
    return parse(reply.body).at("usage").at("prompt_tokens_details").at("cached_tokens").as_int64();
  };
  EXPECT_EQ(cached("first"), 0);      // nothing seen yet
  EXPECT_EQ(cached("second"), 1024);  // the system message's 1050 tokens, in 128-token steps
  const std::string short_system =
      R"({"model":"gpt-x","messages":[{"role":"system","content":"short"},{"role":"user","content":"a"}]})";
  for (int i = 0; i < 2; ++i) {
    auto reply = handle_provider_request(post("/v1/chat/completions", short_system, openai_headers()), context);
    EXPECT_EQ(parse(reply.body).at("usage").at("prompt_tokens_details").at("cached_tokens").as_int64(), 0);
  }
}

TEST(SimAnthropic, StreamEventOrder) {
  auto reply = handle_provider_request(
      post(
          "/v1/messages",
          R"({"model":"m","max_tokens":2,"stream":true,"messages":[{"role":"user","content":[{"type":"text","text":"a b c"}]}]})",
          anthropic_headers()),
      kContext);
  ASSERT_TRUE(reply.streaming);
  std::vector<std::string> events;
  for (const auto& f : reply.frames) events.push_back(f.event);
  EXPECT_EQ(events,
            (std::vector<std::string>{"message_start", "content_block_start", "ping", "content_block_delta",
                                      "content_block_delta", "content_block_stop", "message_delta", "message_stop"}));
  auto data = sse_data(reply);
  EXPECT_EQ(data[6].at("delta").as_object().at("stop_reason"), "max_tokens");
  EXPECT_EQ(data[6].at("usage").as_object().at("output_tokens").as_int64(), 2);
  for (std::size_t i = 0; i < data.size(); ++i) EXPECT_EQ(data[i].at("type").as_string(), events[i]);
}

TEST(SimAnthropic, RejectsLikeTheRealApi) {
  auto missing_key =
      handle_provider_request(post("/v1/messages", "{}", {{"anthropic-version", "2023-06-01"}}), kContext);
  EXPECT_EQ(missing_key.status, 401);
  EXPECT_EQ(parse(missing_key.body).at("error").as_object().at("type"), "authentication_error");
  auto missing_version = handle_provider_request(post("/v1/messages", "{}", {{"x-api-key", "k"}}), kContext);
  EXPECT_EQ(missing_version.status, 400);
  auto no_max = handle_provider_request(
      post("/v1/messages", R"({"model":"m","messages":[{"role":"user","content":"x"}]})", anthropic_headers()),
      kContext);
  EXPECT_EQ(no_max.status, 400);
  EXPECT_EQ(parse(no_max.body).at("type"), "error");
  EXPECT_NE(parse(no_max.body).at("error").as_object().at("message").as_string().find("max_tokens"),
            json::string::npos);
  auto malformed = handle_provider_request(post("/v1/messages", "{not json", anthropic_headers()), kContext);
  EXPECT_EQ(malformed.status, 400);
  auto extra = handle_provider_request(
      post("/v1/messages", R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}],"n":2})",
           anthropic_headers()),
      kContext);
  EXPECT_EQ(extra.status, 400);
}

TEST(SimOpenAi, StreamWithUsageEndsWithDone) {
  auto reply = handle_provider_request(
      post(
          "/v1/chat/completions",
          R"({"model":"gpt","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"one two"}]})",
          openai_headers()),
      kContext);
  ASSERT_TRUE(reply.streaming);
  EXPECT_EQ(reply.frames.back().data, "[DONE]");
  auto data = sse_data(reply);
  auto usage_chunk = data.back();
  EXPECT_TRUE(usage_chunk.at("choices").as_array().empty());
  EXPECT_EQ(usage_chunk.at("usage").as_object().at("completion_tokens").as_int64(), 3);
  std::string text;
  for (std::size_t i = 0; i + 1 < data.size(); ++i) {
    EXPECT_TRUE(data[i].at("usage").is_null());
    auto& delta = data[i].at("choices").as_array()[0].as_object().at("delta").as_object();
    if (auto* c = delta.if_contains("content")) text += c->as_string();
  }
  EXPECT_EQ(text, "Echo: one two");
}

TEST(SimAzure, NeedsApiVersionAndUsesTheDeployment) {
  auto no_version = handle_provider_request(post("/openai/deployments/gpt4o/chat/completions",
                                                 R"({"messages":[{"role":"user","content":"x"}]})", {{"api-key", "k"}}),
                                            kContext);
  EXPECT_EQ(no_version.status, 404);
  auto ok = handle_provider_request(post("/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21",
                                         R"({"messages":[{"role":"user","content":"x"}]})", {{"api-key", "k"}}),
                                    kContext);
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(parse(ok.body).at("model"), "gpt4o");
}

TEST(SimOllama, StreamsNdjsonByDefault) {
  auto reply = handle_provider_request(
      post("/api/chat", R"({"model":"llama3.2","messages":[{"role":"user","content":"x y"}]})", {}), kContext);
  ASSERT_TRUE(reply.streaming);
  EXPECT_EQ(reply.format, StreamFormat::ndjson);
  auto last = parse(reply.frames.back().data);
  EXPECT_TRUE(last.at("done").as_bool());
  EXPECT_EQ(last.at("eval_count").as_int64(), 3);
  EXPECT_EQ(serialize_frame(reply.frames[0], StreamFormat::ndjson).back(), '\n');
}

TEST(SimOllama, EmbedHas768Dimensions) {
  auto reply = handle_provider_request(post("/api/embed", R"({"model":"nomic","input":["a","b"]})", {}), kContext);
  ASSERT_EQ(reply.status, 200);
  auto body = parse(reply.body);
  ASSERT_EQ(body.at("embeddings").as_array().size(), 2u);
  EXPECT_EQ(body.at("embeddings").as_array()[0].as_array().size(), 768u);
}

TEST(SimFrames, CorruptFrameIsNotJson) {
  Frame f{"content_block_delta", R"({"type":"content_block_delta","index":0})", true};
  const std::string broken = corrupt_frame(f, StreamFormat::sse);
  const auto start = broken.find("data: ") + 6;
  const auto end = broken.find('\n', start);
  boost::system::error_code ec;
  json::parse(broken.substr(start, end - start), ec);
  EXPECT_TRUE(ec);
}

TEST(SimRequests, JsonLowercasesAndJoinsHeaders) {
  RecordedRequest r{"POST", "/v1/messages", "a=1", {{"X-Trace", "t1"}, {"Accept", "a"}, {"accept", "b"}}, "{}", 0};
  auto o = request_to_json(r);
  const auto& headers = o.at("headers").as_object();
  EXPECT_EQ(headers.at("x-trace"), "t1");
  EXPECT_EQ(headers.at("accept"), "a, b");
  EXPECT_EQ(o.at("time"), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(o.at("query"), "a=1");
}

TEST(Simulator, StartsAndStopsOnPortZero) {
  boost::asio::io_context io;
  Simulator sim(io, SimOptions{});
  EXPECT_NE(sim.start(), 0);
  EXPECT_TRUE(sim.set_fault("status_500", 1, std::nullopt).ok());
  EXPECT_FALSE(sim.set_fault("bogus", 1, std::nullopt).ok());
  EXPECT_EQ(sim.fault().mode, "status_500");
  bool stopped = false;
  sim.stop([&] { stopped = true; });
  io.run_for(std::chrono::seconds(5));
  EXPECT_TRUE(stopped);
}

// ---- images and PDF documents: accepted where the real APIs accept them,
// refused with their errors where they do not, and counted as input tokens
// at a flat rate each.

using namespace std::string_literals;
using test::kJpeg, test::kPdf, test::kPng, test::kWebp;

Reply anthropic(const std::string& content) {
  return handle_provider_request(
      post("/v1/messages",
           R"({"model":"claude-x","max_tokens":100,"messages":[{"role":"user","content":)" + content + "}]}",
           {{"x-api-key", "k"}, {"anthropic-version", "2023-06-01"}}),
      kContext);
}

Reply openai(const std::string& content) {
  return handle_provider_request(
      post("/v1/chat/completions", R"({"model":"gpt","messages":[{"role":"user","content":)" + content + "}]}",
           {{"Authorization", "Bearer k"}}),
      kContext);
}

Reply ollama(const std::string& images) {
  return handle_provider_request(
      post("/api/chat",
           R"({"model":"llava","stream":false,"messages":[{"role":"user","content":"what","images":)" + images + "}]}",
           {}),
      kContext);
}

std::string error_message(const Reply& reply) {
  const auto body = json::parse(reply.body);
  const auto& error = body.at("error");
  return error.is_string() ? std::string(error.as_string()) : std::string(error.at("message").as_string());
}

std::string image(const std::string& media_type, std::string_view bytes) {
  return R"({"type":"image","source":{"type":"base64","media_type":")" + media_type + R"(","data":")" +
         base64_encode(bytes) + R"("}})";
}

TEST(SimMedia, FileSignatures) {
  EXPECT_EQ(file_signature(kPng), "image/png");
  EXPECT_EQ(file_signature(kJpeg), "image/jpeg");
  EXPECT_EQ(file_signature(kWebp), "image/webp");
  EXPECT_EQ(file_signature("GIF87a.."), "image/gif");
  EXPECT_EQ(file_signature(kPdf), "application/pdf");
  EXPECT_EQ(file_signature("RIFF\x24\0\0\0WAVE"s), "");
  EXPECT_EQ(file_signature("hello"), "");
}

TEST(SimMedia, AnthropicCountsImagesAndDocuments) {
  auto reply = anthropic("[" + image("image/png", kPng) +
                         R"(,{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":")" +
                         base64_encode(kPdf) +
                         R"("},"title":"t"},{"type":"image","source":{"type":"url","url":"https://x/a.png"}},)"
                         R"({"type":"text","text":"hi"}])");
  ASSERT_EQ(reply.status, 200) << reply.body;
  const auto body = json::parse(reply.body);
  EXPECT_EQ(body.at("content").at(0).at("text"), "Echo: hi");
  EXPECT_EQ(body.at("usage").at("input_tokens").as_int64(), estimate_tokens(2) + 2 * kImageTokens + kDocumentTokens);
}

TEST(SimMedia, AnthropicValidatesLikeTheRealApi) {
  const std::pair<std::string, std::string> cases[] = {
      {"[" + image("image/bmp", kPng) + "]",
       "messages.0.content.0.image.source.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' "
       "or 'image/webp'"},
      {"[" + image("image/jpeg", kPng) + "]",
       "messages.0.content.0.image.source.base64.data: The image was specified using the image/jpeg media type, but "
       "the image appears to be a image/png image"},
      {"[" + image("image/png", "not an image") + "]",
       "messages.0.content.0.image.source.base64.data: Could not process image"},
      {R"([{"type":"image","source":{"type":"base64","media_type":"image/png","data":"@@"}}])",
       "messages.0.content.0.image.source.base64.data: invalid base64 data"},
      {R"([{"type":"image"}])", "messages.0.content.0.image.source: Field required"},
      {R"([{"type":"image","source":{"type":"svg"}}])",
       "messages.0.content.0.image.source: Input tag 'svg' found using 'type' does not match any of the expected "
       "tags: 'base64', 'url', 'file'"},
      {R"([{"type":"document","source":{"type":"base64","media_type":"image/png","data":"AAAA"}}])",
       "messages.0.content.0.document.source.base64.media_type: Input should be 'application/pdf'"},
      {R"([{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":")" +
           base64_encode(kPng) + R"("}}])",
       "messages.0.content.0.document.source.base64.data: The PDF specified was not valid."},
  };
  for (const auto& [content, expected] : cases) {
    auto reply = anthropic(content);
    EXPECT_EQ(reply.status, 400) << content;
    EXPECT_EQ(error_message(reply), expected) << content;
  }
  auto in_system = handle_provider_request(post("/v1/messages",
                                                R"({"model":"c","max_tokens":5,"system":[)" + image("image/png", kPng) +
                                                    R"(],"messages":[{"role":"user","content":"x"}]})",
                                                {{"x-api-key", "k"}, {"anthropic-version", "2023-06-01"}}),
                                           kContext);
  EXPECT_EQ(in_system.status, 400);
  EXPECT_EQ(error_message(in_system), "system.0.type: Input should be 'text'");
}

TEST(SimMedia, OpenAiCountsImagePartsByDetailAndFiles) {
  const std::string png = "data:image/png;base64," + base64_encode(kPng);
  auto reply = openai(R"([{"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":")" + png +
                      R"(","detail":"low"}},{"type":"image_url","image_url":{"url":"https://x/a.jpg"}},)"
                      R"({"type":"file","file":{"filename":"a.pdf","file_data":"data:application/pdf;base64,)" +
                      base64_encode(kPdf) + R"("}}])");
  ASSERT_EQ(reply.status, 200) << reply.body;
  const auto body = json::parse(reply.body);
  EXPECT_EQ(body.at("usage").at("prompt_tokens").as_int64(),
            estimate_tokens(2) + kLowDetailImageTokens + kImageTokens + kDocumentTokens);
  EXPECT_EQ(body.at("choices").at(0).at("message").at("content"), "Echo: hi");

  // Azure reads the same parts.
  auto azure = handle_provider_request(
      post("/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21",
           R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":")" + png + R"("}}]}]})",
           {{"api-key", "k"}}),
      kContext);
  ASSERT_EQ(azure.status, 200) << azure.body;
  EXPECT_EQ(json::parse(azure.body).at("usage").at("prompt_tokens").as_int64(), kImageTokens);
}

TEST(SimMedia, OpenAiRefusesBadImagesAndFiles) {
  const std::pair<std::string, std::string> cases[] = {
      {R"([{"type":"image_url","image_url":{"url":"data:image/png;base64,)" + base64_encode("text") + R"("}}])",
       "You uploaded an unsupported image. Please make sure your image has of one the following formats: ['png', "
       "'jpeg', 'gif', 'webp']."},
      {R"([{"type":"image_url","image_url":{"url":"nonsense"}}])",
       "Invalid 'image_url'. Expected a base64-encoded data URL with an image MIME type (e.g. "
       "'data:image/png;base64,aW1nIGJ5dGVzIGhlcmU='), but got an invalid value."},
      {R"([{"type":"image_url","image_url":{"url":"https://x/a.png","detail":"max"}}])",
       "Invalid value: 'max'. Supported values are: 'auto', 'low', and 'high'."},
      {R"([{"type":"image_url"}])", "Missing required parameter: 'messages[0].content[0].image_url.url'."},
      {R"([{"type":"file","file":{"file_data":"data:application/pdf;base64,)" + base64_encode(kPdf) + R"("}}])",
       "Missing required parameter: 'messages[0].content[0].file.file_id'."},
      {R"([{"type":"file","file":{"filename":"a.pdf","file_data":"data:application/pdf;base64,)" + base64_encode(kPng) +
           R"("}}])",
       "Invalid file data: 'messages[0].content[0].file.file_data'. Expected a base64-encoded PDF."},
  };
  for (const auto& [content, expected] : cases) {
    auto reply = openai(content);
    EXPECT_EQ(reply.status, 400) << content;
    EXPECT_EQ(error_message(reply), expected) << content;
  }
}

TEST(SimMedia, OllamaCountsImagesAndRefusesOthers) {
  auto reply = ollama(R"([")" + base64_encode(kJpeg) + R"(",")" + base64_encode(kWebp) + R"("])");
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(json::parse(reply.body).at("prompt_eval_count").as_int64(), estimate_tokens(4) + 2 * kImageTokens);

  auto pdf = ollama(R"([")" + base64_encode(kPdf) + R"("])");
  EXPECT_EQ(pdf.status, 400);
  EXPECT_EQ(error_message(pdf), "image: unknown format");
  auto bad = ollama(R"(["%%"])");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(error_message(bad), "illegal base64 data in Message.messages.images");
}

}  // namespace
}  // namespace aegis::sim::detail
