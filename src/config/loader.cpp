// YAML -> validated Config. Every problem is collected (with its position)
// before anything is thrown, so one run of `aegis config check` shows them all.
#include "config/loader.hpp"

#include <boost/asio/ip/address.hpp>
#include <yaml-cpp/yaml.h>

#include <charconv>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <set>
#include <sstream>
#include <string_view>
#include <utility>

#include "core/time_zone.hpp"

namespace aegis::config {

// ---------------------------------------------------------------------------
// ConfigIssue / ConfigError

std::string ConfigIssue::to_string() const {
  std::string out = file;
  if (line > 0) {
    out += ':';
    out += std::to_string(line);
    if (column > 0) {
      out += ':';
      out += std::to_string(column);
    }
  }
  out += ": ";
  out += message;
  return out;
}

namespace {

std::string join_issues(const std::vector<ConfigIssue>& issues) {
  std::string out;
  for (const auto& issue : issues) {
    if (!out.empty()) out += '\n';
    out += issue.to_string();
  }
  return out;
}

}  // namespace

ConfigError::ConfigError(std::vector<ConfigIssue> issues)
    : std::runtime_error(join_issues(issues)), issues_(std::move(issues)) {}

// ---------------------------------------------------------------------------
// Defaults

Config default_config() {
  Config cfg;
  cfg.source = "<built-in>";
  cfg.routing.task_tiers = {
      {"commit_summary", "haiku"}, {"classification", "haiku"},     {"routing", "haiku"},
      {"extraction", "haiku"},     {"code_review", "sonnet"},       {"rag", "sonnet"},
      {"summarization", "sonnet"}, {"chat", "sonnet"},              {"security_audit", "opus"},
      {"architecture_review", "opus"},
  };
  return cfg;
}

namespace {

// ---------------------------------------------------------------------------
// Small helpers

constexpr std::int64_t kMaxTimeoutMs = 86'400'000;  // 24 h
const std::vector<std::string_view> kTiers = {"haiku", "sonnet", "opus"};
const std::vector<std::string_view> kProviderTypes = {"anthropic", "azure_openai", "openai_compat", "ollama", "sim"};

struct Pos {
  int line = 0;
  int column = 0;
};

Pos pos_of(const YAML::Mark& mark) {
  if (mark.line < 0 || mark.column < 0) return {};
  return {mark.line + 1, mark.column + 1};
}

std::string join(const std::vector<std::string_view>& names) {
  std::string out;
  for (const auto name : names) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

std::string quote(std::string_view text) {
  constexpr std::size_t kMax = 80;
  std::string out = "\"";
  std::size_t n = 0;
  for (const char c : text) {
    if (++n > kMax) {
      out += "...";
      break;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default: out += c;
    }
  }
  out += '"';
  return out;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t subst = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, subst});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// The closest candidate when it is close enough to be a likely typo.
std::optional<std::string_view> suggest(std::string_view word, const std::vector<std::string_view>& candidates) {
  std::optional<std::string_view> best;
  std::size_t best_distance = std::numeric_limits<std::size_t>::max();
  for (const auto candidate : candidates) {
    const std::size_t d = edit_distance(word, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  const std::size_t limit = std::max<std::size_t>(2, word.size() / 4);
  if (best && best_distance <= limit && best_distance < word.size()) return best;
  // "warning" for "warn", "local" for "local_only".
  if (word.size() >= 3) {
    for (const auto candidate : candidates) {
      if (candidate.starts_with(word) || word.starts_with(candidate)) return candidate;
    }
  }
  return std::nullopt;
}

bool is_env_name(std::string_view name) {
  if (name.empty()) return false;
  if (!(std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_')) return false;
  return std::ranges::all_of(name, [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

bool is_identifier(std::string_view s) {  // provider / recognizer / task names
  if (s.empty() || s.size() > 64) return false;
  return std::ranges::all_of(s, [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

bool is_entity_type(std::string_view s) {  // UPPER_SNAKE_CASE
  if (s.empty() || s.size() > 64 || !(s[0] >= 'A' && s[0] <= 'Z')) return false;
  return std::ranges::all_of(s, [](char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; });
}

bool is_domain(std::string_view s) {
  if (s.empty() || s.size() > 253 || s.front() == '.' || s.back() == '.' || s.front() == '-') return false;
  return std::ranges::all_of(s, [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.'; });
}

bool is_model_name(std::string_view s) {  // "auto", a tier, "claude-sonnet-4-5", "ollama/llama3.2:3b"
  return !s.empty() && s.size() <= 200 && std::ranges::none_of(s, [](char c) {
    return static_cast<unsigned char>(c) <= ' ' || c == '"' || c == '\\';
  });
}

bool is_cidr(std::string_view s) {
  const auto slash = s.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 >= s.size()) return false;
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(std::string(s.substr(0, slash)), ec);
  if (ec) return false;
  int bits = 0;
  const auto prefix = s.substr(slash + 1);
  auto [end, err] = std::from_chars(prefix.data(), prefix.data() + prefix.size(), bits);
  if (err != std::errc{} || end != prefix.data() + prefix.size()) return false;
  return bits >= 0 && bits <= (address.is_v4() ? 32 : 128);
}

// Exactly what the budget ledger accepts: UTC, a fixed offset, or a zone that
// exists in the OS tz database, so a typo fails here rather than at runtime.
bool is_timezone_name(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return TimeZone::parse(s).has_value();
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null: return "nothing (null)";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Scalar: return quote(node.Scalar());
    default: return "nothing";
  }
}

// A value in the document together with its dotted path and the place to
// report it at (a null value has no useful mark: use its key's).
struct Field {
  std::string path;
  YAML::Node value;
  Pos fallback;

  Pos pos() const {
    if (value.IsNull() || value.Mark().line < 0) return fallback;
    return pos_of(value.Mark());
  }
};

// The entries of a mapping, in document order, keyed by name.
struct Entries {
  std::vector<std::pair<std::string, Field>> items;
  Pos map_pos;
  std::string path;

  const Field* find(std::string_view key) const {
    for (const auto& [k, f] : items) {
      if (k == key) return &f;
    }
    return nullptr;
  }
};

std::string child(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

// ---------------------------------------------------------------------------
// The loader

class Loader {
 public:
  Loader(std::string file, EnvLookup env) : file_(std::move(file)), env_(env) {}

  Config run(const std::string& text);

 private:
  // -- reporting
  void issue(Pos pos, std::string message) {
    issues_.push_back(ConfigIssue{file_, pos.line, pos.column, std::move(message)});
  }
  void expected(const Field& f, std::string_view what, const std::string& got) {
    issue(f.pos(), (f.path.empty() ? std::string("top level") : f.path) + ": expected " + std::string(what) +
                       ", got " + got);
  }

  // -- structure
  // A mapping section. Null counts as empty; anything else is an issue.
  std::optional<Entries> mapping(const Field& f, const std::vector<std::string_view>* allowed,
                                 std::string_view unknown_hint = {});
  std::optional<std::vector<Field>> sequence(const Field& f, std::string_view what);
  bool require(const Entries& e, std::string_view key) {
    if (e.find(key)) return true;
    issue(e.map_pos, child(e.path, key) + ": required key is missing");
    return false;
  }

  // -- scalars (all of them go through ${VAR} substitution)
  std::optional<std::string> scalar(const Field& f, std::string_view what);
  std::optional<std::string> substitute(const Field& f, const std::string& in);
  std::string got(const Field& f, const std::string& resolved) const {
    const std::string& raw = f.value.Scalar();
    if (raw == resolved) return quote(resolved);
    return quote(resolved) + " (from " + quote(raw) + ")";
  }

  bool read_string(const Field& f, std::string& out, bool allow_empty = true);
  // "HOST:PORT" with a port in 1..65535, IPv6 as "[::1]:8080".
  std::optional<ListenAddress> read_listen(const Field& f);
  template <typename T>
  bool read_int(const Field& f, T& out, std::int64_t lo, std::int64_t hi);
  bool read_ms(const Field& f, std::chrono::milliseconds& out) {
    std::int64_t ms = 0;
    if (!read_int(f, ms, 1, kMaxTimeoutMs)) return false;
    out = std::chrono::milliseconds(ms);
    return true;
  }
  bool read_bool(const Field& f, bool& out);
  bool read_money(const Field& f, Money& out);
  std::optional<std::string> read_enum(const Field& f, const std::vector<std::string_view>& allowed);
  bool read_string_list(const Field& f, std::vector<std::string>& out, std::string_view item_what,
                        bool (*valid)(std::string_view));

  // -- sections
  void server(const Field& f, ServerConfig& out);
  void storage(const Field& f, StorageConfig& out);
  void providers(const Field& f, std::vector<ProviderConfig>& out);
  void provider(const Field& f, ProviderConfig& out, std::vector<Pos>& name_pos);
  // Returns whether fallback_chain was given explicitly.
  bool routing(const Field& f, RoutingConfig& out, const std::vector<ProviderConfig>& providers);
  void classification(const Field& f, ClassificationConfig& out);
  void recognizer(const Field& f, CustomRecognizer& out);
  void pii(const Field& f, PiiConfig& out);
  void budgets(const Field& f, BudgetConfig& out);
  void resilience(const Field& f, ResilienceConfig& out);
  void egress(const Field& f, EgressConfig& out);
  void jobs(const Field& f, JobsConfig& out);
  void jobs_keep_requests(const Field& f, JobsConfig& out);
  void jobs_encryption(const Field& f, JobsEncryptionConfig& out);
  void limits(const Field& f, LimitsConfig& out);
  void logging(const Field& f, LoggingConfig& out);

  std::string file_;
  EnvLookup env_;
  std::vector<ConfigIssue> issues_;
};

std::optional<Entries> Loader::mapping(const Field& f, const std::vector<std::string_view>* allowed,
                                       std::string_view unknown_hint) {
  Entries e;
  e.path = f.path;
  e.map_pos = f.pos();
  if (f.value.IsNull()) return e;
  if (!f.value.IsMap()) {
    expected(f, "a mapping", describe(f.value));
    return std::nullopt;
  }
  std::vector<std::pair<std::string, Pos>> seen;
  for (auto it = f.value.begin(); it != f.value.end(); ++it) {
    const YAML::Node key = it->first;  // a copy: *it is a temporary proxy
    const Pos key_pos = pos_of(key.Mark());
    if (!key.IsScalar()) {
      issue(key_pos, (f.path.empty() ? std::string("top level") : f.path) + ": expected a plain key, got " +
                         describe(key));
      continue;
    }
    const std::string name = key.Scalar();
    const std::string path = child(f.path, name);
    const auto dup = std::ranges::find_if(seen, [&](const auto& s) { return s.first == name; });
    if (dup != seen.end()) {
      issue(key_pos, path + ": duplicate key (first defined at line " + std::to_string(dup->second.line) + ")");
      continue;
    }
    seen.emplace_back(name, key_pos);
    if (allowed && std::ranges::find(*allowed, name) == allowed->end()) {
      std::string msg = path + ": unknown key";
      if (!unknown_hint.empty() && (name == "host" || name == "port")) {
        msg += "; " + std::string(unknown_hint);
      } else if (const auto s = suggest(name, *allowed)) {
        msg += "; did you mean \"" + std::string(*s) + "\"?";
      } else {
        msg += "; expected one of: " + join(*allowed);
      }
      issue(key_pos, std::move(msg));
      continue;
    }
    e.items.emplace_back(name, Field{path, it->second, key_pos});
  }
  return e;
}

std::optional<std::vector<Field>> Loader::sequence(const Field& f, std::string_view what) {
  std::vector<Field> out;
  if (f.value.IsNull()) return out;
  if (!f.value.IsSequence()) {
    expected(f, what, describe(f.value));
    return std::nullopt;
  }
  std::size_t i = 0;
  for (const auto& item : f.value) {
    out.push_back(Field{f.path + "[" + std::to_string(i++) + "]", item, f.pos()});
  }
  return out;
}

std::optional<std::string> Loader::substitute(const Field& f, const std::string& in) {
  std::string out;
  out.reserve(in.size());
  bool ok = true;
  for (std::size_t i = 0; i < in.size();) {
    if (in.compare(i, 3, "$${") == 0) {
      out += "${";
      i += 3;
      continue;
    }
    if (in.compare(i, 2, "${") == 0) {
      const std::size_t close = in.find('}', i + 2);
      if (close == std::string::npos) {
        issue(f.pos(), f.path + ": unterminated \"${\"; expected ${NAME} (write $${ for a literal ${)");
        return std::nullopt;
      }
      const std::string name = in.substr(i + 2, close - i - 2);
      if (!is_env_name(name)) {
        issue(f.pos(), f.path + ": expected an environment variable name ([A-Za-z_][A-Za-z0-9_]*) in ${...}, got " +
                           quote(name));
        ok = false;
      } else if (const char* value = env_(name.c_str()); value == nullptr) {
        issue(f.pos(), f.path + ": environment variable " + name + " is not set");
        ok = false;
      } else {
        out += value;
      }
      i = close + 1;
      continue;
    }
    out += in[i++];
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<std::string> Loader::scalar(const Field& f, std::string_view what) {
  if (!f.value.IsScalar()) {
    expected(f, what, describe(f.value));
    return std::nullopt;
  }
  return substitute(f, f.value.Scalar());
}

bool Loader::read_string(const Field& f, std::string& out, bool allow_empty) {
  auto s = scalar(f, "a string");
  if (!s) return false;
  if (!allow_empty && s->empty()) {
    expected(f, "a non-empty string", got(f, *s));
    return false;
  }
  out = std::move(*s);
  return true;
}

template <typename T>
bool Loader::read_int(const Field& f, T& out, std::int64_t lo, std::int64_t hi) {
  const std::string what = "an integer in " + std::to_string(lo) + ".." + std::to_string(hi);
  auto s = scalar(f, what);
  if (!s) return false;
  const std::string& t = *s;
  std::size_t i = 0;
  bool negative = false;
  if (i < t.size() && (t[i] == '+' || t[i] == '-')) negative = t[i++] == '-';
  bool valid = i < t.size() && t.size() - i <= 18;
  std::int64_t v = 0;
  for (std::size_t j = i; valid && j < t.size(); ++j) {
    if (t[j] < '0' || t[j] > '9') {
      valid = false;
    } else {
      v = v * 10 + (t[j] - '0');
    }
  }
  if (negative) v = -v;
  if (!valid || v < lo || v > hi) {
    expected(f, what, got(f, t));
    return false;
  }
  out = static_cast<T>(v);
  return true;
}

bool Loader::read_bool(const Field& f, bool& out) {
  auto s = scalar(f, "true or false");
  if (!s) return false;
  const std::string v = lower(*s);
  if (v == "true") {
    out = true;
  } else if (v == "false") {
    out = false;
  } else {
    expected(f, "true or false", got(f, *s));
    return false;
  }
  return true;
}

bool Loader::read_money(const Field& f, Money& out) {
  constexpr std::string_view what = "a USD amount such as 3 or 0.25 (at most 6 decimals, no sign)";
  auto s = scalar(f, what);
  if (!s) return false;
  const auto m = Money::parse_usd(*s);
  if (!m) {
    expected(f, what, got(f, *s));
    return false;
  }
  out = *m;
  return true;
}

std::optional<std::string> Loader::read_enum(const Field& f, const std::vector<std::string_view>& allowed) {
  const std::string what = "one of " + join(allowed);
  auto s = scalar(f, what);
  if (!s) return std::nullopt;
  if (std::ranges::find(allowed, *s) == allowed.end()) {
    std::string msg = f.path + ": expected " + what + ", got " + got(f, *s);
    if (const auto hint = suggest(*s, allowed)) msg += "; did you mean \"" + std::string(*hint) + "\"?";
    issue(f.pos(), std::move(msg));
    return std::nullopt;
  }
  return s;
}

bool Loader::read_string_list(const Field& f, std::vector<std::string>& out, std::string_view item_what,
                              bool (*valid)(std::string_view)) {
  const auto items = sequence(f, "a list of " + std::string(item_what) + "s");
  if (!items) return false;
  std::vector<std::string> result;
  bool ok = true;
  for (const auto& item : *items) {
    auto s = scalar(item, item_what);
    if (!s) {
      ok = false;
      continue;
    }
    if (valid && !valid(*s)) {
      expected(item, item_what, got(item, *s));
      ok = false;
      continue;
    }
    result.push_back(std::move(*s));
  }
  if (ok) out = std::move(result);
  return ok;
}

// ---------------------------------------------------------------------------
// Sections

std::optional<ListenAddress> Loader::read_listen(const Field& v) {
  constexpr std::string_view what = "\"HOST:PORT\" with a port in 1..65535 (IPv6 as \"[::1]:8080\")";
  auto s = scalar(v, what);
  if (!s) return std::nullopt;
  std::string host;
  std::string port_text;
  bool ok = true;
  if (!s->empty() && (*s)[0] == '[') {
    const auto close = s->find(']');
    ok = close != std::string::npos && close + 1 < s->size() && (*s)[close + 1] == ':';
    if (ok) {
      host = s->substr(1, close - 1);
      port_text = s->substr(close + 2);
    }
  } else {
    const auto colon = s->rfind(':');
    ok = colon != std::string::npos;
    if (ok) {
      host = s->substr(0, colon);
      port_text = s->substr(colon + 1);
      ok = host.find(':') == std::string::npos;
    }
  }
  std::int64_t port = 0;
  ok = ok && !host.empty() && host.find_first_of(" \t/") == std::string::npos && !port_text.empty() &&
       port_text.size() <= 5 && std::ranges::all_of(port_text, [](char c) { return c >= '0' && c <= '9'; });
  if (ok) {
    port = std::stoll(port_text);
    ok = port >= 1 && port <= 65535;
  }
  if (!ok) {
    expected(v, what, got(v, *s));
    return std::nullopt;
  }
  return ListenAddress{host, static_cast<std::uint16_t>(port)};
}

void Loader::server(const Field& f, ServerConfig& out) {
  static const std::vector<std::string_view> keys = {"listen",          "threads",         "max_body_bytes",
                                                     "max_header_bytes", "read_timeout_ms", "idle_timeout_ms",
                                                     "write_timeout_ms", "drain_timeout_ms", "metrics_token",
                                                     "metrics_listen"};
  const auto e = mapping(f, &keys, "use server.listen: \"HOST:PORT\"");
  if (!e) return;
  for (const auto& [key, v] : e->items) {
    if (key == "listen") {
      if (auto address = read_listen(v)) {
        out.host = std::move(address->host);
        out.port = address->port;
      }
    } else if (key == "metrics_listen") {
      if (auto address = read_listen(v)) out.metrics_listen = std::move(*address);
    } else if (key == "metrics_token") {
      read_string(v, out.metrics_token, false);
    } else if (key == "threads") {
      read_int(v, out.threads, 0, 256);
    } else if (key == "max_body_bytes") {
      read_int(v, out.max_body_bytes, 1024, 1024LL * 1024 * 1024);
    } else if (key == "max_header_bytes") {
      read_int(v, out.max_header_bytes, 1024, 1024LL * 1024);
    } else if (key == "read_timeout_ms") {
      read_ms(v, out.read_timeout);
    } else if (key == "idle_timeout_ms") {
      read_ms(v, out.idle_timeout);
    } else if (key == "write_timeout_ms") {
      read_ms(v, out.write_timeout);
    } else if (key == "drain_timeout_ms") {
      read_ms(v, out.drain_timeout);
    }
  }
}

void Loader::storage(const Field& f, StorageConfig& out) {
  static const std::vector<std::string_view> keys = {"sqlite_path"};
  const auto e = mapping(f, &keys);
  if (!e) return;
  for (const auto& [key, v] : e->items) {
    if (key == "sqlite_path") read_string(v, out.sqlite_path, false);
  }
}

void Loader::providers(const Field& f, std::vector<ProviderConfig>& out) {
  const auto items = sequence(f, "a list of providers");
  if (!items) return;
  std::vector<Pos> name_pos;
  for (const auto& item : *items) {
    ProviderConfig p;
    provider(item, p, name_pos);
    out.push_back(std::move(p));
  }
  // Duplicate names are reported at the later definition.
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i].name.empty()) continue;
    for (std::size_t j = 0; j < i; ++j) {
      if (out[j].name == out[i].name) {
        issue(name_pos[i], (*items)[i].path + ".name: duplicate provider name " + quote(out[i].name) +
                               " (first defined at line " + std::to_string(name_pos[j].line) + ")");
        break;
      }
    }
  }
}

void Loader::provider(const Field& f, ProviderConfig& p, std::vector<Pos>& name_pos) {
  static const std::vector<std::string_view> keys = {
      "name",   "type",   "base_url",           "api_key",               "api_version",     "locality",
      "models", "prices", "connect_timeout_ms", "first_byte_timeout_ms", "idle_timeout_ms", "total_timeout_ms",
      "max_concurrency", "embedding_model"};
  name_pos.emplace_back();
  if (f.value.IsNull()) {
    expected(f, "a provider mapping with at least name and type", describe(f.value));
    return;
  }
  const auto e = mapping(f, &keys);
  if (!e) return;
  require(*e, "name");
  require(*e, "type");
  bool locality_set = false;
  bool api_key_failed = false;
  bool base_url_failed = false;
  for (const auto& [key, v] : e->items) {
    if (key == "name") {
      std::string name;
      if (!read_string(v, name)) continue;
      if (!is_identifier(name)) {
        expected(v, "a provider name of 1..64 letters, digits, '_', '-' or '.'", got(v, name));
        continue;
      }
      p.name = name;
      name_pos.back() = v.pos();
    } else if (key == "type") {
      if (auto t = read_enum(v, kProviderTypes)) p.type = *t;
    } else if (key == "base_url") {
      std::string url;
      if (!read_string(v, url)) {
        base_url_failed = true;
        continue;
      }
      if (!(url.starts_with("http://") || url.starts_with("https://")) || url.size() <= 8 ||
          url.find_first_of(" \t\n") != std::string::npos) {
        expected(v, "an http:// or https:// URL", got(v, url));
        base_url_failed = true;
        continue;
      }
      while (url.ends_with('/')) url.pop_back();
      p.base_url = url;
    } else if (key == "api_key") {
      if (!read_string(v, p.api_key)) api_key_failed = true;
    } else if (key == "api_version") {
      read_string(v, p.api_version, false);
    } else if (key == "locality") {
      if (auto l = read_enum(v, {"local", "cloud"})) {
        p.locality = *l == "local" ? Locality::local : Locality::cloud;
        locality_set = true;
      }
    } else if (key == "models") {
      const auto m = mapping(v, nullptr);
      if (!m) continue;
      for (const auto& [tier, model] : m->items) {
        if (std::ranges::find(kTiers, tier) == kTiers.end()) {
          std::string msg = model.path + ": expected a tier name (one of " + join(kTiers) + "), got " + quote(tier);
          if (const auto s = suggest(tier, kTiers)) msg += "; did you mean \"" + std::string(*s) + "\"?";
          issue(model.fallback, std::move(msg));
          continue;
        }
        std::string id;
        if (read_string(model, id, false)) p.models[tier] = id;
      }
      if (v.value.IsNull() || (v.value.IsMap() && v.value.size() == 0)) {
        issue(v.pos(), v.path + ": expected a mapping of at least one tier (" + join(kTiers) + ") to a model id");
      }
    } else if (key == "prices") {
      const auto m = mapping(v, nullptr);
      if (!m) continue;
      static const std::vector<std::string_view> price_keys = {"input_per_mtok_usd", "output_per_mtok_usd"};
      for (const auto& [model_id, price_field] : m->items) {
        const auto pm = mapping(price_field, &price_keys);
        if (!pm) continue;
        if (price_field.value.IsNull()) {
          expected(price_field, "a mapping with input_per_mtok_usd and output_per_mtok_usd", "nothing (null)");
          continue;
        }
        const bool has_in = require(*pm, "input_per_mtok_usd");
        const bool has_out = require(*pm, "output_per_mtok_usd");
        ModelPrice price;
        bool ok = has_in && has_out;
        for (const auto& [pk, pv] : pm->items) {
          Money& target = pk == "input_per_mtok_usd" ? price.input_per_mtok : price.output_per_mtok;
          if (!read_money(pv, target)) ok = false;
        }
        if (ok) p.prices[model_id] = price;
      }
    } else if (key == "connect_timeout_ms") {
      read_ms(v, p.connect_timeout);
    } else if (key == "first_byte_timeout_ms") {
      read_ms(v, p.first_byte_timeout);
    } else if (key == "idle_timeout_ms") {
      read_ms(v, p.idle_timeout);
    } else if (key == "total_timeout_ms") {
      read_ms(v, p.total_timeout);
    } else if (key == "max_concurrency") {
      read_int(v, p.max_concurrency, 1, 65536);
    } else if (key == "embedding_model") {
      read_string(v, p.embedding_model);
    }
  }
  if (!e->find("models")) {
    issue(e->map_pos, child(f.path, "models") + ": required key is missing; expected a mapping of at least one tier (" +
                          join(kTiers) + ") to a model id");
  }
  if (p.type.empty()) return;  // unknown or missing type: type-specific checks would only add noise

  if (!locality_set) p.locality = (p.type == "ollama" || p.type == "sim") ? Locality::local : Locality::cloud;
  if (p.base_url.empty() && !base_url_failed) {
    if (p.type == "anthropic") {
      p.base_url = "https://api.anthropic.com";
    } else if (p.type == "ollama") {
      p.base_url = "http://127.0.0.1:11434";
    } else if (p.type == "azure_openai" || p.type == "openai_compat") {
      issue(e->map_pos, child(f.path, "base_url") + ": required for type " + p.type +
                            " (e.g. \"https://RESOURCE.openai.azure.com\")");
    }
  }
  if ((p.type == "anthropic" || p.type == "azure_openai") && !api_key_failed && p.api_key.empty()) {
    const Field* at = e->find("api_key");
    issue(at ? at->pos() : e->map_pos, child(f.path, "api_key") + ": required for type " + p.type +
                                           "; expected a reference such as \"${" +
                                           (p.type == "anthropic" ? "ANTHROPIC_API_KEY" : "AZURE_OPENAI_API_KEY") +
                                           "}\"");
  }
  if (p.type == "azure_openai" && p.api_version.empty() && !e->find("api_version")) {
    issue(e->map_pos, child(f.path, "api_version") + ": required for type azure_openai (e.g. \"2024-06-01\")");
  }
}

bool Loader::routing(const Field& f, RoutingConfig& out, const std::vector<ProviderConfig>& providers) {
  static const std::vector<std::string_view> keys = {"task_tiers",
                                                     "fallback_chain",
                                                     "confidential",
                                                     "downgrade_opus_below_usd",
                                                     "downgrade_sonnet_below_usd",
                                                     "team_models"};
  const auto e = mapping(f, &keys);
  if (!e) return true;  // already reported; do not invent a chain
  bool chain_given = false;
  bool opus_ok = true;
  const Field* sonnet_field = nullptr;
  for (const auto& [key, v] : e->items) {
    if (key == "task_tiers") {
      const auto m = mapping(v, nullptr);
      if (!m) continue;
      for (const auto& [task, tier_field] : m->items) {
        if (!is_identifier(task)) {
          issue(tier_field.fallback, tier_field.path + ": expected a task name of letters, digits, '_', '-' or '.'");
          continue;
        }
        if (auto tier = read_enum(tier_field, kTiers)) out.task_tiers[task] = *tier;
      }
    } else if (key == "fallback_chain") {
      chain_given = !v.value.IsNull();
      const auto items = sequence(v, "a list of provider names");
      if (!items) continue;
      std::vector<std::string_view> names;
      for (const auto& p : providers) {
        if (!p.name.empty()) names.push_back(p.name);
      }
      std::vector<std::string> chain;
      for (const auto& item : *items) {
        auto name = scalar(item, "a provider name");
        if (!name) continue;
        if (std::ranges::find(names, *name) == names.end()) {
          std::string msg = item.path + ": unknown provider " + quote(*name);
          if (names.empty()) {
            msg += "; no providers are configured";
          } else if (const auto s = suggest(*name, names)) {
            msg += "; did you mean \"" + std::string(*s) + "\"?";
          } else {
            msg += "; expected one of: " + join(names);
          }
          issue(item.pos(), std::move(msg));
          continue;
        }
        if (std::ranges::find(chain, *name) != chain.end()) {
          issue(item.pos(), item.path + ": provider " + quote(*name) + " appears twice in the chain");
          continue;
        }
        chain.push_back(*name);
      }
      out.fallback_chain = std::move(chain);
    } else if (key == "confidential") {
      if (auto c = read_enum(v, {"cloud_masked", "local_only"})) {
        out.confidential = *c == "cloud_masked" ? ConfidentialPolicy::cloud_masked : ConfidentialPolicy::local_only;
      }
    } else if (key == "downgrade_opus_below_usd") {
      opus_ok = read_money(v, out.downgrade_opus_below);
    } else if (key == "downgrade_sonnet_below_usd") {
      if (v.value.IsNull()) {
        out.downgrade_sonnet_below.reset();
        continue;
      }
      Money m;
      if (read_money(v, m)) {
        out.downgrade_sonnet_below = m;
        sonnet_field = &v;
      }
    } else if (key == "team_models") {
      const auto m = mapping(v, nullptr);
      if (!m) continue;
      for (const auto& [team, list] : m->items) {
        if (team.empty()) {
          issue(list.fallback, list.path + ": expected a team name, got an empty key");
          continue;
        }
        std::vector<std::string> models;
        if (read_string_list(list, models, "model name", &is_model_name)) out.team_models[team] = models;
      }
    }
  }
  if (opus_ok && sonnet_field && *out.downgrade_sonnet_below > out.downgrade_opus_below) {
    issue(sonnet_field->pos(), sonnet_field->path + ": expected at most routing.downgrade_opus_below_usd (" +
                                   out.downgrade_opus_below.to_usd_string() + "), got " +
                                   out.downgrade_sonnet_below->to_usd_string());
  }
  return chain_given;
}

void Loader::classification(const Field& f, ClassificationConfig& out) {
  static const std::vector<std::string_view> keys = {"internal_domains", "custom_recognizers"};
  const auto e = mapping(f, &keys);
  if (!e) return;
  for (const auto& [key, v] : e->items) {
    if (key == "internal_domains") {
      if (read_string_list(v, out.internal_domains, "domain name such as \"corp.example.com\"", &is_domain)) {
        for (auto& d : out.internal_domains) d = lower(d);
      }
    } else if (key == "custom_recognizers") {
      const auto items = sequence(v, "a list of recognizers");
      if (!items) continue;
      std::vector<std::pair<std::string, int>> names;
      for (const auto& item : *items) {
        CustomRecognizer r;
        recognizer(item, r);
        if (!r.name.empty()) {
          const auto dup = std::ranges::find_if(names, [&](const auto& n) { return n.first == r.name; });
          if (dup != names.end()) {
            Pos at = item.pos();
            if (const YAML::Node n = item.value["name"]; n) at = pos_of(n.Mark());
            issue(at, item.path + ".name: duplicate recognizer name " + quote(r.name) +
                                  " (first defined at line " + std::to_string(dup->second) + ")");
            continue;
          }
          names.emplace_back(r.name, item.pos().line);
        }
        out.custom_recognizers.push_back(std::move(r));
      }
    }
  }
}

void Loader::recognizer(const Field& f, CustomRecognizer& r) {
  static const std::vector<std::string_view> keys = {"name",  "pattern",   "entity_type",
                                                     "level", "validator", "context_words"};
  if (f.value.IsNull()) {
    expected(f, "a recognizer mapping with name, pattern and entity_type", describe(f.value));
    return;
  }
  const auto e = mapping(f, &keys);
  if (!e) return;
  require(*e, "name");
  require(*e, "pattern");
  require(*e, "entity_type");
  for (const auto& [key, v] : e->items) {
    if (key == "name") {
      std::string name;
      if (!read_string(v, name)) continue;
      if (!is_identifier(name)) {
        expected(v, "a recognizer name of 1..64 letters, digits, '_', '-' or '.'", got(v, name));
        continue;
      }
      r.name = name;
    } else if (key == "pattern") {
      read_string(v, r.pattern, false);
    } else if (key == "entity_type") {
      std::string t;
      if (!read_string(v, t)) continue;
      if (!is_entity_type(t)) {
        expected(v, "an entity type in UPPER_SNAKE_CASE such as \"EMPLOYEE_ID\"", got(v, t));
        continue;
      }
      r.entity_type = t;
    } else if (key == "level") {
      constexpr std::string_view what = "a level (one of PUBLIC, INTERNAL, CONFIDENTIAL, RESTRICTED)";
      auto s = scalar(v, what);
      if (!s) continue;
      if (const auto level = parse_level(*s)) {
        r.level = *level;
      } else {
        expected(v, what, got(v, *s));
      }
    } else if (key == "validator") {
      if (v.value.IsNull() || (v.value.IsScalar() && v.value.Scalar().empty())) {
        r.validator.clear();
      } else if (auto val = read_enum(v, {"luhn", "mod97"})) {
        r.validator = *val;
      }
    } else if (key == "context_words") {
      read_string_list(v, r.context_words, "non-empty word", [](std::string_view s) { return !s.empty(); });
    }
  }
}

void Loader::pii(const Field& f, PiiConfig& out) {
  static const std::vector<std::string_view> keys = {"invented_pii", "block_entities", "team_block_entities"};
  const auto e = mapping(f, &keys);
  if (!e) return;
  constexpr std::string_view entity_what = "entity type in UPPER_SNAKE_CASE such as \"CREDIT_CARD\"";
  for (const auto& [key, v] : e->items) {
    if (key == "invented_pii") {
      if (auto p = read_enum(v, {"alert", "redact"})) {
        out.invented_pii = *p == "alert" ? InventedPiiPolicy::alert : InventedPiiPolicy::redact;
      }
    } else if (key == "block_entities") {
      read_string_list(v, out.block_entities, entity_what, &is_entity_type);
    } else if (key == "team_block_entities") {
      const auto m = mapping(v, nullptr);
      if (!m) continue;
      for (const auto& [team, list] : m->items) {
        if (team.empty()) {
          issue(list.fallback, list.path + ": expected a team name, got an empty key");
          continue;
        }
        std::vector<std::string> types;
        if (read_string_list(list, types, entity_what, &is_entity_type)) out.team_block_entities[team] = types;
      }
    }
  }
}

void Loader::budgets(const Field& f, BudgetConfig& out) {
  static const std::vector<std::string_view> keys = {"timezone", "reservation_ttl_s"};
  const auto e = mapping(f, &keys);
  if (!e) return;
  for (const auto& [key, v] : e->items) {
    if (key == "timezone") {
      std::string tz;
      if (!read_string(v, tz)) continue;
      if (!is_timezone_name(tz)) {
        expected(v,
                 "a known IANA time zone name such as \"UTC\" or \"America/Toronto\", "
                 "or a UTC offset such as \"+05:30\"",
                 got(v, tz));
        continue;
      }
      out.timezone = tz;
    } else if (key == "reservation_ttl_s") {
      std::int64_t s = 0;
      if (read_int(v, s, 1, 86'400)) out.reservation_ttl = std::chrono::seconds(s);
    }
  }
}

void Loader::resilience(const Field& f, ResilienceConfig& out) {
  static const std::vector<std::string_view> keys = {"failure_threshold", "open_duration_s", "health_check_interval_s"};
  const auto e = mapping(f, &keys);
  if (!e) return;
  for (const auto& [key, v] : e->items) {
    std::int64_t n = 0;
    if (key == "failure_threshold") {
      if (read_int(v, n, 1, 1000)) out.failure_threshold = static_cast<int>(n);
    } else if (key == "open_duration_s") {
      if (read_int(v, n, 1, 86'400)) out.open_duration = std::chrono::seconds(n);
    } else if (key == "health_check_interval_s") {
      if (read_int(v, n, 0, 86'400)) out.health_check_interval = std::chrono::seconds(n);
    }
  }
}

void Loader::egress(const Field& f, EgressConfig& out) {
  static const std::vector<std::string_view> keys = {"local_cidrs"};
  const auto e = mapping(f, &keys);
  if (!e) return;
  for (const auto& [key, v] : e->items) {
    if (key == "local_cidrs") read_string_list(v, out.local_cidrs, "CIDR such as \"10.20.0.0/16\"", &is_cidr);
  }
}

void Loader::jobs(const Field& f, JobsConfig& out) {
  static const std::vector<std::string_view> keys = {"max_queue_depth", "queue_ttl_s",         "retention_s",
                                                     "lease_s",         "max_attempts",        "workers",
                                                     "provider_concurrency", "sync_every_commit",
                                                     "keep_requests", "encryption"};
  const auto e = mapping(f, &keys);
  if (!e) return;
  for (const auto& [key, v] : e->items) {
    std::int64_t n = 0;
    if (key == "max_queue_depth") {
      if (read_int(v, n, 1, 100'000'000)) out.max_queue_depth = n;
    } else if (key == "queue_ttl_s") {
      if (read_int(v, n, 1, 30 * 86'400)) out.queue_ttl = std::chrono::seconds(n);
    } else if (key == "retention_s") {
      if (read_int(v, n, 0, 3650 * 86'400)) out.retention = std::chrono::seconds(n);
    } else if (key == "lease_s") {
      if (read_int(v, n, 3, 3'600)) out.lease = std::chrono::seconds(n);
    } else if (key == "max_attempts") {
      if (read_int(v, n, 1, 100)) out.max_attempts = static_cast<int>(n);
    } else if (key == "workers") {
      if (read_int(v, n, 1, 10'000)) out.workers = static_cast<int>(n);
    } else if (key == "provider_concurrency") {
      if (v.value.IsMap()) {
        const auto per = mapping(v, nullptr);
        if (!per) continue;
        for (const auto& [provider, limit] : per->items) {
          if (provider == "default") {
            if (read_int(limit, n, 1, 10'000)) out.provider_concurrency = static_cast<int>(n);
          } else if (read_int(limit, n, 1, 10'000)) {
            out.provider_concurrency_overrides[provider] = static_cast<int>(n);
          }
        }
      } else if (read_int(v, n, 1, 10'000)) {
        out.provider_concurrency = static_cast<int>(n);
      }
    } else if (key == "sync_every_commit") {
      read_bool(v, out.sync_every_commit);
    } else if (key == "keep_requests") {
      jobs_keep_requests(v, out);
    } else if (key == "encryption") {
      jobs_encryption(v, out.encryption);
    }
  }
}

// --- jobs.keep_requests and jobs.encryption (job content at rest) ------------

// `true`/`false`, or a mapping {default: bool, <team>: bool, ...}.
void Loader::jobs_keep_requests(const Field& f, JobsConfig& out) {
  if (!f.value.IsMap()) {
    read_bool(f, out.keep_requests);
    return;
  }
  const auto per = mapping(f, nullptr);
  if (!per) return;
  for (const auto& [team, keep] : per->items) {
    if (team == "default") {
      read_bool(keep, out.keep_requests);
    } else {
      bool b = false;
      if (read_bool(keep, b)) out.keep_requests_teams[team] = b;
    }
  }
}

namespace {

constexpr std::string_view kKeyFormat = "a 256-bit key: 64 hex digits or base64 of 32 bytes";

bool is_key_id(std::string_view s) {
  return !s.empty() && s.size() <= 64 && std::ranges::all_of(s, [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

// The key file's text, or an error message. Never more than a small file.
std::optional<std::string> read_small_file(const std::string& path, std::string& error) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    error = "is a directory";
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = std::strerror(errno);
    return std::nullopt;
  }
  std::string text(4096, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return text;
}

}  // namespace

void Loader::jobs_encryption(const Field& f, JobsEncryptionConfig& out) {
  static const std::vector<std::string_view> keys = {"active", "keys"};
  static const std::vector<std::string_view> key_keys = {"id", "env", "file"};
  const auto e = mapping(f, &keys);
  if (!e) return;
  bool keys_ok = true;
  if (const Field* list = e->find("keys")) {
    const auto items = sequence(*list, "a list of {id, env | file} mappings");
    keys_ok = items.has_value();
    for (const auto& item : items ? *items : std::vector<Field>{}) {
      const auto k = mapping(item, &key_keys);
      if (!k) {
        keys_ok = false;
        continue;
      }
      JobsContentKey key;
      bool ok = require(*k, "id");
      if (const Field* id = k->find("id")) {
        if (!read_string(*id, key.id)) {
          ok = false;
        } else if (!is_key_id(key.id)) {
          expected(*id, "a key id of 1..64 characters [A-Za-z0-9_.-]", got(*id, key.id));
          ok = false;
        } else if (std::ranges::any_of(out.keys, [&](const JobsContentKey& o) { return o.id == key.id; })) {
          issue(id->pos(), id->path + ": key id " + quote(key.id) + " is listed twice");
          ok = false;
        }
      }
      const Field* env = k->find("env");
      const Field* file = k->find("file");
      if ((env == nullptr) == (file == nullptr)) {
        issue(k->map_pos, item.path + ": expected exactly one of env (an environment variable holding the key) or "
                                      "file (a file holding it)");
        ok = false;
      } else if (env) {
        std::string name;
        if (!read_string(*env, name)) {
          ok = false;
        } else if (!is_env_name(name)) {
          expected(*env, "an environment variable name ([A-Za-z_][A-Za-z0-9_]*)", got(*env, name));
          ok = false;
        } else if (const char* value = env_(name.c_str()); value == nullptr) {
          issue(env->pos(), env->path + ": environment variable " + name + " is not set");
          ok = false;
        } else if (auto bytes = parse_key256(value)) {
          key.bytes = *bytes;
          key.source = "env " + name;
        } else {
          issue(env->pos(), env->path + ": environment variable " + name + " does not hold " + std::string(kKeyFormat));
          ok = false;
        }
      } else {
        std::string path;
        std::string error;
        if (!read_string(*file, path, false)) {
          ok = false;
        } else if (auto text = read_small_file(path, error); !text) {
          issue(file->pos(), file->path + ": cannot read key file " + quote(path) + ": " + error);
          ok = false;
        } else if (auto bytes = parse_key256(*text)) {
          key.bytes = *bytes;
          key.source = "file " + path;
        } else {
          issue(file->pos(), file->path + ": key file " + quote(path) + " does not hold " + std::string(kKeyFormat));
          ok = false;
        }
      }
      keys_ok = keys_ok && ok;
      if (ok) out.keys.push_back(std::move(key));
    }
  }
  if (const Field* active = e->find("active")) {
    if (read_string(*active, out.active) && keys_ok &&
        std::ranges::none_of(out.keys, [&](const JobsContentKey& k) { return k.id == out.active; })) {
      issue(active->pos(), active->path + ": unknown key id " + quote(out.active) + "; expected one of the ids in " +
                               child(e->path, "keys") + (out.keys.empty() ? " (none are listed)" : ""));
    }
  } else if (!out.keys.empty()) {
    issue(e->map_pos, child(e->path, "active") + ": required when keys are listed (the id new job content is "
                                                 "encrypted with)");
  }
}

// `limits:` request shapes. Each bound is at least 1; the ceilings only keep
// a typo (an extra zero or three) from switching a bound off.
void Loader::limits(const Field& f, LimitsConfig& out) {
  static const std::vector<std::string_view> keys = {"max_messages", "max_tools", "max_stop_sequences",
                                                     "max_embedding_inputs", "max_text_bytes"};
  const auto e = mapping(f, &keys);
  if (!e) return;
  for (const auto& [key, v] : e->items) {
    if (key == "max_messages") {
      read_int(v, out.max_messages, 1, 1'000'000);
    } else if (key == "max_tools") {
      read_int(v, out.max_tools, 1, 100'000);
    } else if (key == "max_stop_sequences") {
      read_int(v, out.max_stop_sequences, 1, 100'000);
    } else if (key == "max_embedding_inputs") {
      read_int(v, out.max_embedding_inputs, 1, 1'000'000);
    } else if (key == "max_text_bytes") {
      read_int(v, out.max_text_bytes, 1024, 1024LL * 1024 * 1024);
    }
  }
}

void Loader::logging(const Field& f, LoggingConfig& out) {
  static const std::vector<std::string_view> keys = {"level", "access_log"};
  const auto e = mapping(f, &keys);
  if (!e) return;
  for (const auto& [key, v] : e->items) {
    if (key == "level") {
      if (auto l = read_enum(v, {"trace", "debug", "info", "warn", "error", "off"})) out.level = *l;
    } else if (key == "access_log") {
      read_bool(v, out.access_log);
    }
  }
}

Config Loader::run(const std::string& text) {
  Config cfg = default_config();
  cfg.source = file_;
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(text);
  } catch (const YAML::Exception& ex) {
    issue(pos_of(ex.mark), "YAML syntax error: " + ex.msg);
    throw ConfigError(std::move(issues_));
  }
  if (docs.size() > 1) {
    issue(pos_of(docs[1].Mark()), "expected a single YAML document, found " + std::to_string(docs.size()));
  }
  try {
    if (!docs.empty()) {
      static const std::vector<std::string_view> sections = {
          "server", "storage", "providers", "routing", "resilience", "egress",
          "classification", "pii", "budgets", "jobs", "logging",
          "limits"};
      const Field root{"", docs[0], {1, 1}};
      if (const auto top = mapping(root, &sections)) {
        // Fixed order, whatever the order in the file: routing needs the providers.
        if (const Field* s = top->find("server")) server(*s, cfg.server);
        if (const Field* s = top->find("storage")) storage(*s, cfg.storage);
        if (const Field* s = top->find("providers")) providers(*s, cfg.providers);
        bool chain_given = false;
        if (const Field* s = top->find("routing")) chain_given = routing(*s, cfg.routing, cfg.providers);
        if (const Field* s = top->find("resilience")) resilience(*s, cfg.resilience);
        if (const Field* s = top->find("jobs")) jobs(*s, cfg.jobs);
        if (const Field* s = top->find("egress")) egress(*s, cfg.egress);
        if (const Field* s = top->find("classification")) classification(*s, cfg.classification);
        if (const Field* s = top->find("pii")) pii(*s, cfg.pii);
        if (const Field* s = top->find("budgets")) budgets(*s, cfg.budgets);
        if (const Field* s = top->find("logging")) logging(*s, cfg.logging);
        if (const Field* s = top->find("limits")) limits(*s, cfg.limits);

        // No explicit chain: every provider in file order, local ones last,
        // so that the chain ends in the local model.
        if (!chain_given) {
          for (const auto locality : {Locality::cloud, Locality::local}) {
            for (const auto& p : cfg.providers) {
              if (p.locality == locality && !p.name.empty() &&
                  std::ranges::find(cfg.routing.fallback_chain, p.name) == cfg.routing.fallback_chain.end()) {
                cfg.routing.fallback_chain.push_back(p.name);
              }
            }
          }
        }
      }
    }
  } catch (const YAML::Exception& ex) {
    issue(pos_of(ex.mark), "YAML error: " + ex.msg);
  }
  if (!issues_.empty()) {
    std::stable_sort(issues_.begin(), issues_.end(), [](const ConfigIssue& a, const ConfigIssue& b) {
      return std::pair(a.line, a.column) < std::pair(b.line, b.column);
    });
    throw ConfigError(std::move(issues_));
  }
  return cfg;
}

const char* default_getenv(const char* name) { return std::getenv(name); }

}  // namespace

Config parse_config(const std::string& yaml_text, const std::string& file, EnvLookup getenv_fn) {
  Loader loader(file, getenv_fn ? getenv_fn : &default_getenv);
  return loader.run(yaml_text);
}

Config load_config_file(const std::string& path, EnvLookup getenv_fn) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw ConfigError({ConfigIssue{path, 0, 0, "cannot read file: it is a directory"}});
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    throw ConfigError({ConfigIssue{path, 0, 0, std::string("cannot read file: ") + std::strerror(err)}});
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    throw ConfigError({ConfigIssue{path, 0, 0, "cannot read file: read error"}});
  }
  return parse_config(text.str(), path, getenv_fn);
}

}  // namespace aegis::config
