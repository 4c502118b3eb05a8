#include "compliance/classifier_egress_guard.hpp"

#include <boost/asio/ip/address.hpp>
#include <utf8proc.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <stdexcept>

#include "telemetry/log.hpp"

namespace aegis::compliance {

namespace {

void append_utf8(std::string& out, std::uint32_t cp) {
  utf8proc_uint8_t bytes[4];
  const auto n = utf8proc_encode_char(static_cast<utf8proc_int32_t>(cp), bytes);
  out.append(reinterpret_cast<const char*>(bytes), static_cast<std::size_t>(n));
}

// The 4 hex digits of a \u escape starting at text[at] ("\uXXXX"), or nullopt.
std::optional<std::uint32_t> hex4_after_u(std::string_view text, std::size_t at) {
  if (at + 6 > text.size() || text[at] != '\\' || text[at + 1] != 'u') return std::nullopt;
  std::uint32_t value = 0;
  const char* first = text.data() + at + 2;
  auto [end, ec] = std::from_chars(first, first + 4, value, 16);
  if (ec != std::errc{} || end != first + 4) return std::nullopt;
  return value;
}

constexpr std::uint32_t kReplacement = 0xFFFD;

// The byte a one-letter JSON escape stands for; 0 for \u and anything malformed.
char simple_escape(char e) noexcept {
  switch (e) {
    case '"': return '"';
    case '\\': return '\\';
    case '/': return '/';
    case 'b': return '\b';
    case 'f': return '\f';
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    default: return 0;
  }
}

// Built-in and configured blocks alike; the config loader refuses a malformed one first.
Cidr parse_local_cidr(std::string_view text) {
  auto cidr = parse_cidr(text);
  if (!cidr) throw std::invalid_argument("egress.local_cidrs: invalid CIDR '" + std::string(text) + "'");
  return *cidr;
}

}  // namespace

std::string decode_json_string_escapes(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (!in_string || c != '\\' || i + 1 >= text.size()) {
      if (c == '"') in_string = !in_string;
      out += c;
      continue;
    }
    if (const char simple = simple_escape(text[i + 1]); simple != 0) {
      out += simple;
      ++i;
      continue;
    }
    const auto unit = hex4_after_u(text, i);
    if (!unit) {
      out += c;  // malformed: keep the backslash, the next byte follows as is
      continue;
    }
    std::size_t consumed = 6;
    std::uint32_t cp = *unit;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      const auto low = hex4_after_u(text, i + 6);
      if (low && *low >= 0xDC00 && *low <= 0xDFFF) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (*low - 0xDC00);
        consumed = 12;
      } else {
        cp = kReplacement;
      }
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
      cp = kReplacement;
    }
    append_utf8(out, cp);
    i += consumed - 1;
  }
  return out;
}

ClassifierEgressGuard::ClassifierEgressGuard(const config::EgressConfig& config, const classify::Classifier& classifier,
                                             const compliance::EgressDetector* detector, telemetry::Registry& metrics)
    : classifier_(classifier),
      detector_(detector),
      blocked_(metrics.counter("aegis_pipeda_blocked_total",
                               "Sends to a destination outside the local network that the egress guard blocked "
                               "because the body held RESTRICTED data",
                               {"provider"})),
      vetoes_(metrics.counter("aegis_egress_vetoes_total", std::string(compliance::kEgressVetoesHelp), {"rule"})) {
  if (detector_ != nullptr) {
    for (std::string_view rule : compliance::kEgressRules) vetoes_.with({std::string(rule)});
  }
  for (std::string_view builtin :
       {"127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "::1/128", "fc00::/7"}) {
    networks_.push_back(parse_local_cidr(builtin));
  }
  for (const auto& cidr : config.local_cidrs) networks_.push_back(parse_local_cidr(cidr));
}

bool ClassifierEgressGuard::is_local_address(std::string_view remote_ip) const {
  if (remote_ip.empty()) return false;
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(std::string(remote_ip), ec);
  if (ec) return false;
  return std::ranges::any_of(networks_, [&](const Cidr& network) { return network.contains(address); });
}

void ClassifierEgressGuard::warn_declared_local_once(std::string_view provider, std::string_view remote_ip) {
  {
    std::lock_guard lock(warned_mutex_);
    if (!warned_.emplace(provider).second) return;
  }
  telemetry::log(telemetry::LogLevel::warn, "egress_declared_local_provider_not_local",
                 {{"provider", provider},
                  {"remote_ip", remote_ip},
                  {"detail",
                   "provider declared local connected to an address outside the local networks; "
                   "its sends are re-scanned as cloud-bound"}});
}

Result<void> ClassifierEgressGuard::check(std::string_view provider, config::Locality declared,
                                          std::string_view remote_ip, std::string_view body) {
  if (declared == config::Locality::local) {
    if (is_local_address(remote_ip)) return {};
    warn_declared_local_once(provider, remote_ip);
  }
  if (body.empty()) return {};

  // JSON escapes can hide digits from both detectors: scan decoded and raw.
  std::string decoded;
  const bool escaped = body.find('\\') != std::string_view::npos;
  if (escaped) decoded = decode_json_string_escapes(body);

  std::set<std::string, std::less<>> restricted_types;
  bool restricted = false;
  const auto scan = [&](std::string_view text) {
    const auto result = classifier_.classify(text);
    if (result.level != Level::RESTRICTED) return;
    restricted = true;
    for (const auto& finding : result.findings) {
      if (finding.level == Level::RESTRICTED) restricted_types.insert(finding.entity_type);
    }
  };
  scan(body);
  if (escaped) scan(decoded);
  if (!restricted) {
    if (detector_ == nullptr) return {};
    auto hit = detector_->scan(body);
    if (!hit && escaped) hit = detector_->scan(decoded);
    if (!hit) return {};
    vetoes_.with({std::string(hit->rule)}).inc();
    Error veto = make_error(ErrorCode::egress_vetoed,
                            "egress detector vetoed a send to provider '" + std::string(provider) +
                                "' outside the local network: the body holds a value shaped like RESTRICTED data (" +
                                std::string(hit->rule) + ")");
    veto.rule = std::string(hit->rule);
    return veto;
  }

  blocked_.with({provider}).inc();
  std::string types;
  for (const auto& type : restricted_types) {
    if (!types.empty()) types += ", ";
    types += type;
  }
  if (types.empty()) types = "unspecified";
  return make_error(ErrorCode::egress_blocked, "egress guard blocked a send to provider '" + std::string(provider) +
                                                   "' outside the local network: the request holds RESTRICTED "
                                                   "data (" +
                                                   types + ")");
}

}  // namespace aegis::compliance
