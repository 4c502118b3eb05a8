#include "core/result.hpp"

namespace aegis {

int http_status(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::invalid_request:
    case ErrorCode::invalid_json: return 400;
    case ErrorCode::unauthorized: return 401;
    case ErrorCode::budget_exceeded: return 402;
    case ErrorCode::forbidden: return 403;
    case ErrorCode::not_found: return 404;
    case ErrorCode::method_not_allowed: return 405;
    case ErrorCode::conflict: return 409;
    case ErrorCode::payload_too_large: return 413;
    case ErrorCode::unsupported_media_type: return 415;
    case ErrorCode::pii_blocked: return 422;
    case ErrorCode::rate_limited: return 429;
    case ErrorCode::headers_too_large: return 431;
    case ErrorCode::internal:
    case ErrorCode::egress_blocked:
    case ErrorCode::egress_vetoed: return 500;
    case ErrorCode::upstream_error: return 502;
    case ErrorCode::unavailable:
    case ErrorCode::no_local_provider: return 503;
    case ErrorCode::upstream_timeout: return 504;
    case ErrorCode::cancelled: return 499;  // nginx's "client closed request"
  }
  return 500;
}

std::string_view error_type(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::invalid_request: return "invalid_request";
    case ErrorCode::invalid_json: return "invalid_json";
    case ErrorCode::unauthorized: return "authentication_error";
    case ErrorCode::forbidden: return "permission_denied";
    case ErrorCode::budget_exceeded: return "budget_exceeded";
    case ErrorCode::not_found: return "not_found";
    case ErrorCode::method_not_allowed: return "method_not_allowed";
    case ErrorCode::conflict: return "conflict";
    case ErrorCode::payload_too_large: return "payload_too_large";
    case ErrorCode::unsupported_media_type: return "unsupported_media_type";
    case ErrorCode::pii_blocked: return "pii_blocked";
    case ErrorCode::rate_limited: return "rate_limited";
    case ErrorCode::headers_too_large: return "headers_too_large";
    case ErrorCode::internal: return "internal_error";
    case ErrorCode::egress_blocked: return "egress_blocked";
    case ErrorCode::egress_vetoed: return "egress_vetoed";
    case ErrorCode::upstream_error: return "upstream_error";
    case ErrorCode::unavailable: return "unavailable";
    case ErrorCode::no_local_provider: return "no_local_provider";
    case ErrorCode::upstream_timeout: return "upstream_timeout";
    case ErrorCode::cancelled: return "cancelled";
  }
  return "internal_error";
}

}  // namespace aegis
