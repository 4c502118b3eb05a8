// The provider adapters (src/providers/: anthropic, azure_openai,
// openai_compat, ollama) end to end against the in-process provider
// simulator (src/sim/simulator.hpp) through the real outbound client.
//
// Every adapter is created the way the gateway creates it
// (ProviderFactory::builtin()), with a client that records each outbound
// request (the simulator strips credential headers from its own log, so the
// exact credential header the adapter sends is checked on that recording;
// the simulator's log is used for path, query, body and the other headers,
// and the simulator's own credential checks prove the header is accepted).
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "app/provider_types.hpp"
#include "config/config.hpp"
#include "core/chat.hpp"
#include "core/result.hpp"
#include "http/client.hpp"
#include "providers/factory.hpp"
#include "providers/provider.hpp"
#include "sim/simulator.hpp"

namespace aegis::providers {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

// ---------------------------------------------------------------- helpers

// Forwards to the real client and keeps a copy of every request it was given.
class RecordingClient final : public http::HttpClient {
 public:
  explicit RecordingClient(std::unique_ptr<http::HttpClient> inner) : inner_(std::move(inner)) {}

  asio::awaitable<Result<http::ClientResponse>> send(const http::ClientRequest& request) override {
    record(request);
    co_return co_await inner_->send(request);
  }
  asio::awaitable<Result<void>> stream(const http::ClientRequest& request, http::BodySink& sink) override {
    record(request);
    co_return co_await inner_->stream(request, sink);
  }

  std::vector<http::ClientRequest> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  void clear() {
    std::lock_guard lock(mutex_);
    requests_.clear();
  }

 private:
  void record(const http::ClientRequest& request) {
    std::lock_guard lock(mutex_);
    requests_.push_back(request);
  }

  std::unique_ptr<http::HttpClient> inner_;
  mutable std::mutex mutex_;
  std::vector<http::ClientRequest> requests_;
};

// Records every event; optionally stops (returns false) after N text events.
class RecordingSink final : public DeltaSink {
 public:
  explicit RecordingSink(std::size_t stop_after_texts = 0) : stop_after_texts_(stop_after_texts) {}

  asio::awaitable<bool> on_event(const StreamEvent& event) override {
    events.push_back(event);
    if (event.kind == StreamEvent::Kind::text && stop_after_texts_ != 0 && ++texts_ >= stop_after_texts_) {
      co_return false;
    }
    co_return true;
  }

  std::size_t count(StreamEvent::Kind kind) const {
    std::size_t n = 0;
    for (const auto& e : events) n += e.kind == kind ? 1 : 0;
    return n;
  }
  std::string text() const {
    std::string out;
    for (const auto& e : events) {
      if (e.kind == StreamEvent::Kind::text) out += e.text;
    }
    return out;
  }
  std::string tool_arguments(std::size_t index) const {
    std::string out;
    for (const auto& e : events) {
      if (e.kind == StreamEvent::Kind::tool_call_delta && e.index == index) out += e.text;
    }
    return out;
  }
  const StreamEvent* first(StreamEvent::Kind kind) const {
    for (const auto& e : events) {
      if (e.kind == kind) return &e;
    }
    return nullptr;
  }

  std::vector<StreamEvent> events;

 private:
  std::size_t stop_after_texts_;
  std::size_t texts_ = 0;
};

std::optional<std::string> header(const std::vector<http::Header>& headers, std::string_view name) {
  for (const auto& h : headers) {
    if (http::iequals(h.name, name)) return h.value;
  }
  return std::nullopt;
}

std::size_t header_count(const std::vector<http::Header>& headers, std::string_view name) {
  std::size_t n = 0;
  for (const auto& h : headers) n += http::iequals(h.name, name) ? 1 : 0;
  return n;
}

json::object parse_object(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    ADD_FAILURE() << "not a JSON object: " << text;
    return {};
  }
  return std::move(v.as_object());
}

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// A port that refuses connections while this lives: bound, so no other
// process can take it in the meantime (a port closed after picking it could
// be reused by a parallel test), but not listening.
class RefusingPort {
 public:
  RefusingPort() : socket_(io_) {
    socket_.open(asio::ip::tcp::v4());
    socket_.bind({asio::ip::make_address("127.0.0.1"), 0});
  }
  std::uint16_t port() const { return socket_.local_endpoint().port(); }

 private:
  asio::io_context io_;
  asio::ip::tcp::socket socket_;
};

template <class T>
asio::awaitable<void> deliver_into(asio::awaitable<T> op, std::shared_ptr<std::optional<T>> out) {
  out->emplace(co_await std::move(op));
}

// A coroutine started on the io_context; get() waits for its result.
template <class T>
class Pending {
 public:
  Pending(asio::io_context& io, asio::awaitable<T> op) : out_(std::make_shared<std::optional<T>>()) {
    done_ = asio::co_spawn(io, deliver_into<T>(std::move(op), out_), asio::use_future);
  }
  T get(std::chrono::seconds limit = 10s) {
    if (done_.wait_for(limit) != std::future_status::ready) {
      ADD_FAILURE() << "operation did not finish within " << limit.count() << " s";
      std::abort();  // the io threads still reference this test's objects
    }
    done_.get();  // rethrows
    return std::move(**out_);
  }

 private:
  std::shared_ptr<std::optional<T>> out_;
  std::future<void> done_;
};

// ------------------------------------------------------------- the cases

constexpr std::string_view kSystem = "You are terse.";               // 14 bytes
constexpr std::string_view kUserText = "hello PERSON_0 from Aegis";  // 25 bytes
constexpr std::string_view kAnswer = "Echo: hello PERSON_0 from Aegis";
constexpr std::int64_t kInputTokens = (14 + 25 + 3) / 4;  // the simulator's ceil(bytes / 4)
constexpr std::int64_t kOutputTokens = 5;                 // "Echo:" " hello" " PERSON_0" " from" " Aegis"

struct AdapterCase {
  std::string label;
  std::string type;
  std::string model;        // model id, or the Azure deployment
  std::string embed_model;  // "" when the protocol has no embeddings
  std::string api_key;
  std::string chat_path;  // what the simulator must see
  std::string embed_path;
  std::string health_path;
  std::string query;        // "api-version=..." for Azure
  std::string auth_header;  // the credential header the protocol uses
  std::string auth_value;
  std::size_t embed_dims = 0;
  WireProtocol protocol = WireProtocol::openai;
  bool sse = true;                                         // SSE (accept: text/event-stream) or NDJSON
  std::string id_prefix;                                   // completion id
  std::string tool_id_prefix;                              // tool-call id
  StopReason stop_sequence_reason = StopReason::end_turn;  // what a hit stop sequence reports
};

// gtest names the failing case by its label instead of dumping its bytes.
void PrintTo(const AdapterCase& c, std::ostream* os) { *os << c.label; }

constexpr std::string_view kAzureVersion = "2024-10-21";

