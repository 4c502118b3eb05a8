// The egress guard as the adapters use it (ProviderDeps::egress ->
// HttpProvider::make_request -> http::ClientRequest::before_send): every
// adapter and every kind of request asks the guard once connected, and a
// refusal means the upstream never receives a byte.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "app/provider_types.hpp"
#include "classify/classifier.hpp"
#include "compliance/classifier_egress_guard.hpp"
#include "compliance/egress_guard.hpp"
#include "config/config.hpp"
#include "core/chat.hpp"
#include "core/result.hpp"
#include "http/client.hpp"
#include "providers/factory.hpp"
#include "providers/provider.hpp"
#include "sim/simulator.hpp"
#include "telemetry/metrics.hpp"

namespace aegis::providers {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

// Accepts connections and counts every byte they carry; never answers.
class SilentUpstream {
 public:
  explicit SilentUpstream(asio::io_context& io) : acceptor_(io, {asio::ip::make_address("127.0.0.1"), 0}) {
    asio::co_spawn(io, accept_loop(), asio::detached);
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

  // Waits until `connections` connections were accepted and closed by the client.
  bool wait_closed(int connections, std::chrono::seconds limit = 10s) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, limit, [&] { return accepted_ == connections && closed_ == connections; });
  }
  std::size_t bytes() const {
    std::lock_guard lock(mutex_);
    return bytes_;
  }
  int accepted() const {
    std::lock_guard lock(mutex_);
    return accepted_;
  }

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      {
        std::lock_guard lock(mutex_);
        ++accepted_;
      }
      asio::co_spawn(acceptor_.get_executor(), drain(std::move(socket)), asio::detached);
    }
  }
  asio::awaitable<void> drain(tcp::socket socket) {
    std::array<char, 4096> buffer{};
    for (;;) {
      auto [ec, n] = co_await socket.async_read_some(asio::buffer(buffer), asio::as_tuple(asio::use_awaitable));
      {
        std::lock_guard lock(mutex_);
        bytes_ += n;
      }
      if (ec) break;
    }
    {
      std::lock_guard lock(mutex_);
      ++closed_;
    }
    changed_.notify_all();
  }

  tcp::acceptor acceptor_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  int accepted_ = 0;
  int closed_ = 0;
  std::size_t bytes_ = 0;
};

// Refuses every send and remembers what it was asked.
class RefusingGuard final : public compliance::EgressGuard {
 public:
  struct Call {
    std::string provider;
    config::Locality declared;
    std::string remote_ip;
    std::string body;
  };
  Result<void> check(std::string_view provider, config::Locality declared, std::string_view remote_ip,
                     std::string_view body) override {
    std::lock_guard lock(mutex_);
    calls_.push_back({std::string(provider), declared, std::string(remote_ip), std::string(body)});
    return make_error(ErrorCode::egress_blocked, "refused by the test guard");
  }
  bool is_local_address(std::string_view) const override { return false; }
  std::vector<Call> calls() const {
    std::lock_guard lock(mutex_);
    return calls_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<Call> calls_;
};

class NullSink final : public DeltaSink {
 public:
  asio::awaitable<bool> on_event(const StreamEvent&) override {
    ++events;
    co_return true;
  }
  int events = 0;
};

ChatRequest chat(const std::string& model, std::string text) {
  ChatRequest r;
  r.model = model;
  Message m;
  m.role = Role::user;
  m.text = std::move(text);
  r.messages.push_back(std::move(m));
  r.max_tokens = 32;
  return r;
}

template <class T>
asio::awaitable<void> deliver_into(asio::awaitable<T> op, std::shared_ptr<std::optional<T>> out) {
  out->emplace(co_await std::move(op));
}

class EgressWiringTest : public ::testing::Test {
 protected:
  void SetUp() override {
    runner_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    providers_.clear();
    clients_.clear();
    work_.reset();
    io_.stop();
    runner_.join();
  }

  template <class T>
  T run(asio::awaitable<T> op) {
    auto out = std::make_shared<std::optional<T>>();
    auto done = asio::co_spawn(io_, deliver_into<T>(std::move(op), out), asio::use_future);
    if (done.wait_for(10s) != std::future_status::ready) {
      ADD_FAILURE() << "operation did not finish";
      std::abort();  // the io thread still references this test's objects
    }
    done.get();
    return std::move(**out);
  }

