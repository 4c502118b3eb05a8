#include "core/json.hpp"

#include <boost/json/serialize.hpp>

#include <charconv>
#include <cmath>
#include <string_view>

namespace aegis {

namespace {

void append_double(std::string& out, double d) {
  if (!std::isfinite(d)) {
    out += "null";  // JSON has no Inf/NaN
    return;
  }
  // Fixed notation in the range where people read numbers (money, latencies,
  // scores): 0.000054, not 5.4e-05; the shortest digits that round-trip.
  const double magnitude = std::fabs(d);
  const bool fixed = magnitude == 0.0 || (magnitude >= 1e-9 && magnitude < 1e17);
  char buf[64];
  auto [end, ec] = fixed ? std::to_chars(buf, buf + sizeof buf, d, std::chars_format::fixed)
                         : std::to_chars(buf, buf + sizeof buf, d);
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
    default: out += boost::json::serialize(value); return;
  }
}

boost::json::value usd_json(Money money) {
  // The double nearest the exact decimal; append_double's shortest fixed form
  // gives that decimal back wherever a double can tell it from its neighbours.
  const std::string text = money.to_usd_string();
  double usd = 0.0;
  std::from_chars(text.data(), text.data() + text.size(), usd);
  return boost::json::value(usd);
}

std::string to_json(const boost::json::value& value) {
  std::string out;
  append_json(out, value);
  return out;
}

}  // namespace aegis
