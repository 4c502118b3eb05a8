#include "sim/simulator.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>

#include <atomic>
#include <cmath>
#include <deque>
#include <map>
#include <mutex>

#include "core/json.hpp"
#include "core/time_format.hpp"
#include "http/json_response.hpp"
#include "http/server.hpp"
#include "sim/sim_core.hpp"

namespace aegis::sim {

namespace asio = boost::asio;
namespace json = boost::json;
using detail::FaultMode;
using detail::Reply;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
// A hung request is released after this long even if nobody stops the simulator.
constexpr std::chrono::hours kMaxHang{1};

bool is_credential(std::string_view name) {
  return http::iequals(name, "authorization") || http::iequals(name, "proxy-authorization") ||
         http::iequals(name, "x-api-key") || http::iequals(name, "api-key");
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

boost::json::object request_to_json(const RecordedRequest& request) {
  json::object headers;
  for (const auto& h : request.headers) {
    const std::string name = lower(h.name);
    if (auto* existing = headers.if_contains(name)) {
      std::string joined(existing->as_string());
      joined += ", ";
      joined += h.value;
      *existing = joined;
    } else {
      headers[name] = h.value;
    }
  }
  return json::object{{"method", request.method},
                      {"path", request.path},
                      {"query", request.query},
                      {"headers", std::move(headers)},
                      {"body", request.body},
                      {"time", format_rfc3339_ms(request.time_unix_ms)},
                      {"time_unix_ms", request.time_unix_ms}};
}

struct Simulator::State {
  explicit State(SimOptions o)
      : options(std::move(o)), ttft(options.time_to_first_token), per_token(options.per_token_delay) {}

  struct Hang {
    std::weak_ptr<asio::steady_timer> timer;
    asio::any_io_executor executor;
  };

  const SimOptions options;
  std::atomic<std::uint64_t> sequence{0};

  mutable std::mutex mutex;  // guards everything below
  std::deque<RecordedRequest> log;
  detail::FaultPlan faults;
  detail::PromptCache prompt_cache;  // guards itself
  std::chrono::milliseconds ttft;
  std::chrono::milliseconds per_token;
  bool stopping = false;
  std::uint64_t next_hang = 0;
  std::map<std::uint64_t, Hang> hangs;

  void record(const http::HttpRequest& request) {
    RecordedRequest r;
    r.method = request.method;
    r.path = request.path;
    r.query = request.query;
    r.body = request.body;
    r.time_unix_ms = now_unix_ms();
    for (const auto& h : request.headers) {
      if (!is_credential(h.name)) r.headers.push_back(h);
    }
    std::lock_guard lock(mutex);
    if (options.request_log_size == 0) return;
    log.push_back(std::move(r));
    while (log.size() > options.request_log_size) log.pop_front();
  }

  FaultStatus status() const {
    std::lock_guard lock(mutex);
    FaultStatus s;
    s.mode = std::string(detail::to_string(faults.mode()));
    s.remaining = faults.remaining();
    s.rate = faults.rate();
    s.seed = faults.seed();
    s.time_to_first_token = ttft;
    s.per_token_delay = per_token;
    return s;
  }

  void release_hangs() {
    std::lock_guard lock(mutex);
    stopping = true;
    for (auto& [id, hang] : hangs) {
      if (auto timer = hang.timer.lock()) {
        // Cancelled on the connection's strand, where the wait runs.
        asio::post(hang.executor, [timer] { timer->cancel(); });
      }
    }
  }
};

namespace {

using StatePtr = std::shared_ptr<Simulator::State>;

json::object status_json(const FaultStatus& s) {
  json::object o{{"mode", s.mode}};
  if (s.remaining) o["count"] = *s.remaining;
  if (s.rate) o["rate"] = *s.rate;
  o["seed"] = s.seed;
  o["ttft_ms"] = s.time_to_first_token.count();
  o["per_token_ms"] = s.per_token_delay.count();
  return o;
}

// What a streamed reply sends, and how it misbehaves.
struct StreamPlan {
  std::vector<detail::Frame> frames;
  detail::StreamFormat format = detail::StreamFormat::sse;
  std::size_t send = 0;                                // frames to send
  std::size_t corrupt = static_cast<std::size_t>(-1);  // frame sent malformed (garbage)
  bool abort = false;                                  // cut the connection after `send` (truncate)
  std::chrono::milliseconds ttft{0};
  std::chrono::milliseconds per_token{0};
};

asio::awaitable<void> pause(std::chrono::milliseconds delay) {
  if (delay.count() <= 0) co_return;
  asio::steady_timer timer(co_await asio::this_coro::executor, delay);
  co_await timer.async_wait(kNoThrow);
}

asio::awaitable<void> write_stream(std::shared_ptr<const StreamPlan> plan, http::ResponseWriter& writer) {
  bool first_token = true;
  for (std::size_t i = 0; i < plan->send && i < plan->frames.size(); ++i) {
    const auto& frame = plan->frames[i];
    if (frame.token) {
      co_await pause(first_token ? plan->ttft : plan->per_token);
      first_token = false;
    }
    const std::string text =
        i == plan->corrupt ? detail::corrupt_frame(frame, plan->format) : detail::serialize_frame(frame, plan->format);
    if (!co_await writer.write(text)) co_return;
  }
  if (plan->abort) writer.abort();
}

asio::awaitable<void> write_truncated_body(std::shared_ptr<const std::string> body, http::ResponseWriter& writer) {
  const std::string_view text(*body);
  const std::string_view head = text.substr(0, std::max<std::size_t>(1, text.size() / 2));
  if (co_await writer.write(head)) writer.abort();
}

http::HttpResponse headers_only(const Reply& reply) {
  http::HttpResponse response;
  response.status = reply.status;
  response.headers = reply.headers;
  return response;
}

// Index of the first token frame (or 0) and of the last one.
std::pair<std::size_t, std::size_t> token_span(const std::vector<detail::Frame>& frames) {
  std::size_t first = frames.size(), last = 0;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    if (!frames[i].token) continue;
    if (first == frames.size()) first = i;
    last = i;
  }
  if (first == frames.size()) return {0, 0};
  return {first, last};
}

http::HttpResponse to_response(Reply reply, FaultMode fault, std::chrono::milliseconds ttft,
                               std::chrono::milliseconds per_token) {
  if (reply.streaming) {
    auto plan = std::make_shared<StreamPlan>();
    plan->format = reply.format;
    plan->ttft = ttft;
    plan->per_token = per_token;
    plan->send = reply.frames.size();
    const auto [first, last] = token_span(reply.frames);
    if (fault == FaultMode::truncate) {
      // Some events, at least one piece of the answer, never the final event.
      std::size_t keep = std::max(first + 1, reply.frames.size() / 2);
      keep = std::min(keep, reply.frames.size() - 1);
      plan->send = keep;
      plan->abort = true;
    } else if (fault == FaultMode::garbage) {
      plan->corrupt = first + (last - first) / 2;
    }
    plan->frames = std::move(reply.frames);
    http::HttpResponse response = headers_only(reply);
    response.stream_body = [plan](http::ResponseWriter& writer) { return write_stream(plan, writer); };
    return response;
  }
  if (fault == FaultMode::truncate) {
    auto body = std::make_shared<const std::string>(std::move(reply.body));
    http::HttpResponse response = headers_only(reply);
    response.stream_body = [body](http::ResponseWriter& writer) { return write_truncated_body(body, writer); };
    return response;
  }
  http::HttpResponse response = headers_only(reply);
  if (fault == FaultMode::garbage) {
    response.status = 200;
    response.body = reply.body.substr(0, reply.body.size() / 2) + "\x1b<simulated garbage>";
    return response;
  }
  response.body = std::move(reply.body);
  return response;
}

// Waits until stop() or kMaxHang; the caller then resets the connection.
asio::awaitable<void> hang(StatePtr state) {
  auto executor = co_await asio::this_coro::executor;
  auto timer = std::make_shared<asio::steady_timer>(executor, kMaxHang);
  std::uint64_t id = 0;
  {
    std::lock_guard lock(state->mutex);
    if (state->stopping) co_return;
    id = ++state->next_hang;
    state->hangs.emplace(id, Simulator::State::Hang{timer, executor});
  }
  co_await timer->async_wait(kNoThrow);
  std::lock_guard lock(state->mutex);
  state->hangs.erase(id);
}

http::HttpResponse control_error(int status, std::string message, const http::HttpRequest& request) {
  ErrorCode code = ErrorCode::invalid_request;
  if (status == 404) code = ErrorCode::not_found;
  if (status == 405) code = ErrorCode::method_not_allowed;
  return http::error_response(make_error(code, std::move(message)), request.request_id);
}

http::HttpResponse set_faults(const StatePtr& state, const http::HttpRequest& request) {
  boost::system::error_code ec;
  json::value value = json::parse(request.body, ec);
  if (ec || !value.is_object()) return control_error(400, "body must be a JSON object", request);
  const auto& body = value.as_object();
  if (auto unknown = http::reject_unknown_fields(body, {"mode", "count", "rate", "seed", "ttft_ms", "per_token_ms"});
      !unknown.ok()) {
    return control_error(400, unknown.error().message, request);
  }
  std::optional<std::string> mode;
  std::optional<std::int64_t> count;
  std::optional<double> rate;
  std::uint64_t seed = detail::FaultPlan::kDefaultSeed;
  std::optional<std::chrono::milliseconds> ttft, per_token;
  if (const auto* m = body.if_contains("mode")) {
    if (!m->is_string()) return control_error(400, "'mode' must be a string", request);
    mode = std::string(m->get_string());
  }
  if (const auto* c = body.if_contains("count"); c && !c->is_null()) {
    if (c->is_int64()) {
      count = c->get_int64();
    } else if (c->is_uint64() && c->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
      count = static_cast<std::int64_t>(c->get_uint64());
    } else {
      return control_error(400, "'count' must be an integer", request);
    }
  }
  if (const auto* r = body.if_contains("rate"); r && !r->is_null()) {
    if (r->is_double()) {
      rate = r->get_double();
    } else if (r->is_int64()) {
      rate = static_cast<double>(r->get_int64());
    } else if (r->is_uint64()) {
      rate = static_cast<double>(r->get_uint64());
    } else {
      return control_error(400, "'rate' must be a number", request);
    }
  }
  if (const auto* s = body.if_contains("seed"); s && !s->is_null()) {
    if (s->is_uint64()) {
      seed = s->get_uint64();
    } else if (s->is_int64() && s->get_int64() >= 0) {
      seed = static_cast<std::uint64_t>(s->get_int64());
    } else {
      return control_error(400, "'seed' must be a non-negative integer", request);
    }
  }
  for (auto [name, target] : {std::pair{"ttft_ms", &ttft}, std::pair{"per_token_ms", &per_token}}) {
    if (const auto* v = body.if_contains(name); v && !v->is_null()) {
      const bool ok = (v->is_int64() && v->get_int64() >= 0) || v->is_uint64();
      if (!ok) return control_error(400, "'" + std::string(name) + "' must be a non-negative integer", request);
      const std::int64_t ms = v->is_int64() ? v->get_int64() : static_cast<std::int64_t>(v->get_uint64());
      *target = std::chrono::milliseconds(std::min<std::int64_t>(ms, 3'600'000));
    }
  }
  if (!mode && !ttft && !per_token) return control_error(400, "'mode' is required", request);
  {
    std::lock_guard lock(state->mutex);
    if (mode) {
      auto result = state->faults.set(*mode, count, rate, seed);
      if (!result.ok()) return control_error(400, result.error().message, request);
    } else if (count || rate) {
      return control_error(400, "'count' and 'rate' need a 'mode'", request);
    }
    if (ttft) state->ttft = *ttft;
    if (per_token) state->per_token = *per_token;
  }
  return http::json_response(200, status_json(state->status()));
}

http::HttpResponse control(const StatePtr& state, const http::HttpRequest& request) {
  const std::string& path = request.path;
  const std::string_view method = request.method == "HEAD" ? std::string_view("GET") : std::string_view(request.method);
  auto wrong_method = [&](std::string allow) {
    auto response = control_error(405, "method " + request.method + " is not allowed on " + path, request);
    response.set_header("allow", std::move(allow));
    return response;
  };
  if (path == "/_sim/health") {
    if (method != "GET") return wrong_method("GET");
    return http::json_response(200, json::object{{"status", "ok"}, {"simulator", state->options.name}});
  }
  if (path == "/_sim/faults") {
    if (method == "GET") return http::json_response(200, status_json(state->status()));
    if (method == "POST") return set_faults(state, request);
    return wrong_method("GET, POST");
  }
  if (path == "/_sim/requests") {
    if (method == "GET") {
      json::array list;
      {
        std::lock_guard lock(state->mutex);
        for (const auto& r : state->log) list.push_back(request_to_json(r));
      }
      return http::json_response(200, json::object{{"requests", std::move(list)}});
    }
    if (method == "DELETE") {
      {
        std::lock_guard lock(state->mutex);
        state->log.clear();
      }
      http::HttpResponse response;
      response.status = 204;
      return response;
    }
    return wrong_method("GET, DELETE");
  }
  return control_error(404, "no simulator control endpoint " + path, request);
}

asio::awaitable<http::HttpResponse> handle(StatePtr state, http::HttpRequest& request) {
  if (request.path == "/_sim" || request.path.starts_with("/_sim/")) co_return control(state, request);

  state->record(request);
  detail::Context context{state->sequence.fetch_add(1) + 1, now_unix_ms(), &state->prompt_cache};
  FaultMode fault;
  std::chrono::milliseconds ttft, per_token;
  {
    std::lock_guard lock(state->mutex);
    fault = state->faults.next();
    ttft = state->ttft;
    per_token = state->per_token;
  }
  const detail::Protocol protocol = detail::protocol_for(request);
  switch (fault) {
    case FaultMode::status_429:
      co_return to_response(detail::fault_reply(protocol, 429, context), FaultMode::none, ttft, per_token);
    case FaultMode::status_500:
      co_return to_response(detail::fault_reply(protocol, 500, context), FaultMode::none, ttft, per_token);
    case FaultMode::status_503:
      co_return to_response(detail::fault_reply(protocol, 503, context), FaultMode::none, ttft, per_token);
    case FaultMode::reset: {
      http::HttpResponse response;
      response.reset_connection = true;
      co_return response;
    }
    case FaultMode::hang: {
      co_await hang(state);
      http::HttpResponse response;
      response.reset_connection = true;
      co_return response;
    }
    case FaultMode::none:
    case FaultMode::truncate:
    case FaultMode::garbage: break;
  }
  Reply reply = detail::handle_provider_request(request, context);
  if (!reply.streaming && reply.status == 200 && reply.output_tokens > 0 && fault == FaultMode::none) {
    // A non-streamed answer arrives when its last token would have.
    co_await pause(ttft + per_token * (reply.output_tokens - 1));
  }
  // NOLINTNEXTLINE(clang-analyzer-cplusplus.Move): moved once; the analyzer misreads the coroutine frame
  co_return to_response(std::move(reply), fault, ttft, per_token);
}

}  // namespace

Simulator::Simulator(asio::io_context& io, SimOptions options)
    : io_(io), state_(std::make_shared<State>(std::move(options))) {
  config::ServerConfig server;
  server.host = state_->options.host;
  server.port = state_->options.port;
  server.max_body_bytes = std::size_t{32} * 1024 * 1024;
  server.read_timeout = std::chrono::seconds(30);
  server.idle_timeout = std::chrono::seconds(60);
  server.write_timeout = std::chrono::seconds(30);
  server.drain_timeout = std::chrono::seconds(5);
  StatePtr state = state_;
  server_ = std::make_unique<http::Server>(io_, server,
                                           [state](http::HttpRequest& request) { return handle(state, request); });
}

Simulator::~Simulator() {
  if (started_ && !stopped_) stop();
}

std::uint16_t Simulator::start() {
  port_ = server_->start();
  started_ = true;
  return port_;
}

void Simulator::stop() { stop({}); }

void Simulator::stop(std::function<void()> on_stopped) {
  if (stopped_ || !started_) {
    stopped_ = true;
    if (on_stopped) asio::post(io_, std::move(on_stopped));
    return;
  }
  stopped_ = true;
  state_->release_hangs();
  server_->drain([done = std::move(on_stopped)](bool) {
    if (done) done();
  });
}

std::uint16_t Simulator::port() const noexcept { return port_; }

const SimOptions& Simulator::options() const noexcept { return state_->options; }

std::vector<RecordedRequest> Simulator::requests() const {
  std::lock_guard lock(state_->mutex);
  return {state_->log.begin(), state_->log.end()};
}

void Simulator::clear_requests() {
  std::lock_guard lock(state_->mutex);
  state_->log.clear();
}

Result<void> Simulator::set_fault(std::string_view mode, std::optional<std::int64_t> count,
                                  std::optional<double> rate) {
  return set_fault(mode, count, rate, detail::FaultPlan::kDefaultSeed);
}

Result<void> Simulator::set_fault(std::string_view mode, std::optional<std::int64_t> count, std::optional<double> rate,
                                  std::uint64_t seed) {
  std::lock_guard lock(state_->mutex);
  return state_->faults.set(mode, count, rate, seed);
}

FaultStatus Simulator::fault() const { return state_->status(); }

void Simulator::set_latency(std::chrono::milliseconds time_to_first_token, std::chrono::milliseconds per_token_delay) {
  std::lock_guard lock(state_->mutex);
  state_->ttft = std::max(time_to_first_token, std::chrono::milliseconds(0));
  state_->per_token = std::max(per_token_delay, std::chrono::milliseconds(0));
}

}  // namespace aegis::sim