std::vector<AdapterCase> adapter_cases() {
  std::vector<AdapterCase> cases;
  {
    AdapterCase c;
    c.label = "anthropic";
    c.type = "anthropic";
    c.model = "claude-sonnet-4-5-20250929";
    c.api_key = "sk-ant-test-key";
    c.chat_path = "/v1/messages";
    c.health_path = "/v1/models";
    c.auth_header = "x-api-key";
    c.auth_value = "sk-ant-test-key";
    c.protocol = WireProtocol::anthropic;
    c.id_prefix = "msg_";
    c.tool_id_prefix = "toolu_";
    c.stop_sequence_reason = StopReason::stop_sequence;
    cases.push_back(c);
  }
  {
    AdapterCase c;
    c.label = "azure_openai";
    c.type = "azure_openai";
    c.model = "gpt4o-prod";
    c.embed_model = "embed-small";
    c.api_key = "azure-test-key";
    c.chat_path = "/openai/deployments/gpt4o-prod/chat/completions";
    c.embed_path = "/openai/deployments/embed-small/embeddings";
    c.health_path = "/openai/models";
    c.query = "api-version=" + std::string(kAzureVersion);
    c.auth_header = "api-key";
    c.auth_value = "azure-test-key";
    c.embed_dims = 1536;
    c.protocol = WireProtocol::openai;
    c.id_prefix = "chatcmpl-";
    c.tool_id_prefix = "call_";
    cases.push_back(c);
  }
  {
    AdapterCase c;
    c.label = "openai_compat";
    c.type = "openai_compat";
    c.model = "gpt-4o-mini";
    c.embed_model = "text-embedding-3-small";
    c.api_key = "sk-openai-test";
    c.chat_path = "/v1/chat/completions";
    c.embed_path = "/v1/embeddings";
    c.health_path = "/v1/models";
    c.auth_header = "authorization";
    c.auth_value = "Bearer sk-openai-test";
    c.embed_dims = 1536;
    c.protocol = WireProtocol::openai;
    c.id_prefix = "chatcmpl-";
    c.tool_id_prefix = "call_";
    cases.push_back(c);
  }
  {
    AdapterCase c;
    c.label = "ollama";
    c.type = "ollama";
    c.model = "llama3.2";
    c.embed_model = "nomic-embed-text";
    c.api_key = "ollama-proxy-key";  // Ollama needs none; sent for a reverse proxy in front of it
    c.chat_path = "/api/chat";
    c.embed_path = "/api/embed";
    c.health_path = "/api/tags";
    c.auth_header = "authorization";
    c.auth_value = "Bearer ollama-proxy-key";
    c.embed_dims = 768;
    c.protocol = WireProtocol::ollama;
    c.sse = false;
    c.id_prefix = "";            // Ollama answers carry no id
    c.tool_id_prefix = "call_";  // synthesized
    cases.push_back(c);
  }
  return cases;
}

ChatRequest basic_request(const std::string& model, std::string_view user_text = kUserText) {
  ChatRequest r;
  r.model = model;
  r.system = std::string(kSystem);
  Message m;
  m.role = Role::user;
  m.text = std::string(user_text);
  r.messages.push_back(std::move(m));
  r.max_tokens = 64;
  r.temperature = 0.7;
  std::vector<std::string> stop{"ZZZ"};
  r.stop = std::move(stop);
  return r;
}

ChatRequest tool_request(const std::string& model) {
  ChatRequest r = basic_request(model, "please use tool for Paris");
  ToolDefinition weather;
  weather.name = "get_weather";
  weather.description = "Current weather for a city";
  weather.input_schema = json::object{{"type", "object"},
                                      {"properties", json::object{{"city", json::object{{"type", "string"}}}}},
                                      {"required", json::array{"city"}}};
  ToolDefinition time;
  time.name = "get_time";
  time.input_schema = json::object{{"type", "object"}};
  r.tools.push_back(std::move(weather));
  r.tools.push_back(std::move(time));
  r.tool_choice = json::object{{"type", "auto"}};
  return r;
}

// ------------------------------------------------------------ the fixture

class ProviderAdapterTest : public ::testing::TestWithParam<AdapterCase> {
 protected:
  void SetUp() override {
    sim_ = std::make_unique<sim::Simulator>(io_, sim::SimOptions{});
    port_ = sim_->start();
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }

  void TearDown() override {
    // Stop the simulator on an I/O thread (releases hung requests), then the threads.
    auto stopped = std::make_shared<std::promise<void>>();
    auto done = stopped->get_future();
    asio::post(io_, [this, stopped] { sim_->stop([stopped] { stopped->set_value(); }); });
    if (done.wait_for(10s) != std::future_status::ready) ADD_FAILURE() << "simulator did not stop";
    guard_.reset();
    io_.stop();
    for (auto& t : threads_) t.join();
    providers_.clear();
    clients_.clear();
  }

  std::string base_url(std::uint16_t port) const { return "http://127.0.0.1:" + std::to_string(port); }
  std::string base_url() const { return base_url(port_); }

  config::ProviderConfig provider_config() const {
    const AdapterCase& c = GetParam();
    config::ProviderConfig config;
    config.name = "test-" + c.label;
    config.type = c.type;
    config.base_url = base_url();
    config.api_key = c.api_key;
    if (c.type == "azure_openai") config.api_version = kAzureVersion;
    config.locality = c.type == "ollama" ? config::Locality::local : config::Locality::cloud;
    config.models = {{Tier::sonnet, c.model}};
    config.embedding_model = c.embed_model;
    config.connect_timeout = 2'000ms;
    config.first_byte_timeout = 7'000ms;
    config.idle_timeout = 8'000ms;
    config.total_timeout = 9'000ms;
    return config;
  }

  // A provider on a client of its own (a fresh connection pool).
  LLMProvider& make_provider(const config::ProviderConfig& config) {
    clients_.push_back(
        std::make_unique<RecordingClient>(http::make_http_client(io_.get_executor(), http::ClientOptions{})));
    auto created = ProviderFactory::builtin().create(config, ProviderDeps{*clients_.back()});
    if (!created.ok()) {
      ADD_FAILURE() << created.error().message;
      std::abort();
    }
    providers_.push_back(std::move(created).value());
    return *providers_.back();
  }
  LLMProvider& provider() {
    if (!main_) main_ = &make_provider(provider_config());
    return *main_;
  }
  RecordingClient& last_client() { return *clients_.back(); }

  template <class T>
  T run(asio::awaitable<T> op) {
    return Pending<T>(io_, std::move(op)).get();
  }
  Result<Completion> complete(LLMProvider& p, const ChatRequest& r) { return run(p.complete(r)); }
  Result<void> stream(LLMProvider& p, const ChatRequest& r, DeltaSink& sink) { return run(p.stream(r, sink)); }