  LLMProvider& make(const config::ProviderConfig& config, compliance::EgressGuard* guard,
                    http::ClientOptions options = {}) {
    clients_.push_back(http::make_http_client(io_.get_executor(), std::move(options)));
    ProviderDeps deps{*clients_.back(), &io_, guard};
    auto created = app::provider_factory().create(config, deps);
    if (!created.ok()) {
      ADD_FAILURE() << created.error().message;
      std::abort();
    }
    providers_.push_back(std::move(created).value());
    return *providers_.back();
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::thread runner_;
  std::vector<std::unique_ptr<http::HttpClient>> clients_;
  std::vector<std::unique_ptr<LLMProvider>> providers_;
};

// ------------------------------------------------- every adapter, every send

struct AdapterType {
  std::string type;
  bool embeddings = true;
  config::Locality locality = config::Locality::cloud;
};

class EgressWiringPerAdapter : public EgressWiringTest, public ::testing::WithParamInterface<AdapterType> {
 protected:
  // Destroyed after TearDown has stopped the io thread that serves it.
  std::unique_ptr<SilentUpstream> upstream_;
};

TEST_P(EgressWiringPerAdapter, RefusedSendsNeverReachTheUpstream) {
  const AdapterType& param = GetParam();
  upstream_ = std::make_unique<SilentUpstream>(io_);
  SilentUpstream& upstream = *upstream_;
  RefusingGuard guard;
  config::ProviderConfig config;
  config.name = "guarded-" + param.type;
  config.type = param.type;
  config.base_url = "http://127.0.0.1:" + std::to_string(upstream.port());
  config.api_key = "test-key";
  config.api_version = "2024-10-21";
  config.locality = param.locality;
  config.models = {{Tier::sonnet, "model-x"}};
  config.embedding_model = param.embeddings ? "embed-x" : "";
  config.connect_timeout = 2'000ms;
  config.first_byte_timeout = 3'000ms;
  config.idle_timeout = 3'000ms;
  config.total_timeout = 5'000ms;
  // No keep-alive pool: a connection the guard refused is closed at once, so
  // the upstream's byte count is final as soon as it sees the close.
  http::ClientOptions options;
  options.max_idle_per_host = 0;
  LLMProvider& provider = make(config, &guard, options);

  const std::string text = "the prompt text for " + param.type;
  auto completed = run(provider.complete(chat("model-x", text)));
  ASSERT_FALSE(completed.ok());
  EXPECT_EQ(completed.error().code, ErrorCode::egress_blocked) << completed.error().message;
  EXPECT_EQ(http_status(completed.error().code), 500);

  NullSink sink;
  auto streamed = run(provider.stream(chat("model-x", text), sink));
  ASSERT_FALSE(streamed.ok());
  EXPECT_EQ(streamed.error().code, ErrorCode::egress_blocked) << streamed.error().message;
  EXPECT_EQ(sink.events, 0);

  int sends = 2;
  if (param.embeddings) {
    EmbedRequest embed;
    embed.model = "embed-x";
    embed.inputs = {"embed this text"};
    auto embedded = run(provider.embed(embed));
    ASSERT_FALSE(embedded.ok());
    EXPECT_EQ(embedded.error().code, ErrorCode::egress_blocked) << embedded.error().message;
    ++sends;
  }

  EXPECT_FALSE(run(provider.health_check()));
  ++sends;

  ASSERT_TRUE(upstream.wait_closed(sends)) << "accepted " << upstream.accepted() << " connections";
  EXPECT_EQ(upstream.bytes(), 0u) << "a refused send wrote to the upstream";

  const auto calls = guard.calls();
  ASSERT_EQ(calls.size(), static_cast<std::size_t>(sends));
  for (const auto& call : calls) {
    EXPECT_EQ(call.provider, config.name);
    EXPECT_EQ(call.declared, param.locality);
    EXPECT_EQ(call.remote_ip, "127.0.0.1");
  }
  // The guard sees the exact body that would have gone out.
  EXPECT_NE(calls[0].body.find(text), std::string::npos) << calls[0].body;
  EXPECT_NE(calls[1].body.find(text), std::string::npos) << calls[1].body;
  if (param.embeddings) {
    EXPECT_NE(calls[2].body.find("embed this text"), std::string::npos) << calls[2].body;
  }
  EXPECT_EQ(calls.back().body, "");  // the health check is a GET
}

INSTANTIATE_TEST_SUITE_P(Adapters, EgressWiringPerAdapter,
                         ::testing::Values(AdapterType{"anthropic", false, config::Locality::cloud},
                                           AdapterType{"azure_openai", true, config::Locality::cloud},
                                           AdapterType{"openai_compat", true, config::Locality::cloud},
                                           AdapterType{"ollama", true, config::Locality::local}),
                         [](const ::testing::TestParamInfo<AdapterType>& info) { return info.param.type; });

// ------------------------------------------ the real guard against the simulator

class EgressWiringWithClassifier : public EgressWiringTest {
 protected:
  void SetUp() override {
    EgressWiringTest::SetUp();
    sim_ = std::make_unique<sim::Simulator>(io_, sim::SimOptions{});
    port_ = sim_->start();
  }
  void TearDown() override {
    auto stopped = std::make_shared<std::promise<void>>();
    auto done = stopped->get_future();
    asio::post(io_, [this, stopped] { sim_->stop([stopped] { stopped->set_value(); }); });
    if (done.wait_for(10s) != std::future_status::ready) ADD_FAILURE() << "simulator did not stop";
    EgressWiringTest::TearDown();
  }

