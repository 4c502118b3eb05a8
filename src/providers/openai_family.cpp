#include "providers/openai_family.hpp"

#include "core/json.hpp"
#include "wire/openai.hpp"

namespace aegis::providers {

namespace {

const ErrorMapper kMapError = wire::openai::map_upstream_error;

}  // namespace

boost::asio::awaitable<Result<Completion>> OpenAiFamilyProvider::complete(const ChatRequest& request) {
  ChatRequest upstream = request;
  upstream.stream = false;
  auto body = wire::openai::write_chat_request(upstream, request.model);
  if (!model_in_body()) body.erase("model");
  auto http_request = make_request("POST", chat_url(request.model), to_json(body));
  for (auto& h : auth_headers()) http_request.headers.push_back(std::move(h));
  co_return co_await exchange_json(std::move(http_request), kMapError, &wire::openai::parse_chat_response);
}

boost::asio::awaitable<Result<void>> OpenAiFamilyProvider::stream(const ChatRequest& request, DeltaSink& sink) {
  ChatRequest upstream = request;
  upstream.stream = true;
  auto body = wire::openai::write_chat_request(upstream, request.model);
  if (!model_in_body()) body.erase("model");
  auto http_request = make_request("POST", chat_url(request.model), to_json(body));
  http_request.headers.push_back({"accept", "text/event-stream"});
  for (auto& h : auth_headers()) http_request.headers.push_back(std::move(h));
  SseStreamDecoding<wire::openai::StreamDecoder> decoding;
  co_return co_await exchange_stream(std::move(http_request), kMapError, decoding, sink);
}

boost::asio::awaitable<Result<Embeddings>> OpenAiFamilyProvider::embed(const EmbedRequest& request) {
  auto body = wire::openai::write_embed_request(request, request.model);
  if (!model_in_body()) body.erase("model");
  auto http_request = make_request("POST", embeddings_url(request.model), to_json(body));
  for (auto& h : auth_headers()) http_request.headers.push_back(std::move(h));
  co_return co_await exchange_json(std::move(http_request), kMapError, &wire::openai::parse_embed_response);
}

boost::asio::awaitable<bool> OpenAiFamilyProvider::health_check() {
  co_return co_await probe(health_url(), auth_headers());
}

}  // namespace aegis::providers