  // The one provider request the simulator recorded since the last clear.
  sim::RecordedRequest only_recorded() {
    auto requests = sim_->requests();
    EXPECT_EQ(requests.size(), 1u);
    if (requests.empty()) return {};
    return requests.back();
  }

  // The path, query, headers and body shape every chat request must have.
  void expect_chat_wire(const sim::RecordedRequest& seen, const http::ClientRequest& sent, bool streaming) {
    const AdapterCase& c = GetParam();
    EXPECT_EQ(seen.method, "POST");
    EXPECT_EQ(seen.path, c.chat_path);
    EXPECT_EQ(seen.query, c.query);
    EXPECT_EQ(sent.url, base_url() + c.chat_path + (c.query.empty() ? "" : "?" + c.query));
    EXPECT_EQ(header(seen.headers, "content-type").value_or(""), "application/json");
    expect_credentials(seen, sent);
    if (c.sse && streaming) {
      EXPECT_EQ(header(sent.headers, "accept").value_or(""), "text/event-stream");
    }
    // The provider's timeouts are applied to the exchange.
    EXPECT_EQ(sent.timeouts.connect, 2'000ms);
    EXPECT_EQ(sent.timeouts.first_byte, 7'000ms);
    EXPECT_EQ(sent.timeouts.idle, 8'000ms);
    EXPECT_EQ(sent.timeouts.total, 9'000ms);
  }

  // The credential goes in the protocol's header, exactly once, and in no other
  // credential header; the simulator's log never holds it.
  void expect_credentials(const sim::RecordedRequest& seen, const http::ClientRequest& sent) {
    const AdapterCase& c = GetParam();
    EXPECT_EQ(header_count(sent.headers, c.auth_header), 1u) << c.auth_header;
    EXPECT_EQ(header(sent.headers, c.auth_header).value_or(""), c.auth_value);
    for (std::string_view other : {"authorization", "x-api-key", "api-key"}) {
      if (other != c.auth_header) {
        EXPECT_FALSE(header(sent.headers, other)) << other << " must not be sent";
      }
      EXPECT_FALSE(header(seen.headers, other)) << "the simulator log keeps no credentials";
    }
    for (const auto& h : seen.headers) EXPECT_FALSE(contains(h.value, c.api_key)) << h.name;
    if (c.type == "anthropic") {
      EXPECT_EQ(header(seen.headers, "anthropic-version").value_or(""), "2023-06-01");
    } else {
      EXPECT_FALSE(header(seen.headers, "anthropic-version"));
    }
  }

  asio::io_context io_{2};
  asio::executor_work_guard<asio::io_context::executor_type> guard_ = asio::make_work_guard(io_);
  std::vector<std::thread> threads_;
  std::unique_ptr<sim::Simulator> sim_;
  std::uint16_t port_ = 0;
  std::vector<std::unique_ptr<RecordingClient>> clients_;
  std::vector<std::unique_ptr<LLMProvider>> providers_;
  LLMProvider* main_ = nullptr;
};

// ------------------------------------------------------------------ tests

TEST_P(ProviderAdapterTest, CompleteQuotesTheUserAndReportsModelAndUsage) {
  const AdapterCase& c = GetParam();
  auto& p = provider();
  EXPECT_EQ(p.info().name, "test-" + c.label);
  EXPECT_EQ(p.info().type, c.type);
  EXPECT_EQ(p.info().models.at(Tier::sonnet), c.model);

  const ChatRequest request = basic_request(c.model);
  auto result = complete(p, request);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->text, kAnswer);
  EXPECT_EQ(result->model, c.model);
  EXPECT_EQ(result->usage.input_tokens, kInputTokens);
  EXPECT_EQ(result->usage.output_tokens, kOutputTokens);
  EXPECT_EQ(result->stop_reason, StopReason::end_turn);
  EXPECT_FALSE(result->stop_sequence);
  EXPECT_TRUE(result->tool_calls.empty());
  if (!c.id_prefix.empty()) {
    EXPECT_TRUE(result->id.starts_with(c.id_prefix)) << result->id;
    EXPECT_GT(result->id.size(), c.id_prefix.size());
  }
}

TEST_P(ProviderAdapterTest, CompleteSendsTheProtocolsRequest) {
  const AdapterCase& c = GetParam();
  auto& p = provider();
  auto result = complete(p, basic_request(c.model));
  ASSERT_TRUE(result.ok()) << result.error().message;

  const auto seen = only_recorded();
  const auto sent = last_client().requests();
  ASSERT_EQ(sent.size(), 1u);
  expect_chat_wire(seen, sent[0], false);

  // Temperature is written in its plain decimal form.
  EXPECT_TRUE(contains(seen.body, "\"temperature\":0.7")) << seen.body;
  const json::object body = parse_object(seen.body);
  const json::array* messages = body.contains("messages") ? body.at("messages").if_array() : nullptr;
  ASSERT_NE(messages, nullptr) << seen.body;

  if (c.type == "anthropic") {
    EXPECT_EQ(body.at("model"), json::value(c.model));
    EXPECT_EQ(body.at("system"), json::value(kSystem));  // top-level, never a message
    ASSERT_EQ(messages->size(), 1u);
    EXPECT_EQ(messages->at(0).at("role"), "user");
    EXPECT_EQ(messages->at(0).at("content"), json::value(kUserText));
    EXPECT_EQ(body.at("max_tokens"), 64);
    EXPECT_EQ(body.at("temperature").to_number<double>(), 0.7);
    EXPECT_EQ(body.at("stop_sequences"), (json::array{"ZZZ"}));
    EXPECT_FALSE(body.contains("stop"));
    EXPECT_FALSE(body.contains("stream") && body.at("stream") == true);
  } else if (c.type == "ollama") {
    EXPECT_EQ(body.at("model"), json::value(c.model));
    ASSERT_EQ(messages->size(), 2u);
    EXPECT_EQ(messages->at(0).at("role"), "system");
    EXPECT_EQ(messages->at(0).at("content"), json::value(kSystem));
    EXPECT_EQ(messages->at(1).at("role"), "user");
    EXPECT_EQ(messages->at(1).at("content"), json::value(kUserText));
    EXPECT_EQ(body.at("stream"), false);  // Ollama streams unless told not to
    const auto& options = body.at("options").as_object();
    EXPECT_EQ(options.at("num_predict"), 64);
    EXPECT_EQ(options.at("temperature").to_number<double>(), 0.7);
    EXPECT_EQ(options.at("stop"), (json::array{"ZZZ"}));
    EXPECT_FALSE(body.contains("max_tokens"));
    EXPECT_FALSE(body.contains("temperature"));
  } else {
    if (c.type == "azure_openai") {
      EXPECT_FALSE(body.contains("model")) << "Azure addresses the deployment in the URL";
    } else {
      EXPECT_EQ(body.at("model"), json::value(c.model));
    }
    ASSERT_EQ(messages->size(), 2u);
    EXPECT_EQ(messages->at(0).at("role"), "system");
    EXPECT_EQ(messages->at(0).at("content"), json::value(kSystem));
    EXPECT_EQ(messages->at(1).at("role"), "user");
    EXPECT_EQ(messages->at(1).at("content"), json::value(kUserText));
    EXPECT_EQ(body.at("max_tokens"), 64);
    EXPECT_EQ(body.at("temperature").to_number<double>(), 0.7);
    EXPECT_EQ(body.at("stop"), (json::array{"ZZZ"}));
    EXPECT_FALSE(body.contains("stream") && body.at("stream") == true);
    EXPECT_FALSE(body.contains("stream_options"));
  }
  EXPECT_FALSE(body.contains("tools"));
  EXPECT_FALSE(body.contains("tool_choice"));
}

TEST_P(ProviderAdapterTest, UpstreamRejectsAMissingCredential) {
  // The simulator checks each protocol's credential header: without a key the
  // cloud protocols are refused, which is how a wrong header name would show.
  const AdapterCase& c = GetParam();
  auto config = provider_config();
  config.api_key.clear();
  auto& p = make_provider(config);
  auto result = complete(p, basic_request(c.model));
  const auto sent = last_client().requests();
  ASSERT_EQ(sent.size(), 1u);
  if (c.type == "ollama") {
    ASSERT_TRUE(result.ok()) << result.error().message;
    EXPECT_FALSE(header(sent[0].headers, "authorization")) << "no key configured, no header";
  } else {
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().code, ErrorCode::upstream_error);
    EXPECT_TRUE(contains(result.error().message, "credentials")) << result.error().message;
  }
}

TEST_P(ProviderAdapterTest, PassthroughGoesOnlyToTheSameProtocol) {
  const AdapterCase& c = GetParam();
  auto& p = provider();

  ChatRequest same = basic_request(c.model);
  same.origin = c.protocol;
  ChatRequest other = basic_request(c.model);
  if (c.protocol == WireProtocol::anthropic) {
    same.passthrough =
        json::object{{"metadata", json::object{{"user_id", "team-7"}}}, {"top_k", 5}, {"max_tokens", 9999}};
    other.origin = WireProtocol::openai;
    other.passthrough = json::object{{"user", "team-7"}, {"seed", 7}};
  } else if (c.protocol == WireProtocol::ollama) {
    same.passthrough =
        json::object{{"keep_alive", "5m"}, {"options", json::object{{"seed", 42}, {"num_predict", 9999}}}};
    other.origin = WireProtocol::openai;
    other.passthrough = json::object{{"keep_alive", "5m"}, {"user", "team-7"}, {"options", json::object{{"seed", 42}}}};
  } else {
    same.passthrough = json::object{{"user", "team-7"}, {"seed", 7}, {"max_tokens", 9999}};
    other.origin = WireProtocol::anthropic;
    other.passthrough = json::object{{"metadata", json::object{{"user_id", "team-7"}}}, {"top_k", 5}};
  }

  auto first = complete(p, same);
  ASSERT_TRUE(first.ok()) << first.error().message;
  auto seen = only_recorded();
  json::object body = parse_object(seen.body);
  if (c.protocol == WireProtocol::anthropic) {
    EXPECT_EQ(body.at("metadata"), (json::object{{"user_id", "team-7"}}));
    EXPECT_EQ(body.at("top_k"), 5);
    EXPECT_EQ(body.at("max_tokens"), 64) << "passthrough never overrides a field the adapter sets";
  } else if (c.protocol == WireProtocol::ollama) {
    EXPECT_EQ(body.at("keep_alive"), "5m");
    EXPECT_EQ(body.at("options").at("seed"), 42);
    EXPECT_EQ(body.at("options").at("num_predict"), 64) << "passthrough never overrides a field the adapter sets";
  } else {
    EXPECT_EQ(body.at("user"), "team-7");
    EXPECT_EQ(body.at("seed"), 7);
    EXPECT_EQ(body.at("max_tokens"), 64) << "passthrough never overrides a field the adapter sets";
  }

  sim_->clear_requests();
  auto second = complete(p, other);
  ASSERT_TRUE(second.ok()) << second.error().message;
  seen = only_recorded();
  body = parse_object(seen.body);
  for (std::string_view key : {"metadata", "top_k", "user", "seed", "keep_alive"}) {
    EXPECT_FALSE(body.contains(key)) << key << " came from another protocol: " << seen.body;
  }
  if (const auto* options = body.if_contains("options")) {
    EXPECT_FALSE(options->as_object().contains("seed")) << seen.body;
  }
}

TEST_P(ProviderAdapterTest, SmallMaxTokensStopsWithMaxTokens) {
  const AdapterCase& c = GetParam();
  auto& p = provider();
  ChatRequest request = basic_request(c.model);
  request.max_tokens = 2;
  auto result = complete(p, request);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->text, "Echo: hello");
  EXPECT_EQ(result->stop_reason, StopReason::max_tokens);
  EXPECT_EQ(result->usage.output_tokens, 2);

  RecordingSink sink;
  auto streamed = stream(p, request, sink);
  ASSERT_TRUE(streamed.ok()) << streamed.error().message;
  EXPECT_EQ(sink.text(), "Echo: hello");
  ASSERT_EQ(sink.count(StreamEvent::Kind::finish), 1u);
  EXPECT_EQ(sink.events.back().kind, StreamEvent::Kind::finish);
  EXPECT_EQ(sink.events.back().stop_reason, StopReason::max_tokens);
  EXPECT_EQ(sink.events.back().usage.output_tokens, 2);
}

TEST_P(ProviderAdapterTest, StopSequenceCutsTheAnswer) {
  const AdapterCase& c = GetParam();
  auto& p = provider();
  ChatRequest request = basic_request(c.model, "alpha STOP beta");
  std::vector<std::string> stop{"STOP"};
  request.stop = std::move(stop);
  auto result = complete(p, request);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->text, "Echo: alpha ");
  EXPECT_EQ(result->stop_reason, c.stop_sequence_reason);
  if (c.stop_sequence_reason == StopReason::stop_sequence) {
    EXPECT_EQ(result->stop_sequence.value_or(""), "STOP");
  }
}