  config::ProviderConfig openai(config::Locality locality) const {
    config::ProviderConfig config;
    config.name = locality == config::Locality::local ? "vllm" : "openai";
    config.type = "openai_compat";
    config.base_url = "http://127.0.0.1:" + std::to_string(port_);
    config.api_key = "sk-test";
    config.locality = locality;
    return config;
  }

  double blocked(std::string_view provider) const {
    const std::string text = metrics_.expose();
    const std::string needle = "\naegis_pipeda_blocked_total{provider=\"" + std::string(provider) + "\"} ";
    const auto at = text.find(needle);
    return at == std::string::npos ? 0 : std::stod(text.substr(at + needle.size()));
  }

  std::unique_ptr<classify::Classifier> classifier_ = classify::make_classifier({});
  telemetry::Registry metrics_;
  compliance::ClassifierEgressGuard guard_{config::EgressConfig{}, *classifier_, nullptr, metrics_};
  std::unique_ptr<sim::Simulator> sim_;
  std::uint16_t port_ = 0;
};

constexpr std::string_view kRestricted = "my SIN is 046 454 286";

TEST_F(EgressWiringWithClassifier, CloudProviderSendsOnlyWhatIsNotRestricted) {
  LLMProvider& provider = make(openai(config::Locality::cloud), &guard_);
  auto refused = run(provider.complete(chat("gpt-4o-mini", std::string(kRestricted))));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::egress_blocked);
  EXPECT_NE(refused.error().message.find("CA_SIN"), std::string::npos) << refused.error().message;
  EXPECT_EQ(sim_->requests().size(), 0u);
  EXPECT_EQ(blocked("openai"), 1);

  auto masked = run(provider.complete(chat("gpt-4o-mini", "my SIN is CA_SIN_0")));
  ASSERT_TRUE(masked.ok()) << masked.error().message;
  EXPECT_EQ(masked->text, "Echo: my SIN is CA_SIN_0");
  EXPECT_EQ(sim_->requests().size(), 1u);
  EXPECT_EQ(blocked("openai"), 1);
}

TEST_F(EgressWiringWithClassifier, LocalProviderOnLoopbackMayReceiveRestrictedData) {
  LLMProvider& provider = make(openai(config::Locality::local), &guard_);
  auto answered = run(provider.complete(chat("llama", std::string(kRestricted))));
  ASSERT_TRUE(answered.ok()) << answered.error().message;
  EXPECT_EQ(sim_->requests().size(), 1u);
  EXPECT_EQ(blocked("vllm"), 0);
}

TEST_F(EgressWiringWithClassifier, SimTypeHandsTheGuardToItsAdapter) {
  config::ProviderConfig config;
  config.name = "sim-cloud";
  config.type = "sim";
  config.locality = config::Locality::cloud;
  LLMProvider& cloud = make(config, &guard_);
  auto refused = run(cloud.complete(chat("sim-model", std::string(kRestricted))));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::egress_blocked);
  EXPECT_EQ(blocked("sim-cloud"), 1);

  config.name = "sim-local";
  config.locality = config::Locality::local;
  LLMProvider& local = make(config, &guard_);
  auto answered = run(local.complete(chat("sim-model", std::string(kRestricted))));
  ASSERT_TRUE(answered.ok()) << answered.error().message;
}

}  // namespace
}  // namespace aegis::providers
