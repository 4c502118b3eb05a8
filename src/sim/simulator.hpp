#pragma once
// The provider simulator (`aegis sim`, `aegis serve --demo`, tests and
// benchmarks): a loopback HTTP server that speaks the real wire protocols of
// Anthropic Messages, Azure OpenAI, OpenAI-compatible servers (vLLM) and
// Ollama on the same paths as the real services, with deterministic answers,
// latency knobs and fault injection.
//
// Provider endpoints
//   POST /v1/messages                                   Anthropic (x-api-key, anthropic-version)
//   POST /openai/deployments/{d}/chat/completions       Azure OpenAI (?api-version=, api-key)
//   POST /openai/deployments/{d}/embeddings             Azure OpenAI
//   POST /v1/chat/completions, /v1/embeddings           OpenAI-compatible (Authorization: Bearer)
//   GET  /v1/models                                     OpenAI shape; Anthropic shape with anthropic headers
//   POST /api/chat, /api/embed, /api/embeddings         Ollama (stream defaults to true)
//   GET  /api/tags, /api/version, /                     Ollama
// Control endpoints (never recorded, never faulted)
//   POST   /_sim/faults    {"mode","count"|"rate","seed"?,"ttft_ms"?,"per_token_ms"?}
//   GET    /_sim/faults    the current fault and latency settings
//   GET    /_sim/requests  {"requests":[{"method","path","query","headers","body","time"}]}
//   DELETE /_sim/requests
//   GET    /_sim/health
//
// Answers quote the last user message back ("Echo: <text>", every word and
// placeholder exactly as sent); usage is ceil(bytes/4) of all system and
// message text in, one token per streamed piece out; max_tokens and stop
// sequences cut the answer; with tools given and "use tool" in the last user
// text, the answer is a call to the first tool with arguments {}.
#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "http/message.hpp"

namespace boost::asio {
class io_context;
}

namespace aegis::http {
class Server;
}

namespace aegis::sim {

struct SimOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::chrono::milliseconds time_to_first_token{0};
  std::chrono::milliseconds per_token_delay{0};
  std::size_t request_log_size = 200;
  std::string name = "sim";
};

struct RecordedRequest {
  std::string method, path, query;
  std::vector<http::Header> headers;  // credentials removed (authorization, x-api-key, api-key, proxy-authorization)
  std::string body;
  std::int64_t time_unix_ms = 0;
};

// {"method","path","query","headers":{lower-case name: value},"body","time"} as GET /_sim/requests shows it.
boost::json::object request_to_json(const RecordedRequest& request);

struct FaultStatus {
  std::string mode = "none";
  std::optional<std::int64_t> remaining;  // count mode: faults still to inject
  std::optional<double> rate;             // rate mode
  std::uint64_t seed = 42;
  std::chrono::milliseconds time_to_first_token{0};
  std::chrono::milliseconds per_token_delay{0};
};

class Simulator {
 public:
  Simulator(boost::asio::io_context& io, SimOptions options);
  ~Simulator();
  Simulator(const Simulator&) = delete;
  Simulator& operator=(const Simulator&) = delete;

  // Binds and starts accepting; returns the bound port. Throws when the address cannot be bound.
  std::uint16_t start();
  // Stops accepting, releases hung requests (their connections are reset) and
  // lets in-flight answers finish. Safe to call twice.
  void stop();
  // The same; `on_stopped` runs (on an I/O thread) once every connection is gone.
  void stop(std::function<void()> on_stopped);

  std::uint16_t port() const noexcept;
  const SimOptions& options() const noexcept;

  std::vector<RecordedRequest> requests() const;  // oldest first
  void clear_requests();

  // mode: none|status_429|status_500|status_503|reset|hang|truncate|garbage;
  // exactly one of count/rate (neither for none). `count` N: the next N
  // provider requests; `rate` r in [0,1]: each request with probability r,
  // drawn from a PRNG seeded with `seed` at this call (a repeatable sequence).
  Result<void> set_fault(std::string_view mode, std::optional<std::int64_t> count, std::optional<double> rate);
  Result<void> set_fault(std::string_view mode, std::optional<std::int64_t> count, std::optional<double> rate,
                         std::uint64_t seed);
  FaultStatus fault() const;
  void set_latency(std::chrono::milliseconds time_to_first_token, std::chrono::milliseconds per_token_delay);

  struct State;  // shared with in-flight requests

 private:
  boost::asio::io_context& io_;
  std::shared_ptr<State> state_;
  std::unique_ptr<http::Server> server_;
  std::uint16_t port_ = 0;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace aegis::sim
