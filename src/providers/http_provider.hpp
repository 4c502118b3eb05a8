#pragma once
// What every HTTP-speaking adapter shares: request building with the
// provider's timeouts, a max_concurrency guard, JSON exchanges with error
// mapping, and a stream pump from raw body bytes to DeltaSink events.
// Each adapter file adds only its protocol: URLs, headers and the codec.
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "compliance/egress_guard.hpp"
#include "http/client.hpp"
#include "http/json_response.hpp"
#include "providers/provider.hpp"

namespace aegis::providers {

// Maps a non-2xx upstream answer to a canonical error (protocol-specific).
using ErrorMapper =
    std::function<Error(int status, std::string_view body, std::optional<std::string_view> retry_after)>;

// Turns raw streamed body bytes into events; keeps its own parser state.
class StreamDecoding {
 public:
  virtual ~StreamDecoding() = default;
  virtual Result<std::vector<StreamEvent>> feed(std::string_view bytes) = 0;
  // Called once the body ended; may yield final events (e.g. an unterminated last line).
  virtual Result<std::vector<StreamEvent>> finish() { return std::vector<StreamEvent>{}; }
  // Whether the protocol's own end-of-stream marker was seen.
  virtual bool complete() const = 0;
};

// SSE-framed protocols (OpenAI, Anthropic): an SseParser feeding the
// protocol's StreamDecoder (feed(const SseParser::Event&), finished()).
template <class Decoder>
class SseStreamDecoding final : public StreamDecoding {
 public:
  Result<std::vector<StreamEvent>> feed(std::string_view bytes) override {
    std::vector<StreamEvent> out;
    for (const auto& event : sse_.feed(bytes)) {
      auto events = decoder_.feed(event);
      if (!events.ok()) return std::move(events).error();
      for (auto& e : *events) out.push_back(std::move(e));
    }
    return out;
  }
  bool complete() const override { return decoder_.finished(); }

 private:
  http::SseParser sse_;
  Decoder decoder_;
};

class HttpProvider : public LLMProvider {
 public:
  const ProviderInfo& info() const override { return info_; }

 protected:
  // With an egress guard, every request built by make_request is checked by
  // it once connected and before a byte is sent.
  HttpProvider(const config::ProviderConfig& config, http::HttpClient& client,
               compliance::EgressGuard* egress = nullptr);

  http::ClientRequest make_request(std::string method, std::string url, std::string body) const;

  // A 2xx answer's JSON decoded by `decode`; otherwise the mapped error.
  // Malformed JSON is upstream_error. Enforces max_concurrency.
  template <class T>
  boost::asio::awaitable<Result<T>> exchange_json(http::ClientRequest request, const ErrorMapper& map_error,
                                                  Result<T> (*decode)(const boost::json::value&)) {
    AEGIS_CO_TRY(response, co_await exchange(std::move(request), map_error));
    co_return decode_answer(response.body, decode);
  }

  // The raw 2xx answer, or the mapped error. Enforces max_concurrency.
  boost::asio::awaitable<Result<http::ClientResponse>> exchange(http::ClientRequest request,
                                                                const ErrorMapper& map_error);

  // Parses the answer into a stack arena (http::kJsonArenaBytes) and decodes
  // it; the decoders copy what they keep, so the tree goes in one piece.
  template <class T>
  Result<T> decode_answer(std::string_view body, Result<T> (*decode)(const boost::json::value&)) const {
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init): arena memory, not read before written
    std::array<unsigned char, http::kJsonArenaBytes> buffer;
    boost::json::monotonic_resource arena(buffer.data(), buffer.size());
    boost::system::error_code ec;
    auto value = boost::json::parse(body, ec, &arena);
    if (ec) return malformed_answer();
    return decode(value);
  }

  // Streams a 2xx body through `decoding` into `sink`. A non-2xx answer is
  // mapped; a body that ends before the protocol's end marker is
  // upstream_error "stream truncated"; a sink that stops (client gone) ends
  // the exchange quietly.
  boost::asio::awaitable<Result<void>> exchange_stream(http::ClientRequest request, const ErrorMapper& map_error,
                                                       StreamDecoding& decoding, DeltaSink& sink);

  boost::asio::awaitable<bool> probe(std::string url, std::vector<http::Header> headers);

  const config::ProviderConfig config_;
  ProviderInfo info_;
  http::HttpClient& client_;
  compliance::EgressGuard* const egress_;

 private:
  class Permit;
  std::optional<Permit> try_acquire();
  Error malformed_answer() const;
  Error saturated() const;
  Error transport_failure(Error error) const;
  std::shared_ptr<std::atomic<unsigned>> in_flight_ = std::make_shared<std::atomic<unsigned>>(0);
  const std::string upstream_;  // host[:port] of base_url, for logs only
};

}  // namespace aegis::providers