TEST_P(ProviderAdapterTest, ToolCallFromComplete) {
  const AdapterCase& c = GetParam();
  auto& p = provider();
  auto result = complete(p, tool_request(c.model));
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->stop_reason, StopReason::tool_use);
  EXPECT_EQ(result->text, "");
  ASSERT_EQ(result->tool_calls.size(), 1u);
  const ToolCall& call = result->tool_calls[0];
  EXPECT_EQ(call.name, "get_weather");
  EXPECT_EQ(call.arguments_json, "{}");
  EXPECT_TRUE(call.id.starts_with(c.tool_id_prefix)) << call.id;
  EXPECT_GT(call.id.size(), c.tool_id_prefix.size());

  // The tool definitions in the protocol's shape.
  const json::object body = parse_object(only_recorded().body);
  const auto& tools = body.at("tools").as_array();
  ASSERT_EQ(tools.size(), 2u);
  const json::object schema{{"type", "object"},
                            {"properties", json::object{{"city", json::object{{"type", "string"}}}}},
                            {"required", json::array{"city"}}};
  if (c.type == "anthropic") {
    EXPECT_EQ(tools[0].at("name"), "get_weather");
    EXPECT_EQ(tools[0].at("description"), "Current weather for a city");
    EXPECT_EQ(tools[0].at("input_schema"), schema);
    EXPECT_EQ(tools[1].at("name"), "get_time");
    EXPECT_EQ(body.at("tool_choice"), (json::object{{"type", "auto"}}));
  } else {
    EXPECT_EQ(tools[0].at("type"), "function");
    EXPECT_EQ(tools[0].at("function").at("name"), "get_weather");
    EXPECT_EQ(tools[0].at("function").at("description"), "Current weather for a city");
    EXPECT_EQ(tools[0].at("function").at("parameters"), schema);
    EXPECT_EQ(tools[1].at("function").at("name"), "get_time");
    if (c.type != "ollama") {
      EXPECT_EQ(body.at("tool_choice"), "auto");
    }
  }
}

