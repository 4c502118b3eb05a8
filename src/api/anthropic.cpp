#include "api/anthropic.hpp"

#include <boost/json/parse.hpp>

#include "api/access.hpp"
#include "api/chat_stream.hpp"
#include "core/json.hpp"
#include "http/json_response.hpp"
#include "wire/anthropic.hpp"

namespace aegis::api {

using http::HttpRequest;
using http::HttpResponse;

namespace {

// The project's error shape (docs/ARCHITECTURE.md) plus Anthropic's top-level "type":"error", so
// both generic clients and the Anthropic SDK read it.
HttpResponse anthropic_error(const Error& error, const std::string& request_id) {
  HttpResponse response = http::error_response(error, request_id);
  boost::system::error_code ec;
  auto body = boost::json::parse(response.body, ec);
  if (!ec && body.is_object()) {
    body.as_object()["type"] = "error";
    response.body = to_json(body);
  }
  return response;
}

class AnthropicEncoder final : public EventEncoder {
 public:
  std::string encode(const StreamEvent& event) override { return encoder_.encode(event); }
  std::string encode_error(const Error& error) override { return wire::anthropic::encode_error(error); }
  std::string content_type() const override { return "text/event-stream"; }

 private:
  wire::anthropic::StreamEncoder encoder_;
};

}  // namespace

void register_anthropic_routes(http::Router& router, gateway::Gateway& gateway, const RequestLimits& limits) {
  router.add(
      "POST", "/v1/messages", http::Credential::api_key,
      [&gateway, limits](HttpRequest& request, const http::Caller& caller) -> boost::asio::awaitable<HttpResponse> {
        auto decode = [&limits](const boost::json::object& body) {
          return wire::anthropic::parse_chat_request(body, limits);
        };
        AEGIS_CO_TRY(chat, http::decode_json_object(request, decode), anthropic_error, request.request_id);
        if (chat.stream) {
          // Built before co_return: clang's analyzer evaluates a co_return operand twice.
          auto response = streamed_chat(gateway, request, principal_of(caller), std::move(chat),
                                        std::make_unique<AnthropicEncoder>(), anthropic_error);
          co_return response;
        }
        // Named, not built inside the co_await expression (GCC 12 coroutine bug).
        CompletionWriter write_body = [](const Completion& completion) {
          return wire::anthropic::write_chat_response(completion);
        };
        ErrorWriter write_error = anthropic_error;
        co_return co_await completed_chat(gateway, request, principal_of(caller), std::move(chat),
                                          std::move(write_body), std::move(write_error));
      });
}

}  // namespace aegis::api
