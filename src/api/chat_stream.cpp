#include "api/chat_stream.hpp"

#include "api/rate_headers.hpp"
#include "http/json_response.hpp"
#include "routing/router.hpp"

namespace aegis::api {

namespace {

class ClientSink final : public providers::DeltaSink {
 public:
  ClientSink(http::ResponseWriter& writer, EventEncoder& encoder, const gateway::CallContext& context)
      : writer_(writer), encoder_(encoder), context_(context) {}

  boost::asio::awaitable<bool> on_event(const StreamEvent& event) override {
    if (!writer_.committed()) {
      writer_.set_status(200);
      writer_.set_header("content-type", encoder_.content_type());
      writer_.set_header("cache-control", "no-cache");
      writer_.set_header("x-aegis-route", context_.route.header_value());
      writer_.set_header("x-aegis-classification", std::string(to_string(context_.level)));
      writer_.set_header("x-aegis-masked", std::to_string(context_.masked));
      add_rate_limit_headers(writer_, context_);
      if (context_.cache != gateway::CallContext::CacheResult::none)
        writer_.set_header("x-aegis-cache", std::string(gateway::to_string(context_.cache)));
    }
    if (event.kind == StreamEvent::Kind::finish) co_await encoder_.before_finish(event);
    co_return co_await writer_.write(encoder_.encode(event));
  }

 private:
  http::ResponseWriter& writer_;
  EventEncoder& encoder_;
  const gateway::CallContext& context_;
};

}  // namespace

bool marked_public(const http::HttpRequest& request) {
  auto header = request.header("x-aegis-classification");
  return header && http::iequals(*header, "public");
}

void add_rate_limit_headers(http::ResponseWriter& writer, const gateway::CallContext& context) {
  for (auto& h : rate_limit_headers(context.rate, rate_header_style(context), std::chrono::system_clock::now())) {
    writer.set_header(std::move(h.name), std::move(h.value));
  }
}

void add_governance_headers(http::HttpResponse& response, const gateway::CallContext& context) {
  for (auto& h : rate_limit_headers(context.rate, rate_header_style(context), std::chrono::system_clock::now())) {
    response.set_header(std::move(h.name), std::move(h.value));
  }
  response.set_header("x-aegis-classification", std::string(to_string(context.level)));
  if (!context.route.provider.empty()) response.set_header("x-aegis-route", context.route.header_value());
  if (!context.route.provider.empty()) response.set_header("x-aegis-cost-usd", context.cost.to_usd_string());
  if (!context.route.provider.empty()) response.set_header("x-aegis-masked", std::to_string(context.masked));
  if (context.cache != gateway::CallContext::CacheResult::none)
    response.set_header("x-aegis-cache", std::string(gateway::to_string(context.cache)));
}

namespace {
// The audit's name for the endpoint a chat request came through.
std::string surface_of(const http::HttpRequest& request) {
  if (request.route == "/v1/messages") return "anthropic.messages";
  if (request.route == "/v1/responses") return "openai.responses";
  return "openai.chat";
}
}  // namespace

Error for_client(Error error) {
  if (error.code != ErrorCode::cancelled) return error;
  return make_error(ErrorCode::unavailable,
                    "the gateway is shutting down: the request was cut off at its drain deadline; retry it");
}

Result<bool> cache_opt_in(const http::HttpRequest& request) {
  auto header = request.header("x-aegis-cache");
  if (!header) return false;
  if (http::iequals(*header, "allow")) return true;
  return make_error(ErrorCode::invalid_request,
                    "x-aegis-cache must be 'allow' (answer this request from the response cache even without "
                    "temperature 0)");
}

Result<std::string> task_of(const http::HttpRequest& request) {
  auto header = request.header("x-aegis-task");
  if (!header) return std::string("chat");
  const std::string_view task = *header;
  // The same alphabet as routing.task_tiers keys, so every configured task can be asked for.
  if (!routing::is_valid_task_name(task))
    return make_error(ErrorCode::invalid_request, "x-aegis-task must be 1..64 of [A-Za-z0-9_.-]");
  return std::string(task);
}

boost::asio::awaitable<http::HttpResponse> completed_chat(gateway::Gateway& gateway, const http::HttpRequest& request,
                                                          const identity::Principal* principal, ChatRequest chat,
                                                          CompletionWriter write_body, ErrorWriter write_error) {
  AEGIS_CO_TRY(task, task_of(request), write_error, request.request_id);
  AEGIS_CO_TRY(opt_in, cache_opt_in(request), write_error, request.request_id);
  gateway::CallContext context;
  context.principal = principal;
  context.task = task;
  context.use_response_cache = true;
  context.cache_opt_in = opt_in;
  context.marked_public = marked_public(request);
  context.surface = surface_of(request);
  context.request_id = request.request_id;
  auto outcome = co_await gateway.complete(context, std::move(chat));
  if (!outcome.ok()) {
    auto response = write_error(for_client(outcome.error()), request.request_id);
    add_governance_headers(response, context);
    co_return response;
  }
  auto response = http::json_response(200, write_body(outcome->completion));
  add_governance_headers(response, context);
  co_return response;
}

http::HttpResponse streamed_chat(gateway::Gateway& gateway, const http::HttpRequest& request,
                                 const identity::Principal* principal, ChatRequest chat,
                                 std::unique_ptr<EventEncoder> encoder, ErrorWriter write_error) {
  http::HttpResponse response;
  AEGIS_TRY(task, task_of(request), write_error, request.request_id);
  AEGIS_TRY(opt_in, cache_opt_in(request), write_error, request.request_id);
  struct State {
    std::optional<identity::Principal> principal;  // the context points here: it outlives the handler
    gateway::CallContext context;
    ChatRequest chat;
    std::unique_ptr<EventEncoder> encoder;
    ErrorWriter write_error;
    std::string request_id;
  };
  auto state = std::make_shared<State>();
  if (principal) state->principal = *principal;
  state->context.principal = state->principal ? &*state->principal : nullptr;
  state->context.task = task;
  state->context.use_response_cache = true;
  state->context.cache_opt_in = opt_in;
  state->context.marked_public = marked_public(request);
  state->context.surface = surface_of(request);
  state->context.request_id = request.request_id;
  state->chat = std::move(chat);
  state->encoder = std::move(encoder);
  state->write_error = std::move(write_error);
  state->request_id = request.request_id;

  response.stream_body = [&gateway, state](http::ResponseWriter& writer) -> boost::asio::awaitable<void> {
    ClientSink sink(writer, *state->encoder, state->context);
    auto outcome = co_await gateway.stream(state->context, std::move(state->chat), sink);
    if (outcome.ok()) co_return;
    const Error error = for_client(outcome.error());
    if (!writer.committed()) {
      auto error_response = state->write_error(error, state->request_id);
      writer.set_status(error_response.status);
      for (auto& h : error_response.headers) writer.set_header(h.name, h.value);
      if (!state->context.route.provider.empty())
        writer.set_header("x-aegis-route", state->context.route.header_value());
      writer.set_header("x-aegis-classification", std::string(to_string(state->context.level)));
      add_rate_limit_headers(writer, state->context);
      if (state->context.cache != gateway::CallContext::CacheResult::none)
        writer.set_header("x-aegis-cache", std::string(gateway::to_string(state->context.cache)));
      writer.set_body(std::move(error_response.body));
      co_return;
    }
    co_await writer.write(state->encoder->encode_error(error));
  };
  return response;
}

}  // namespace aegis::api
