#include "core/data_url.hpp"

#include <algorithm>

#include "core/encoding.hpp"

namespace aegis {

namespace {

char lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool starts_with_ignore_case(std::string_view text, std::string_view prefix) noexcept {
  return text.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), text.begin(), [](char a, char b) { return lower(a) == lower(b); });
}

Error invalid(std::string message) { return make_error(ErrorCode::invalid_request, std::move(message)); }

}  // namespace

Result<DataUrl> parse_data_url(std::string_view url) {
  if (!starts_with_ignore_case(url, "data:")) return invalid("is not a data URL (data:<media type>;base64,<data>)");
  const std::string_view rest = url.substr(5);
  const auto comma = rest.find(',');
  if (comma == std::string_view::npos) return invalid("is not a data URL (data:<media type>;base64,<data>)");
  const std::string_view header = rest.substr(0, comma);
  const std::string_view payload = rest.substr(comma + 1);
  const auto semicolon = header.find(';');
  const std::string_view type = header.substr(0, semicolon);
  // The base64 marker is the last parameter (RFC 2397); one elsewhere is a parameter value.
  const std::string_view params = semicolon == std::string_view::npos ? std::string_view() : header.substr(semicolon);
  const bool base64 = params.size() >= 7 && starts_with_ignore_case(params.substr(params.size() - 7), ";base64");
  if (!base64) return invalid("only base64 data URLs are supported (data:<media type>;base64,<data>)");
  const auto slash = type.find('/');
  if (type.empty() || slash == std::string_view::npos || slash == 0 || slash + 1 == type.size()) {
    return invalid("the data URL has no media type (data:<media type>;base64,<data>)");
  }
  if (payload.empty()) return invalid("the data URL has no data");
  auto bytes = base64_decode(payload);
  if (!bytes) return invalid("the data URL's payload is not valid base64");
  DataUrl out;
  out.media_type.reserve(type.size());
  for (char c : type) out.media_type += lower(c);
  out.data = std::move(*bytes);
  return out;
}

std::string to_data_url(std::string_view media_type, std::string_view bytes) {
  std::string out = "data:";
  out += media_type;
  out += ";base64,";
  out += base64_encode(bytes);
  return out;
}

bool is_http_url(std::string_view url) noexcept {
  return starts_with_ignore_case(url, "http://") || starts_with_ignore_case(url, "https://");
}

}  // namespace aegis
