#include "core/json.hpp"

#include <boost/json/serialize.hpp>

#include <charconv>
#include <cmath>
#include <optional>
#include <string_view>

namespace aegis {

namespace {

// 0xFF never occurs in UTF-8, and Boost.JSON's parser rejects invalid UTF-8,
// so no string from a request or a provider can start with this.
constexpr std::string_view kDecimalMarker = "\xFF" "aegis-decimal:";

// -?(0|[1-9][0-9]*)(\.[0-9]+)?: a JSON number without exponent.
bool is_plain_decimal(std::string_view s) {
  std::size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  const std::size_t int_start = i;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  const std::size_t int_digits = i - int_start;
  if (int_digits == 0 || (int_digits > 1 && s[int_start] == '0')) return false;
  if (i == s.size()) return true;
  if (s[i++] != '.') return false;
  const std::size_t frac_start = i;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  return i > frac_start && i == s.size();
}

// The decimal of a usd_json value; nullopt for every other string.
std::optional<std::string_view> marked_decimal(const boost::json::string& s) {
  const std::string_view text(s.data(), s.size());
  if (!text.starts_with(kDecimalMarker)) return std::nullopt;
  const std::string_view decimal = text.substr(kDecimalMarker.size());
  if (!is_plain_decimal(decimal)) return std::nullopt;
  return decimal;
}

void append_double(std::string& out, double d) {
  if (!std::isfinite(d)) {
    out += "null";  // JSON has no Inf/NaN
    return;
  }
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  std::string_view text(buf, static_cast<std::size_t>(end - buf));
  out += text;
  // Keep it a JSON float when it is integral, so the type survives a round trip.
  if (text.find_first_of(".eE") == std::string_view::npos) out += ".0";
}
}  // namespace

void append_json(std::string& out, const boost::json::value& value) {
  switch (value.kind()) {
    case boost::json::kind::double_: append_double(out, value.get_double()); return;
    case boost::json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& entry : value.get_object()) {
        if (!first) out += ',';
        first = false;
        out += boost::json::serialize(boost::json::string_view(entry.key()));
        out += ':';
        append_json(out, entry.value());
      }
      out += '}';
      return;
    }
    case boost::json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& element : value.get_array()) {
        if (!first) out += ',';
        first = false;
        append_json(out, element);
      }
      out += ']';
      return;
    }
    case boost::json::kind::string:
      if (const auto decimal = marked_decimal(value.get_string())) {
        out += *decimal;
        return;
      }
      out += boost::json::serialize(value);
      return;
    default: out += boost::json::serialize(value); return;
  }
}

boost::json::value usd_json(Money money) {
  std::string text(kDecimalMarker);
  text += money.to_usd_string();
  return boost::json::value(boost::json::string(text));
}

std::string to_json(const boost::json::value& value) {
  std::string out;
  append_json(out, value);
  return out;
}

}  // namespace aegis
