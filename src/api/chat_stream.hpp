#pragma once
// Streams a chat answer to a client in its own protocol. Status and headers
// are committed with the first event, so an upstream failure before the
// first byte is still a plain error response with the right status; a
// failure after it ends the stream with the protocol's error event, never
// a silent clean end.
#include <boost/json/object.hpp>

#include <functional>
#include <memory>
#include <string>

#include "gateway/gateway.hpp"
#include "http/message.hpp"
#include "identity/principal.hpp"

namespace aegis::api {

class EventEncoder {
 public:
  virtual ~EventEncoder() = default;
  virtual std::string encode(const StreamEvent& event) = 0;
  virtual std::string encode_error(const Error& error) = 0;
  virtual std::string content_type() const = 0;  // text/event-stream or application/x-ndjson
  // Runs before the finish event is encoded and written, once the gateway
  // has committed the call: what must be done before the client sees the
  // end (the Responses API stores the conversation there). Default: nothing.
  virtual boost::asio::awaitable<void> before_finish(const StreamEvent& /*finish*/) { co_return; }
};

// Builds an error response in the client's protocol (non-streaming shape).
using ErrorWriter = std::function<http::HttpResponse(const Error&, const std::string& request_id)>;

// `principal` is the caller (api::principal_of); the stream keeps its own copy,
// since its body is written after the handler has returned.
http::HttpResponse streamed_chat(gateway::Gateway& gateway, const http::HttpRequest& request,
                                 const identity::Principal* principal, ChatRequest chat,
                                 std::unique_ptr<EventEncoder> encoder, ErrorWriter write_error);

// A non-streaming answer: the gateway's completion written by `write_body`
// in the client's protocol, or the error in that protocol's shape.
using CompletionWriter = std::function<boost::json::object(const Completion&)>;
boost::asio::awaitable<http::HttpResponse> completed_chat(gateway::Gateway& gateway, const http::HttpRequest& request,
                                                          const identity::Principal* principal, ChatRequest chat,
                                                          CompletionWriter write_body, ErrorWriter write_error);

// Response headers every governed answer carries: x-aegis-classification,
// x-aegis-route once a provider was chosen, x-aegis-cost-usd once a cost was booked.
// And the rate-limit headers (api/rate_headers.hpp) when a limit applies.
void add_governance_headers(http::HttpResponse& response, const gateway::CallContext& context);
// The rate-limit headers alone, on a streamed answer before it commits.
void add_rate_limit_headers(http::ResponseWriter& writer, const gateway::CallContext& context);

// What the client is told of a call's error. Nothing but the server cancels
// an HTTP request's call (its drain deadline; a client that leaves is noticed
// as a failed write), so `cancelled` means the gateway is stopping, not that
// the client asked for it: 503 unavailable. The audit row keeps 499 `cancelled`.
Error for_client(Error error);

// The caller marked the content public (x-aegis-classification: public).
bool marked_public(const http::HttpRequest& request);

// x-aegis-cache: allow (the client opts this request into the team's response
// cache whatever its temperature); absent: false; any other value is 400.
Result<bool> cache_opt_in(const http::HttpRequest& request);

// The task type from x-aegis-task (default "chat"): 1..64 of [A-Za-z0-9_.-], the alphabet of routing.task_tiers keys.
Result<std::string> task_of(const http::HttpRequest& request);

}  // namespace aegis::api
