#pragma once
// The request target as the router sees it. Authentication is decided on the
// route that matched, so the path it matches must be the only spelling of
// that route: anything that could make two spellings of one route differ
// (empty segments, dot segments, encoded slashes) is refused with 400 before
// routing, instead of being normalised one way here and another way there.
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace aegis::http {

struct RequestTarget {
  std::string path;   // percent-decoded, "/" + segments joined by "/", no trailing "/"
  std::string query;  // raw, without '?'
};

// Accepts origin form ("/v1/jobs?x=1") and absolute form
// ("http://host/v1/jobs", RFC 9112 §3.2.2: the host is ignored). Refuses
// (invalid_request, 400) empty segments ("//", a trailing "/"), "." and ".."
// segments in any spelling, encoded "/" or "\" and control characters in a
// segment, malformed percent-encoding, and every other form.
Result<RequestTarget> parse_request_target(std::string_view target);

}  // namespace aegis::http