TEST_P(ProviderAdapterTest, ToolCallFromStream) {
  const AdapterCase& c = GetParam();
  auto& p = provider();
  RecordingSink sink;
  auto result = stream(p, tool_request(c.model), sink);
  ASSERT_TRUE(result.ok()) << result.error().message;
  ASSERT_FALSE(sink.events.empty());
  EXPECT_EQ(sink.events.front().kind, StreamEvent::Kind::start);
  EXPECT_EQ(sink.count(StreamEvent::Kind::text), 0u) << sink.text();
  ASSERT_EQ(sink.count(StreamEvent::Kind::tool_call_start), 1u);
  const StreamEvent* start = sink.first(StreamEvent::Kind::tool_call_start);
  EXPECT_EQ(start->index, 0u);
  EXPECT_EQ(start->tool_call.name, "get_weather");
  EXPECT_TRUE(start->tool_call.id.starts_with(c.tool_id_prefix)) << start->tool_call.id;
  EXPECT_GT(start->tool_call.id.size(), c.tool_id_prefix.size());
  EXPECT_EQ(sink.tool_arguments(0), "{}");
  ASSERT_EQ(sink.count(StreamEvent::Kind::finish), 1u);
  EXPECT_EQ(sink.events.back().kind, StreamEvent::Kind::finish);
  EXPECT_EQ(sink.events.back().stop_reason, StopReason::tool_use);
  if (c.type == "ollama") {
    // Synthesized ids are deterministic: the same call gets the same id either way.
    auto completed = complete(p, tool_request(c.model));
    ASSERT_TRUE(completed.ok());
    ASSERT_EQ(completed->tool_calls.size(), 1u);
    EXPECT_EQ(completed->tool_calls[0].id, start->tool_call.id);
  }
}

TEST_P(ProviderAdapterTest, StreamMatchesCompleteWithOneFinish) {
  const AdapterCase& c = GetParam();
  auto& p = provider();
  const ChatRequest request = basic_request(c.model);
  auto completed = complete(p, request);
  ASSERT_TRUE(completed.ok()) << completed.error().message;

  sim_->clear_requests();
  last_client().clear();
  RecordingSink sink;
  auto result = stream(p, request, sink);
  ASSERT_TRUE(result.ok()) << result.error().message;

  ASSERT_GE(sink.events.size(), 3u);
  EXPECT_EQ(sink.count(StreamEvent::Kind::start), 1u);
  EXPECT_EQ(sink.events.front().kind, StreamEvent::Kind::start);
  EXPECT_EQ(sink.events.front().model, c.model);
  if (!c.id_prefix.empty()) {
    EXPECT_TRUE(sink.events.front().id.starts_with(c.id_prefix)) << sink.events.front().id;
  }
  EXPECT_EQ(sink.count(StreamEvent::Kind::text), static_cast<std::size_t>(kOutputTokens));
  EXPECT_EQ(sink.text(), completed->text);
  EXPECT_EQ(sink.text(), kAnswer);
  ASSERT_EQ(sink.count(StreamEvent::Kind::finish), 1u);
  const StreamEvent& finish = sink.events.back();
  EXPECT_EQ(finish.kind, StreamEvent::Kind::finish);
  EXPECT_EQ(finish.stop_reason, StopReason::end_turn);
  EXPECT_EQ(finish.usage.input_tokens, kInputTokens);
  EXPECT_EQ(finish.usage.output_tokens, kOutputTokens);

  const auto seen = only_recorded();
  const auto sent = last_client().requests();
  ASSERT_EQ(sent.size(), 1u);
  expect_chat_wire(seen, sent[0], true);
  const json::object body = parse_object(seen.body);
  EXPECT_EQ(body.at("stream"), true);
  if (c.protocol == WireProtocol::openai) {
    EXPECT_EQ(body.at("stream_options"), (json::object{{"include_usage", true}}));
  }
}

TEST_P(ProviderAdapterTest, SinkThatStopsEndsTheStreamQuietly) {
  const AdapterCase& c = GetParam();
  auto& p = provider();
  RecordingSink sink(/*stop_after_texts=*/1);
  auto result = stream(p, basic_request(c.model), sink);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(sink.count(StreamEvent::Kind::text), 1u);
  EXPECT_EQ(sink.count(StreamEvent::Kind::finish), 0u);
  EXPECT_EQ(sink.events.back().kind, StreamEvent::Kind::text);

  // The abandoned exchange released its slot and its connection: the provider still works.
  auto again = complete(p, basic_request(c.model));
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->text, kAnswer);
}

