#include "http/request_target.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/pct_string_view.hpp>

namespace aegis::http {

namespace {

Error not_normal(std::string_view why) {
  return make_error(ErrorCode::invalid_request, "request path is not in normal form: " + std::string(why));
}

// An encoded '/' or '\' would split into a different route after decoding
// on a proxy or handler that decodes differently; refuse rather than guess.
bool has_encoded_separator(std::string_view segment) {
  for (std::size_t i = 0; i + 2 < segment.size(); ++i) {
    if (segment[i] != '%') continue;
    const char hi = segment[i + 1];
    const char lo = static_cast<char>(segment[i + 2] | 0x20);
    if ((hi == '2' && lo == 'f') || (hi == '5' && lo == 'c')) return true;
  }
  return false;
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
  std::string_view encoded = url.encoded_path();
  if (encoded.empty() || encoded == "/") {  // absolute form may have an empty path: it means "/"
    out.path = "/";
    return out;
  }
  if (encoded.front() != '/') return make_error(ErrorCode::invalid_request, "malformed request target");
  encoded.remove_prefix(1);
  out.path.reserve(encoded.size() + 1);
  for (;;) {
    const auto slash = encoded.find('/');
    const std::string_view segment = encoded.substr(0, slash);
    if (segment.empty()) return not_normal("empty segment");
    if (has_encoded_separator(segment)) return not_normal("encoded '/' or '\\'");
    auto pct = urls::make_pct_string_view(segment);
    if (!pct) return make_error(ErrorCode::invalid_request, "malformed percent-encoding in the request path");
    std::string decoded = pct->decode();
    if (decoded == "." || decoded == "..") return not_normal("'.' or '..' segment");
    for (unsigned char c : decoded) {
      if (c < 0x20 || c == 0x7f) return not_normal("control character");
    }
    out.path += '/';
    out.path += decoded;
    if (slash == std::string_view::npos) break;
    encoded.remove_prefix(slash + 1);
  }
  return out;
}

}  // namespace aegis::http
