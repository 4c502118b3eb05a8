#include "providers/error_text.hpp"

namespace aegis::providers {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_host_char(char c) { return is_alpha(c) || is_digit(c) || c == '.' || c == '-' || c == '_'; }
// Where a URL or path ends: whitespace, quotes and the brackets text puts around them.
bool ends_token(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '"' || c == '\'' || c == '`' || c == ')' ||
         c == '>' || c == ']' || c == '}' || c == ',' || c == ';';
}
char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// ":<1..5 digits>" at `i`: its length, else 0.
std::size_t port_at(std::string_view s, std::size_t i) {
  if (i >= s.size() || s[i] != ':') return 0;
  std::size_t j = i + 1;
  while (j < s.size() && is_digit(s[j]) && j - i <= 5) ++j;
  const std::size_t digits = j - i - 1;
  if (digits == 0 || digits > 5 || (j < s.size() && is_digit(s[j]))) return 0;
  return j - i;
}

// "scheme://…" starting at `i` (scheme letters first): its length, else 0.
std::size_t url_at(std::string_view s, std::size_t i) {
  if (!is_alpha(s[i])) return 0;
  std::size_t j = i;
  while (j < s.size() && (is_alpha(s[j]) || is_digit(s[j]) || s[j] == '+' || s[j] == '.' || s[j] == '-')) ++j;
  if (s.substr(j, 3) != "://") return 0;
  j += 3;
  while (j < s.size() && !ends_token(s[j])) ++j;
  return j - i;
}

// A dotted-quad IPv4 address, with an optional port: its length, else 0.
std::size_t ipv4_at(std::string_view s, std::size_t i) {
  std::size_t j = i;
  for (int part = 0; part < 4; ++part) {
    if (part > 0) {
      if (j >= s.size() || s[j] != '.') return 0;
      ++j;
    }
    const std::size_t start = j;
    while (j < s.size() && is_digit(s[j]) && j - start < 3) ++j;
    if (j == start) return 0;
  }
  if (j < s.size() && (is_digit(s[j]) || (s[j] == '.' && j + 1 < s.size() && is_digit(s[j + 1])))) return 0;
  return j - i + port_at(s, j);
}

// "[v6 address]" with an optional port: its length, else 0.
std::size_t ipv6_at(std::string_view s, std::size_t i) {
  if (s[i] != '[') return 0;
  std::size_t j = i + 1;
  int colons = 0;
  // Hex groups, colons, an embedded IPv4 tail and a zone id ("%eth0").
  while (j < s.size() && (is_alpha(s[j]) || is_digit(s[j]) || s[j] == ':' || s[j] == '.' || s[j] == '%')) {
    if (s[j] == ':') ++colons;
    ++j;
  }
  if (j >= s.size() || s[j] != ']' || colons < 2) return 0;
  ++j;
  return j - i + port_at(s, j);
}

// "localhost" or a dotted host name followed by a port: its length, else 0.
std::size_t host_at(std::string_view s, std::size_t i) {
  std::size_t j = i;
  while (j < s.size() && is_host_char(s[j])) ++j;
  const std::string_view host = s.substr(i, j - i);
  std::string folded;
  for (char c : host) folded.push_back(lower(c));
  if (folded == "localhost" || folded.ends_with(".localhost")) return j - i + port_at(s, j);
  const std::size_t port = port_at(s, j);
  if (port == 0 || host.find('.') == std::string_view::npos) return 0;
  return j - i + port;
}

// "/a/b…" (two or more segments): its length, else 0.
std::size_t path_at(std::string_view s, std::size_t i) {
  if (s[i] != '/' || i + 1 >= s.size() || ends_token(s[i + 1]) || s[i + 1] == '/') return 0;
  std::size_t j = i + 1;
  int slashes = 1;
  while (j < s.size() && !ends_token(s[j])) {
    if (s[j] == '/') ++slashes;
    ++j;
  }
  return slashes >= 2 ? j - i : 0;
}

}  // namespace

std::string redact_locations(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    // Only at the start of a word: "v1.2.3.4" or "a/b/c" inside a word are left alone.
    const bool word_start = i == 0 || !is_host_char(text[i - 1]);
    if (word_start) {
      if (std::size_t n = url_at(text, i)) {
        out += "<url>";
        i += n;
        continue;
      }
      if (std::size_t n = ipv4_at(text, i)) {
        out += "<address>";
        i += n;
        continue;
      }
      if (std::size_t n = ipv6_at(text, i)) {
        out += "<address>";
        i += n;
        continue;
      }
      if (std::size_t n = host_at(text, i)) {
        out += "<address>";
        i += n;
        continue;
      }
      if (text[i] == '/' && (i == 0 || ends_token(text[i - 1]) || text[i - 1] == '=' || text[i - 1] == ':')) {
        if (std::size_t n = path_at(text, i)) {
          out += "<path>";
          i += n;
          continue;
        }
      }
    }
    out.push_back(text[i]);
    ++i;
  }
  return out;
}

Error attribute_error(Error error, std::string_view provider) {
  error.message = redact_locations(error.message);
  const std::string named = "provider '" + std::string(provider) + "'";
  if (error.message.find(named) != std::string::npos) return error;
  constexpr std::string_view kGeneric = "provider ";
  if (error.message.starts_with(kGeneric)) {
    error.message = named + " " + error.message.substr(kGeneric.size());
  } else {
    error.message = named + ": " + error.message;
  }
  return error;
}

}  // namespace aegis::providers