TEST_P(ProviderAdapterTest, EmbedReturnsDeterministicVectors) {
  const AdapterCase& c = GetParam();
  auto& p = provider();
  EmbedRequest request;
  request.model = c.embed_model.empty() ? c.model : c.embed_model;
  request.inputs = {"alpha beta gamma", "delta"};  // 16 + 5 bytes: 4 + 2 tokens
  auto result = run(p.embed(request));

  if (c.embed_dims == 0) {
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().code, ErrorCode::invalid_request);
    EXPECT_TRUE(contains(result.error().message, "embeddings")) << result.error().message;
    EXPECT_TRUE(sim_->requests().empty()) << "nothing is sent upstream";
    return;
  }
  ASSERT_TRUE(result.ok()) << result.error().message;
  ASSERT_EQ(result->vectors.size(), 2u);
  for (const auto& v : result->vectors) {
    ASSERT_EQ(v.size(), c.embed_dims);
    double norm = 0;
    for (float x : v) norm += static_cast<double>(x) * x;
    EXPECT_NEAR(norm, 1.0, 1e-4);
  }
  EXPECT_NE(result->vectors[0], result->vectors[1]);
  EXPECT_EQ(result->usage.input_tokens, 6);
  EXPECT_EQ(result->model, c.embed_model);

  auto seen = only_recorded();
  EXPECT_EQ(seen.path, c.embed_path);
  EXPECT_EQ(seen.query, c.query);
  const auto sent = last_client().requests();
  ASSERT_EQ(sent.size(), 1u);
  expect_credentials(seen, sent[0]);
  json::object body = parse_object(seen.body);
  EXPECT_EQ(body.at("input"), (json::array{"alpha beta gamma", "delta"}));
  if (c.type == "azure_openai") {
    EXPECT_FALSE(body.contains("model"));
  } else {
    EXPECT_EQ(body.at("model"), json::value(c.embed_model));
  }
  EXPECT_FALSE(body.contains("dimensions"));

  // Deterministic: the same input gives the same vectors.
  auto again = run(p.embed(request));
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->vectors, result->vectors);

  // `dimensions` is forwarded and honoured.
  sim_->clear_requests();
  request.dimensions = 256;
  auto shorter = run(p.embed(request));
  ASSERT_TRUE(shorter.ok()) << shorter.error().message;
  ASSERT_EQ(shorter->vectors.size(), 2u);
  EXPECT_EQ(shorter->vectors[0].size(), 256u);
  EXPECT_EQ(shorter->vectors[1].size(), 256u);
  body = parse_object(only_recorded().body);
  EXPECT_EQ(body.at("dimensions"), 256);
}

TEST_P(ProviderAdapterTest, HealthCheckAgainstRunningSimulator) {
  const AdapterCase& c = GetParam();
  auto& p = provider();
  EXPECT_TRUE(run(p.health_check())) << "GET " << c.health_path;
  auto seen = only_recorded();
  EXPECT_EQ(seen.method, "GET");
  EXPECT_EQ(seen.path, c.health_path);
  EXPECT_EQ(seen.query, c.query);
  const auto sent = last_client().requests();
  ASSERT_EQ(sent.size(), 1u);
  expect_credentials(seen, sent[0]);
}

TEST_P(ProviderAdapterTest, HealthCheckAgainstClosedPort) {
  auto config = provider_config();
  const RefusingPort refusing;
  config.base_url = base_url(refusing.port());
  auto& p = make_provider(config);
  EXPECT_FALSE(run(p.health_check()));
}

struct FaultExpectation {
  const char* mode;
  ErrorCode code;
  int retry_after_seconds;
  const char* mentions;  // nullptr: any message
};

// wire::classify_upstream_failure: 429 -> rate_limited (retry-after), 500 ->
// upstream_error, 503 -> unavailable (retry-after); a reset or a malformed
// body is an upstream_error.
const FaultExpectation kFaults[] = {
    {"status_429", ErrorCode::rate_limited, 1, nullptr},    {"status_500", ErrorCode::upstream_error, 0, nullptr},
    {"status_503", ErrorCode::unavailable, 1, nullptr},     {"reset", ErrorCode::upstream_error, 0, nullptr},
    {"garbage", ErrorCode::upstream_error, 0, "malformed"},
};

TEST_P(ProviderAdapterTest, FaultsMapToCanonicalErrorsInComplete) {
  const AdapterCase& c = GetParam();
  const ChatRequest request = basic_request(c.model);
  for (const auto& fault : kFaults) {
    SCOPED_TRACE(fault.mode);
    ASSERT_TRUE(sim_->set_fault(fault.mode, 1, std::nullopt).ok());
    // A fresh client: a reset on a reused keep-alive connection would be retried.
    auto result = complete(make_provider(provider_config()), request);
    ASSERT_FALSE(result.ok()) << result->text;
    EXPECT_EQ(result.error().code, fault.code) << error_type(result.error().code) << ": " << result.error().message;
    EXPECT_EQ(result.error().retry_after_seconds, fault.retry_after_seconds);
    if (fault.mentions) {
      EXPECT_TRUE(contains(result.error().message, fault.mentions)) << result.error().message;
    }
  }
  // The fault was used up: the next request is answered.
  auto result = complete(make_provider(provider_config()), request);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->text, kAnswer);
}

TEST_P(ProviderAdapterTest, FaultsMapToCanonicalErrorsInStream) {
  const AdapterCase& c = GetParam();
  const ChatRequest request = basic_request(c.model);
  for (const auto& fault : kFaults) {
    SCOPED_TRACE(fault.mode);
    ASSERT_TRUE(sim_->set_fault(fault.mode, 1, std::nullopt).ok());
    RecordingSink sink;
    auto result = stream(make_provider(provider_config()), request, sink);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().code, fault.code) << error_type(result.error().code) << ": " << result.error().message;
    EXPECT_EQ(result.error().retry_after_seconds, fault.retry_after_seconds);
    if (fault.mentions) {
      EXPECT_TRUE(contains(result.error().message, fault.mentions)) << result.error().message;
    }
    EXPECT_EQ(sink.count(StreamEvent::Kind::finish), 0u) << "an error never ends with a finish event";
  }
}

TEST_P(ProviderAdapterTest, TruncatedStreamIsAnErrorWithoutFinish) {
  const AdapterCase& c = GetParam();
  ASSERT_TRUE(sim_->set_fault("truncate", 1, std::nullopt).ok());
  RecordingSink sink;
  auto result = stream(provider(), basic_request(c.model), sink);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::upstream_error) << result.error().message;
  EXPECT_TRUE(contains(result.error().message, "truncated")) << result.error().message;
  EXPECT_GE(sink.count(StreamEvent::Kind::text), 1u);
  EXPECT_TRUE(std::string(kAnswer).starts_with(sink.text())) << sink.text();
  EXPECT_LT(sink.text().size(), kAnswer.size());
  EXPECT_EQ(sink.count(StreamEvent::Kind::finish), 0u);

  // A truncated non-streamed body is an upstream error too.
  ASSERT_TRUE(sim_->set_fault("truncate", 1, std::nullopt).ok());
  auto completed = complete(make_provider(provider_config()), basic_request(c.model));
  ASSERT_FALSE(completed.ok());
  EXPECT_EQ(completed.error().code, ErrorCode::upstream_error) << completed.error().message;
}

TEST_P(ProviderAdapterTest, HangIsAnUpstreamTimeout) {
  const AdapterCase& c = GetParam();
  auto config = provider_config();
  config.first_byte_timeout = 300ms;
  auto& p = make_provider(config);
  const ChatRequest request = basic_request(c.model);

  // Both hang at once: one timeout's worth of waiting.
  ASSERT_TRUE(sim_->set_fault("hang", 2, std::nullopt).ok());
  RecordingSink sink;
  const auto started = std::chrono::steady_clock::now();
  Pending<Result<Completion>> completed(io_, p.complete(request));
  Pending<Result<void>> streamed(io_, p.stream(request, sink));
  auto completed_result = completed.get();
  auto streamed_result = streamed.get();
  const auto elapsed = std::chrono::steady_clock::now() - started;

  ASSERT_FALSE(completed_result.ok());
  EXPECT_EQ(completed_result.error().code, ErrorCode::upstream_timeout) << completed_result.error().message;
  ASSERT_FALSE(streamed_result.ok());
  EXPECT_EQ(streamed_result.error().code, ErrorCode::upstream_timeout) << streamed_result.error().message;
  EXPECT_TRUE(sink.events.empty());
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LT(elapsed, 3s);
}

