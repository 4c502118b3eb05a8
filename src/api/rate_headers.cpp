#include "api/rate_headers.hpp"

#include "core/time_format.hpp"

namespace aegis::api {

std::string go_duration(std::chrono::nanoseconds d) {
  using namespace std::chrono;
  if (d <= nanoseconds::zero()) return "0s";
  if (d < seconds(1)) {
    const auto ms = duration_cast<milliseconds>(d + milliseconds(1) - nanoseconds(1)).count();  // rounded up
    return ms >= 1000 ? "1s" : std::to_string(ms) + "ms";
  }
  const auto total = duration_cast<seconds>(d + seconds(1) - nanoseconds(1)).count();  // whole seconds, rounded up
  const auto h = total / 3600;
  const auto m = (total % 3600) / 60;
  const auto s = total % 60;
  std::string out;
  if (h > 0) out += std::to_string(h) + "h";
  if (h > 0 || m > 0) out += std::to_string(m) + "m";
  out += std::to_string(s) + "s";
  return out;
}

namespace {

std::string reset_time(std::chrono::system_clock::time_point now, std::chrono::nanoseconds reset) {
  using namespace std::chrono;
  // Whole seconds, rounded up: the time the bucket is full, as Anthropic writes it.
  const auto at = duration_cast<milliseconds>((now + reset).time_since_epoch()).count();
  const auto seconds_up = (at + 999) / 1000;
  std::string text = format_rfc3339_ms(seconds_up * 1000);  // "...T10:00:00.000Z"
  if (const auto dot = text.rfind('.'); dot != std::string::npos) text = text.substr(0, dot) + "Z";
  return text;
}

void add(std::vector<http::Header>& out, std::string name, std::string value) {
  out.push_back(http::Header{std::move(name), std::move(value)});
}

}  // namespace

std::vector<http::Header> rate_limit_headers(const ratelimit::Snapshot& snapshot, RateHeaderStyle style,
                                             std::chrono::system_clock::time_point now) {
  std::vector<http::Header> out;
  if (!snapshot.any()) return out;
  const std::pair<const char*, const std::optional<ratelimit::Window>*> kinds[] = {{"requests", &snapshot.requests},
                                                                                   {"tokens", &snapshot.tokens}};
  for (const auto& [kind, window] : kinds) {
    if (!*window) continue;
    const ratelimit::Window& w = **window;
    const std::string k(kind);
    if (style == RateHeaderStyle::anthropic) {
      add(out, "anthropic-ratelimit-" + k + "-limit", std::to_string(w.limit));
      add(out, "anthropic-ratelimit-" + k + "-remaining", std::to_string(w.remaining));
      add(out, "anthropic-ratelimit-" + k + "-reset", reset_time(now, w.reset));
    } else {
      add(out, "x-ratelimit-limit-" + k, std::to_string(w.limit));
      add(out, "x-ratelimit-remaining-" + k, std::to_string(w.remaining));
      add(out, "x-ratelimit-reset-" + k, go_duration(w.reset));
    }
  }
  return out;
}

void add_rate_limit_headers(http::HttpResponse& response, const ratelimit::Snapshot& snapshot) {
  for (auto& h : rate_limit_headers(snapshot, RateHeaderStyle::openai, std::chrono::system_clock::now())) {
    response.set_header(std::move(h.name), std::move(h.value));
  }
}

RateHeaderStyle rate_header_style(const gateway::CallContext& context) {
  return context.surface == "anthropic.messages" ? RateHeaderStyle::anthropic : RateHeaderStyle::openai;
}

}  // namespace aegis::api
