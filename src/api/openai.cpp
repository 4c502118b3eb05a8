#include "api/openai.hpp"

#include <chrono>

#include "api/access.hpp"
#include "api/chat_stream.hpp"
#include "core/json.hpp"
#include "http/json_response.hpp"
#include "wire/openai.hpp"

namespace aegis::api {

namespace json = boost::json;
using http::HttpRequest;
using http::HttpResponse;
using Awaitable = boost::asio::awaitable<HttpResponse>;

namespace {

std::int64_t now_unix() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

HttpResponse openai_error(const Error& error, const std::string& request_id) {
  return http::error_response(error, request_id);
}

class OpenAiEncoder final : public EventEncoder {
 public:
  explicit OpenAiEncoder(bool include_usage) : encoder_(include_usage, now_unix()) {}
  std::string encode(const StreamEvent& event) override { return encoder_.encode(event); }
  std::string encode_error(const Error& error) override { return wire::openai::encode_error(error); }
  std::string content_type() const override { return "text/event-stream"; }

 private:
  wire::openai::StreamEncoder encoder_;
};

}  // namespace

void register_openai_routes(http::Router& router, gateway::Gateway& gateway, const RequestLimits& limits) {
  router.add(
      "POST", "/v1/chat/completions", http::Credential::api_key,
      [&gateway, limits](HttpRequest& request, const http::Caller& caller) -> Awaitable {
        auto decode = [&limits](const json::object& body) { return wire::openai::parse_chat_request(body, limits); };
        AEGIS_CO_TRY(chat, http::decode_json_object(request, decode), openai_error, request.request_id);
        if (chat.stream) {
          auto encoder = std::make_unique<OpenAiEncoder>(chat.stream_include_usage);
          // Built before co_return: clang's analyzer evaluates a co_return operand twice.
          auto response =
              streamed_chat(gateway, request, principal_of(caller), std::move(chat), std::move(encoder), openai_error);
          co_return response;
        }
        // Named, not built inside the co_await expression (GCC 12 coroutine bug).
        CompletionWriter write_body = [](const Completion& completion) {
          return wire::openai::write_chat_response(completion, now_unix());
        };
        ErrorWriter write_error = openai_error;
        co_return co_await completed_chat(gateway, request, principal_of(caller), std::move(chat),
                                          std::move(write_body), std::move(write_error));
      });

  router.add(
      "POST", "/v1/embeddings", http::Credential::api_key,
      [&gateway, limits](HttpRequest& request, const http::Caller& caller) -> Awaitable {
        auto decode = [&limits](const json::object& body) { return wire::openai::parse_embed_request(body, limits); };
        AEGIS_CO_TRY(embed, http::decode_json_object(request, decode), openai_error, request.request_id);
        gateway::CallContext context;
        context.principal = principal_of(caller);
        context.task = "embedding";
        context.surface = "openai.embeddings";
        context.request_id = request.request_id;
        context.marked_public = marked_public(request);
        const bool base64 = embed.base64_response;
        auto outcome = co_await gateway.embed(context, std::move(embed));
        if (!outcome.ok()) {
          auto response = openai_error(outcome.error(), request.request_id);
          add_governance_headers(response, context);
          co_return response;
        }
        auto response = http::json_response(200, wire::openai::write_embed_response(outcome->embeddings, base64));
        add_governance_headers(response, context);
        co_return response;
      });

  router.add(
      "GET", "/v1/models", http::Credential::api_key,
      [&gateway](HttpRequest& request, const http::Caller&) -> Awaitable {
        const auto names = gateway.providers().model_names();
        // The Anthropic SDK lists models in its own shape; it always sends anthropic-version.
        if (request.header("anthropic-version")) {
          json::array data;
          for (const auto& name : names) {
            data.push_back(json::object{
                {"type", "model"}, {"id", name}, {"display_name", name}, {"created_at", "1970-01-01T00:00:00Z"}});
          }
          json::object out{{"data", data}, {"has_more", false}};
          out["first_id"] = names.empty() ? json::value(nullptr) : json::value(names.front());
          out["last_id"] = names.empty() ? json::value(nullptr) : json::value(names.back());
          co_return http::json_response(200, out);
        }
        json::array data;
        for (const auto& name : names) {
          data.push_back(json::object{{"id", name}, {"object", "model"}, {"created", 0}, {"owned_by", "aegis"}});
        }
        co_return http::json_response(200, json::object{{"object", "list"}, {"data", std::move(data)}});
      });
}

}  // namespace aegis::api