TEST_P(ProviderAdapterTest, MaxConcurrencyRefusesTheSecondCall) {
  const AdapterCase& c = GetParam();
  auto config = provider_config();
  config.max_concurrency = 1;
  auto& p = make_provider(config);
  const ChatRequest request = basic_request(c.model);
  sim_->set_latency(300ms, 0ms);

  auto expect_one_refused = [](const Error* refused) {
    ASSERT_NE(refused, nullptr);
    EXPECT_EQ(refused->code, ErrorCode::unavailable);
    EXPECT_TRUE(contains(refused->message, "max_concurrency")) << refused->message;
    EXPECT_GT(refused->retry_after_seconds, 0);
  };
  {
    Pending<Result<Completion>> a(io_, p.complete(request));
    Pending<Result<Completion>> b(io_, p.complete(request));
    auto ra = a.get();
    auto rb = b.get();
    ASSERT_NE(ra.ok(), rb.ok()) << "exactly one of two concurrent calls gets through";
    const auto& ok = ra.ok() ? ra : rb;
    const auto& refused = ra.ok() ? rb : ra;
    EXPECT_EQ(ok->text, kAnswer);
    expect_one_refused(&refused.error());
  }
  {
    // A stream holds its slot too.
    RecordingSink sink;
    Pending<Result<void>> a(io_, p.stream(request, sink));
    Pending<Result<Completion>> b(io_, p.complete(request));
    auto ra = a.get();
    auto rb = b.get();
    ASSERT_NE(ra.ok(), rb.ok()) << "exactly one of two concurrent calls gets through";
    if (ra.ok()) {
      EXPECT_EQ(sink.text(), kAnswer);
      expect_one_refused(&rb.error());
    } else {
      EXPECT_TRUE(sink.events.empty());
      expect_one_refused(&ra.error());
    }
  }
  // Slots are released afterwards.
  sim_->set_latency(0ms, 0ms);
  auto after = complete(p, request);
  ASSERT_TRUE(after.ok()) << after.error().message;
}

TEST_P(ProviderAdapterTest, ToolResultRoundTripInTheProtocolsShape) {
  // user asks -> assistant called get_weather -> tool result: the answer quotes the result.
  const AdapterCase& c = GetParam();
  ChatRequest request = tool_request(c.model);
  Message call;
  call.role = Role::assistant;
  ToolCall tc;
  tc.id = c.tool_id_prefix + "prior1";
  tc.name = "get_weather";
  tc.arguments_json = R"({"city":"Paris"})";
  call.tool_calls.push_back(tc);
  request.messages.push_back(std::move(call));
  Message result;
  result.role = Role::tool;
  result.tool_call_id = tc.id;
  result.text = "18C and sunny";
  request.messages.push_back(std::move(result));

  auto answer = complete(provider(), request);
  ASSERT_TRUE(answer.ok()) << answer.error().message;
  EXPECT_EQ(answer->text, "Echo: 18C and sunny");
  EXPECT_EQ(answer->stop_reason, StopReason::end_turn);
  EXPECT_TRUE(answer->tool_calls.empty());

  const json::object body = parse_object(only_recorded().body);
  const auto& messages = body.at("messages").as_array();
  if (c.type == "anthropic") {
    ASSERT_EQ(messages.size(), 3u);
    EXPECT_EQ(messages[1].at("role"), "assistant");
    const auto& use = messages[1].at("content").at(0);
    EXPECT_EQ(use.at("type"), "tool_use");
    EXPECT_EQ(use.at("id"), json::value(tc.id));
    EXPECT_EQ(use.at("name"), "get_weather");
    EXPECT_EQ(use.at("input"), (json::object{{"city", "Paris"}}));
    EXPECT_EQ(messages[2].at("role"), "user");
    const auto& tool_result = messages[2].at("content").at(0);
    EXPECT_EQ(tool_result.at("type"), "tool_result");
    EXPECT_EQ(tool_result.at("tool_use_id"), json::value(tc.id));
    EXPECT_EQ(tool_result.at("content"), "18C and sunny");
  } else {
    ASSERT_EQ(messages.size(), 4u);  // system, user, assistant, tool
    EXPECT_EQ(messages[2].at("role"), "assistant");
    const auto& function = messages[2].at("tool_calls").at(0).at("function");
    EXPECT_EQ(function.at("name"), "get_weather");
    EXPECT_EQ(messages[3].at("role"), "tool");
    EXPECT_EQ(messages[3].at("content"), "18C and sunny");
    if (c.type == "ollama") {
      EXPECT_EQ(function.at("arguments"), (json::object{{"city", "Paris"}}));  // an object in Ollama
      EXPECT_EQ(messages[3].at("tool_name"), "get_weather");                   // Ollama links results by name
    } else {
      EXPECT_EQ(messages[2].at("tool_calls").at(0).at("id"), json::value(tc.id));
      EXPECT_EQ(function.at("arguments"), R"({"city":"Paris"})");  // a JSON string in OpenAI
      EXPECT_EQ(messages[3].at("tool_call_id"), json::value(tc.id));
    }
  }
}

TEST_P(ProviderAdapterTest, TemperatureOutsideAnthropicsRangeIsClamped) {
  // OpenAI clients may send up to 2; the Messages API accepts 0..1.
  const AdapterCase& c = GetParam();
  ChatRequest request = basic_request(c.model);
  request.temperature = 1.5;
  auto result = complete(provider(), request);
  ASSERT_TRUE(result.ok()) << result.error().message;
  const std::string body = only_recorded().body;
  if (c.type == "anthropic") {
    EXPECT_TRUE(contains(body, "\"temperature\":1")) << body;
    EXPECT_FALSE(contains(body, "1.5")) << body;
  } else {
    EXPECT_TRUE(contains(body, "\"temperature\":1.5")) << body;
  }
}

TEST_P(ProviderAdapterTest, Utf8TextSurvivesBothWays) {
  const AdapterCase& c = GetParam();
  const std::string text = "caf\xC3\xA9 na\xC3\xAFve \xE2\x9C\x93 \xF0\x9F\x99\x82 \"quoted\" back\\slash";
  const ChatRequest request = basic_request(c.model, text);
  auto completed = complete(provider(), request);
  ASSERT_TRUE(completed.ok()) << completed.error().message;
  EXPECT_EQ(completed->text, "Echo: " + text);
  RecordingSink sink;
  auto streamed = stream(provider(), request, sink);
  ASSERT_TRUE(streamed.ok()) << streamed.error().message;
  EXPECT_EQ(sink.text(), "Echo: " + text);
  EXPECT_EQ(sink.count(StreamEvent::Kind::finish), 1u);
}

