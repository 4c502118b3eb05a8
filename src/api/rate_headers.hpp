#pragma once
// The rate-limit response headers of a governed answer (issue 19), from the
// gateway's ratelimit::Snapshot: OpenAI's names on the OpenAI-shaped
// endpoints, Anthropic's on /v1/messages. Nothing when no limit applies.
//
//   x-ratelimit-limit-requests / -remaining-requests / -reset-requests
//   x-ratelimit-limit-tokens   / -remaining-tokens   / -reset-tokens
//     reset: a duration until the bucket is full again ("1s", "6m0s", "250ms")
//   anthropic-ratelimit-requests-limit / -remaining / -reset
//   anthropic-ratelimit-tokens-limit   / -remaining / -reset
//     reset: the RFC 3339 time the bucket is full again
#include <chrono>
#include <string>
#include <vector>

#include "gateway/gateway.hpp"
#include "http/message.hpp"
#include "ratelimit/rate_limiter.hpp"

namespace aegis::api {

enum class RateHeaderStyle { openai, anthropic };

std::vector<http::Header> rate_limit_headers(const ratelimit::Snapshot& snapshot, RateHeaderStyle style,
                                             std::chrono::system_clock::time_point now);

// Sets them on `response` (OpenAI's names, as of now).
void add_rate_limit_headers(http::HttpResponse& response, const ratelimit::Snapshot& snapshot);

// The style for the call's surface (anthropic.messages: Anthropic's names).
RateHeaderStyle rate_header_style(const gateway::CallContext& context);

// "6m0s", "1s", "250ms": how OpenAI writes x-ratelimit-reset-*.
std::string go_duration(std::chrono::nanoseconds d);

}  // namespace aegis::api
