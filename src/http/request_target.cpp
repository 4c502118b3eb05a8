#include "http/request_target.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/pct_string_view.hpp>

namespace aegis::http {

namespace {

Error not_normal(std::string_view why) {
  return make_error(ErrorCode::invalid_request, "request path is not in normal form: " + std::string(why));
}

}  // namespace

Result<RequestTarget> parse_request_target(std::string_view target) {
  namespace urls = boost::urls;
  urls::url_view url;
  if (!target.empty() && target.front() == '/') {
    auto parsed = urls::parse_origin_form(target);
    if (!parsed) return make_error(ErrorCode::invalid_request, "malformed request target");
    url = *parsed;
  } else {
    auto parsed = urls::parse_absolute_uri(target);
    if (!parsed || (parsed->scheme_id() != urls::scheme::http && parsed->scheme_id() != urls::scheme::https)) {
      return make_error(ErrorCode::invalid_request, "malformed request target");
    }
    url = *parsed;
  }

  RequestTarget out;
  if (url.has_query()) out.query = std::string(url.encoded_query());
  const std::string_view encoded = url.encoded_path();
  if (encoded.empty() || encoded == "/") {  // absolute form may have an empty path: it means "/"
    out.path = "/";
    return out;
  }
  if (encoded.front() != '/') return make_error(ErrorCode::invalid_request, "malformed request target");
  // Boost.URL's segment views hide a leading "/./" (its own spelling of a
  // path that starts with "//"), so that "." segment is refused here.
  if (encoded.starts_with("/./")) return not_normal("'.' or '..' segment");
  out.path.reserve(encoded.size());
  // The parse above refused malformed percent-encoding; each segment is
  // decoded on its own, so a decoded '/' can only have been "%2F".
  for (const urls::pct_string_view segment : url.encoded_segments()) {
    if (segment.empty()) return not_normal("empty segment");
    const std::string decoded = segment.decode();
    if (decoded.find_first_of("/\\") != std::string::npos) return not_normal("encoded '/' or '\\'");
    if (decoded == "." || decoded == "..") return not_normal("'.' or '..' segment");
    for (unsigned char c : decoded) {
      if (c < 0x20 || c == 0x7f) return not_normal("control character");
    }
    out.path += '/';
    out.path += decoded;
  }
  return out;
}

}  // namespace aegis::http