INSTANTIATE_TEST_SUITE_P(ProviderAdapters, ProviderAdapterTest, ::testing::ValuesIn(adapter_cases()),
                         [](const ::testing::TestParamInfo<AdapterCase>& info) { return info.param.label; });

// ------------------------------------------------ factory and URL variants

TEST(ProviderAdapterFactory, KnowsTheBuiltinTypes) {
  EXPECT_EQ(ProviderFactory::builtin().types(),
            (std::vector<std::string>{"anthropic", "azure_openai", "ollama", "openai_compat"}));
  EXPECT_EQ(app::provider_factory().types(),
            (std::vector<std::string>{"anthropic", "azure_openai", "ollama", "openai_compat", "sim"}));
  asio::io_context io;
  auto client = http::make_http_client(io.get_executor(), http::ClientOptions{});
  config::ProviderConfig config;
  config.name = "mystery";
  config.type = "bedrock";
  auto created = ProviderFactory::builtin().create(config, ProviderDeps{*client});
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().code, ErrorCode::invalid_request);
  EXPECT_TRUE(contains(created.error().message, "bedrock")) << created.error().message;
  EXPECT_TRUE(contains(created.error().message, "openai_compat")) << created.error().message;
}

class ProviderAdapterSim : public ::testing::Test {
 protected:
  void SetUp() override {
    sim_ = std::make_unique<sim::Simulator>(io_, sim::SimOptions{});
    port_ = sim_->start();
    client_ = http::make_http_client(io_.get_executor(), http::ClientOptions{});
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  void TearDown() override {
    auto stopped = std::make_shared<std::promise<void>>();
    auto done = stopped->get_future();
    asio::post(io_, [this, stopped] { sim_->stop([stopped] { stopped->set_value(); }); });
    if (done.wait_for(10s) != std::future_status::ready) ADD_FAILURE() << "simulator did not stop";
    guard_.reset();
    io_.stop();
    for (auto& t : threads_) t.join();
  }
  template <class T>
  T run(asio::awaitable<T> op) {
    return Pending<T>(io_, std::move(op)).get();
  }

  asio::io_context io_{2};
  asio::executor_work_guard<asio::io_context::executor_type> guard_ = asio::make_work_guard(io_);
  std::vector<std::thread> threads_;
  std::unique_ptr<sim::Simulator> sim_;
  std::uint16_t port_ = 0;
  std::unique_ptr<http::HttpClient> client_;
};

TEST_F(ProviderAdapterSim, OpenAiCompatBaseUrlMayEndInV1) {
  config::ProviderConfig config;
  config.name = "vllm";
  config.type = "openai_compat";
  config.base_url = "http://127.0.0.1:" + std::to_string(port_) + "/v1";
  config.api_key = "sk-vllm";
  config.locality = config::Locality::local;
  auto created = ProviderFactory::builtin().create(config, ProviderDeps{*client_});
  ASSERT_TRUE(created.ok()) << created.error().message;
  auto provider = std::move(created).value();

  auto completed = run(provider->complete(basic_request("meta-llama/Llama-3.1-8B-Instruct")));
  ASSERT_TRUE(completed.ok()) << completed.error().message;
  EXPECT_EQ(completed->text, kAnswer);
  EXPECT_EQ(completed->model, "meta-llama/Llama-3.1-8B-Instruct");

  EmbedRequest embed;
  embed.model = "text-embedding-3-small";
  embed.inputs = {"one"};
  auto embedded = run(provider->embed(embed));
  ASSERT_TRUE(embedded.ok()) << embedded.error().message;
  ASSERT_EQ(embedded->vectors.size(), 1u);
  EXPECT_EQ(embedded->vectors[0].size(), 1536u);

  EXPECT_TRUE(run(provider->health_check()));

  const auto seen = sim_->requests();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].path, "/v1/chat/completions");
  EXPECT_EQ(seen[1].path, "/v1/embeddings");
  EXPECT_EQ(seen[2].path, "/v1/models");
  provider.reset();
}

TEST_F(ProviderAdapterSim, ResetAfterTheRequestWasSentIsNotSentAgain) {
  // A provider's client keeps connections alive between calls. When the
  // upstream received a request and then reset the connection, the request
  // must fail (upstream_error) and must not be sent a second time: a chat
  // completion is not idempotent (it is billed, and may have side effects
  // through tools).
  config::ProviderConfig config;
  config.name = "openai";
  config.type = "openai_compat";
  config.base_url = "http://127.0.0.1:" + std::to_string(port_);
  config.api_key = "sk-openai";
  auto created = ProviderFactory::builtin().create(config, ProviderDeps{*client_});
  ASSERT_TRUE(created.ok()) << created.error().message;
  auto provider = std::move(created).value();
  const ChatRequest request = basic_request("gpt-4o-mini");

  auto warm = run(provider->complete(request));  // leaves a pooled keep-alive connection
  ASSERT_TRUE(warm.ok()) << warm.error().message;
  sim_->clear_requests();
  ASSERT_TRUE(sim_->set_fault("reset", 1, std::nullopt).ok());
  auto result = run(provider->complete(request));
  EXPECT_EQ(sim_->requests().size(), 1u) << "the upstream received the same POST more than once";
  ASSERT_FALSE(result.ok()) << "a reset after the request was received was retried: " << result->text;
  EXPECT_EQ(result.error().code, ErrorCode::upstream_error) << result.error().message;
}

TEST(ProviderAdapterFactory, SimTypeRunsAnInProcessSimulator) {
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  std::thread runner([&io] { io.run(); });
  {
    auto client = http::make_http_client(io.get_executor(), http::ClientOptions{});
    config::ProviderConfig config;
    config.name = "local-sim";
    config.type = "sim";
    config.locality = config::Locality::local;
    config.models = {{Tier::haiku, "sim-small"}};
    auto created = app::provider_factory().create(config, ProviderDeps{*client, &io});
    ASSERT_TRUE(created.ok()) << created.error().message;
    auto provider = std::move(created).value();
    EXPECT_EQ(provider->info().type, "sim");
    EXPECT_EQ(provider->info().name, "local-sim");
    ChatRequest request;
    request.model = "sim-small";
    request.messages.push_back(Message{Role::user, "ping the sim", {}, "", false, {}, nullptr, {}});
    auto completion = Pending<Result<Completion>>(io, provider->complete(request)).get();
    ASSERT_TRUE(completion.ok()) << completion.error().message;
    EXPECT_EQ(completion->text, "Echo: ping the sim");
    EXPECT_TRUE(Pending<bool>(io, provider->health_check()).get());
  }
  work.reset();
  io.stop();
  runner.join();
}

}  // namespace
}  // namespace aegis::providers
