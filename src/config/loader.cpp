// YAML -> validated Config. Every problem is collected (with its position)
// before anything is thrown, so one run of `aegis config check` shows them all.
//
// Each section is one table of keys (Key<T> below): a key's name, how its
// value is read into the section's struct, and what the reference in
// docs/CONFIG.md says about it. The allowed keys (and the "did you mean"
// suggestions), the dispatch and the reference tables (config/reference.hpp)
// all come from those tables.
#include "config/loader.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/url/parse.hpp>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <limits>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>
#include <utility>

#include "config/reference.hpp"
#include "core/process_env.hpp"
#include "core/tier.hpp"
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
      {"commit_summary", Tier::haiku},     {"classification", Tier::haiku}, {"routing", Tier::haiku},
      {"extraction", Tier::haiku},         {"code_review", Tier::sonnet},   {"rag", Tier::sonnet},
      {"summarization", Tier::sonnet},     {"chat", Tier::sonnet},          {"security_audit", Tier::opus},
      {"architecture_review", Tier::opus},
  };
  return cfg;
}

namespace {

// ---------------------------------------------------------------------------
// Small helpers

constexpr std::int64_t kMaxTimeoutMs = 86'400'000;  // 24 h
// The tier names in cost order, for the messages, suggestions and reference rows that list them.
// Function-local statics: built on first use, so start-up cannot throw before main.
const std::vector<std::string_view>& tier_names() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> out;
    out.reserve(kAllTiers.size());
    for (const Tier tier : kAllTiers) out.push_back(to_string(tier));
    return out;
  }();
  return names;
}
const std::vector<std::string_view>& provider_types() {
  static const std::vector<std::string_view> types = {"anthropic", "azure_openai", "openai_compat", "ollama", "sim"};
  return types;
}

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
  return std::ranges::all_of(
      s, [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'; });
}

bool is_residency(std::string_view s) {  // "CA", "EU", "US-east", "CA-QC"
  if (s.empty() || s.size() > 32) return false;
  return std::ranges::all_of(s, [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-'; });
}

bool is_entity_type(std::string_view s) {  // UPPER_SNAKE_CASE
  if (s.empty() || s.size() > 64 || !(s[0] >= 'A' && s[0] <= 'Z')) return false;
  return std::ranges::all_of(s, [](char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; });
}

bool is_domain(std::string_view s) {
  if (s.empty() || s.size() > 253 || s.front() == '.' || s.back() == '.' || s.front() == '-') return false;
  return std::ranges::all_of(
      s, [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.'; });
}

bool is_model_name(std::string_view s) {  // "auto", a tier, "claude-sonnet-4-5", "ollama/llama3.2:3b"
  return !s.empty() && s.size() <= 200 &&
         std::ranges::none_of(s, [](char c) { return static_cast<unsigned char>(c) <= ' ' || c == '"' || c == '\\'; });
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

bool is_key_id(std::string_view s) {
  return !s.empty() && s.size() <= 64 && std::ranges::all_of(s, [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
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

using Hints = std::vector<std::pair<std::string_view, std::string_view>>;  // unknown key -> what to write instead

// A table's mapping once read: its entries, and the keys whose value was refused.
struct TableRead {
  Entries entries;
  std::vector<std::string_view> refused;

  const Field* given(std::string_view key) const { return entries.find(key); }
  bool was_refused(std::string_view key) const { return std::ranges::find(refused, key) != refused.end(); }
  bool accepted(std::string_view key) const { return given(key) && !was_refused(key); }
};

// ---------------------------------------------------------------------------
// Tables of keys

class Loader;

// One key of a section: how its value is read into the section's struct T,
// and what the reference says about it.
template <typename T>
struct Key {
  std::string_view name;
  // Reads the value into `out`; false when it was refused (already reported).
  std::function<bool(Loader&, const Field&, T& out)> read;
  // The reference: what the value is, its range or allowed values, the
  // default (shown from a default T), and one line about it.
  std::string type;
  std::string values;
  std::function<std::string(const T& defaults)> shown_default;
  std::string_view doc;
  bool required = false;
  std::string_view missing_hint;  // after "required key is missing; "
  // The rows of the table inside this key's value (prices, recognizers, ...).
  std::function<std::vector<KeyDoc>()> nested;

  Key(std::string_view key_name, std::function<bool(Loader&, const Field&, T&)> reader, std::string key_type,
      std::string key_values, std::function<std::string(const T&)> shown, std::string_view key_doc)
      : name(key_name),
        read(std::move(reader)),
        type(std::move(key_type)),
        values(std::move(key_values)),
        shown_default(std::move(shown)),
        doc(key_doc) {}

  Key need(std::string_view hint = {}) && {
    required = true;
    missing_hint = hint;
    return std::move(*this);
  }
  Key shown_as(std::string text) && {
    shown_default = [text](const T&) { return text; };
    return std::move(*this);
  }
  Key with_rows(std::function<std::vector<KeyDoc>()> rows) && {
    nested = std::move(rows);
    return std::move(*this);
  }
};

template <typename T>
struct Table {
  std::vector<Key<T>> keys;
  std::string_view if_null = {};  // set: a null value is refused ("expected <if_null>"); else it reads as empty
  Hints unknown_hints = {};

  std::vector<std::string_view> names() const {
    std::vector<std::string_view> out;
    for (const auto& k : keys) out.push_back(k.name);
    return out;
  }
  const Key<T>* find(std::string_view name) const {
    const auto it = std::ranges::find(keys, name, &Key<T>::name);
    return it == keys.end() ? nullptr : &*it;
  }
};

// ---------------------------------------------------------------------------
// The loader: reading primitives, used by the tables' readers.

class Loader {
 public:
  Loader(std::string file, EnvLookup env, const ValueChecks& checks)
      : file_(std::move(file)), env_(env), checks_(checks) {}

  Config run(const std::string& text);

  // -- reporting
  void issue(Pos pos, std::string message) {
    issues_.push_back(ConfigIssue{file_, pos.line, pos.column, std::move(message)});
  }
  void expected(const Field& f, std::string_view what, const std::string& got) {
    issue(f.pos(),
          (f.path.empty() ? std::string("top level") : f.path) + ": expected " + std::string(what) + ", got " + got);
  }
  std::string got(const Field& f, const std::string& resolved) const {
    const std::string& raw = f.value.Scalar();
    if (raw == resolved) return quote(resolved);
    return quote(resolved) + " (from " + quote(raw) + ")";
  }

  // -- structure
  // A mapping. Null counts as empty; anything else is an issue. With
  // `allowed`, other keys are issues (with a hint, a suggestion or the list).
  std::optional<Entries> mapping(const Field& f, const std::vector<std::string_view>* allowed,
                                 const Hints* hints = nullptr);
  std::optional<std::vector<Field>> sequence(const Field& f, std::string_view what);
  bool require(const Entries& e, std::string_view key, std::string_view hint = {}) {
    if (e.find(key)) return true;
    issue(e.map_pos, child(e.path, key) + ": required key is missing" + (hint.empty() ? "" : "; " + std::string(hint)));
    return false;
  }
  // Reads a mapping through its table: unknown keys, required keys, then
  // every given key's reader in document order.
  template <typename T>
  std::optional<TableRead> read_table(const Table<T>& table, const Field& f, T& out);

  // -- scalars (all of them go through ${VAR} substitution)
  std::optional<std::string> scalar(const Field& f, std::string_view what);
  bool read_string(const Field& f, std::string& out, bool allow_empty = true);
  // "HOST:PORT" with a port in 1..65535, IPv6 as "[::1]:8080".
  std::optional<ListenAddress> read_listen(const Field& v);
  template <typename T>
  bool read_int(const Field& f, T& out, std::int64_t lo, std::int64_t hi);
  bool read_bool(const Field& f, bool& out);
  bool read_money(const Field& f, Money& out);
  std::optional<std::string> read_enum(const Field& f, const std::vector<std::string_view>& allowed);
  bool read_string_list(const Field& f, std::vector<std::string>& out, std::string_view item_what,
                        bool (*valid)(std::string_view));

  const char* env(const std::string& name) const { return env_(name.c_str()); }
  const ValueChecks& checks() const { return checks_; }
  // The providers read so far (routing.fallback_chain names them).
  const std::vector<ProviderConfig>& providers() const { return cfg_.providers; }

 private:
  std::optional<std::string> substitute(const Field& f, const std::string& in);

  std::string file_;
  EnvLookup env_;
  const ValueChecks& checks_;
  Config cfg_;
  std::vector<ConfigIssue> issues_;
};

std::optional<Entries> Loader::mapping(const Field& f, const std::vector<std::string_view>* allowed,
                                       const Hints* hints) {
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
      issue(key_pos,
            (f.path.empty() ? std::string("top level") : f.path) + ": expected a plain key, got " + describe(key));
      continue;
    }
    const std::string& name = key.Scalar();
    const std::string path = child(f.path, name);
    const auto dup = std::ranges::find_if(seen, [&](const auto& s) { return s.first == name; });
    if (dup != seen.end()) {
      issue(key_pos, path + ": duplicate key (first defined at line " + std::to_string(dup->second.line) + ")");
      continue;
    }
    seen.emplace_back(name, key_pos);
    if (allowed && std::ranges::find(*allowed, name) == allowed->end()) {
      std::string msg = path + ": unknown key";
      const auto hint = hints ? std::ranges::find(*hints, name, &Hints::value_type::first) : Hints::const_iterator{};
      if (hints && hint != hints->end()) {
        msg += "; " + std::string(hint->second);
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
  out.reserve(f.value.size());
  std::size_t i = 0;
  for (const auto& item : f.value) {
    // A sequence's iterator_value is a Node (its pair half is for maps).
    out.push_back(Field{f.path + "[" + std::to_string(i++) + "]", static_cast<const YAML::Node&>(item), f.pos()});
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

template <typename T>
std::optional<TableRead> Loader::read_table(const Table<T>& table, const Field& f, T& out) {
  if (!table.if_null.empty() && f.value.IsNull()) {
    expected(f, table.if_null, describe(f.value));
    return std::nullopt;
  }
  const auto names = table.names();
  auto e = mapping(f, &names, &table.unknown_hints);
  if (!e) return std::nullopt;
  for (const auto& key : table.keys) {
    if (key.required) require(*e, key.name, key.missing_hint);
  }
  TableRead read{std::move(*e), {}};
  for (const auto& [name, value] : read.entries.items) {
    const Key<T>& key = *table.find(name);
    if (!key.read(*this, value, out)) read.refused.push_back(key.name);
  }
  return read;
}

// ---------------------------------------------------------------------------
// Kinds of keys

std::string code(std::string_view text) { return "`" + std::string(text) + "`"; }

std::string code_list(const std::vector<std::string_view>& names) {
  std::string out;
  for (const auto name : names) out += (out.empty() ? "" : ", ") + code(name);
  return out;
}

std::string range(std::int64_t lo, std::int64_t hi) { return code(std::to_string(lo) + ".." + std::to_string(hi)); }

std::string shown_text(const std::string& value) { return value.empty() ? std::string("unset") : code(value); }

template <typename T, typename M>
Key<T> integer(std::string_view name, M T::*member, std::int64_t lo, std::int64_t hi, std::string_view doc) {
  return Key<T>(
      name, [=](Loader& l, const Field& v, T& out) { return l.read_int(v, out.*member, lo, hi); }, "integer",
      range(lo, hi), [=](const T& d) { return code(std::to_string(d.*member)); }, doc);
}

// A duration in whole units of D (milliseconds for `*_ms` keys, seconds for `*_s`).
template <typename T, typename D>
Key<T> duration(std::string_view name, D T::*member, std::int64_t lo, std::int64_t hi, std::string_view doc) {
  const auto read = [=](Loader& l, const Field& v, T& out) {
    std::int64_t n = 0;
    if (!l.read_int(v, n, lo, hi)) return false;
    out.*member = D(n);
    return true;
  };
  return Key<T>(
      name, read, std::is_same_v<D, std::chrono::milliseconds> ? "integer ms" : "integer s", range(lo, hi),
      [=](const T& d) { return code(std::to_string((d.*member).count())); }, doc);
}

template <typename T>
Key<T> timeout_ms(std::string_view name, std::chrono::milliseconds T::*member, std::string_view doc) {
  return duration(name, member, 1, kMaxTimeoutMs, doc);
}

template <typename T>
Key<T> boolean(std::string_view name, bool T::*member, std::string_view doc) {
  return Key<T>(
      name, [=](Loader& l, const Field& v, T& out) { return l.read_bool(v, out.*member); }, "boolean",
      "`true`, `false`", [=](const T& d) { return code(d.*member ? "true" : "false"); }, doc);
}

enum class Empty { allowed, refused };

template <typename T>
Key<T> text(std::string_view name, std::string T::*member, Empty empty, std::string_view doc) {
  return Key<T>(
      name, [=](Loader& l, const Field& v, T& out) { return l.read_string(v, out.*member, empty == Empty::allowed); },
      empty == Empty::allowed ? "string" : "string, non-empty", "", [=](const T& d) { return shown_text(d.*member); },
      doc);
}

// A string that `valid` accepts; `what` says what was expected.
template <typename T>
Key<T> checked(std::string_view name, std::string T::*member, bool (*valid)(std::string_view), std::string_view what,
               std::string values, std::string_view doc) {
  const auto read = [=](Loader& l, const Field& v, T& out) {
    std::string s;
    if (!l.read_string(v, s)) return false;
    if (!valid(s)) {
      l.expected(v, what, l.got(v, s));
      return false;
    }
    out.*member = std::move(s);
    return true;
  };
  return Key<T>(
      name, read, "string", std::move(values), [=](const T& d) { return shown_text(d.*member); }, doc);
}

// One of a fixed set of names, each standing for a value of E.
template <typename T, typename E>
Key<T> choice(std::string_view name, E T::*member, std::vector<std::pair<std::string_view, E>> options,
              std::string_view doc) {
  using Option = std::pair<std::string_view, E>;
  std::vector<std::string_view> names;
  names.reserve(options.size());
  for (const auto& option : options) names.push_back(option.first);
  const auto read = [=](Loader& l, const Field& v, T& out) {
    const auto s = l.read_enum(v, names);
    if (!s) return false;
    out.*member = std::ranges::find(options, *s, &Option::first)->second;
    return true;
  };
  const auto shown = [=](const T& d) {
    const auto it = std::ranges::find(options, d.*member, &Option::second);
    return it == options.end() ? std::string("unset") : code(it->first);
  };
  return Key<T>(name, read, "enum", code_list(names), shown, doc);
}

// A string that is one of `names`.
template <typename T>
Key<T> one_of(std::string_view name, std::string T::*member, const std::vector<std::string_view>& names,
              std::string_view doc) {
  std::vector<std::pair<std::string_view, std::string>> options;
  options.reserve(names.size());
  for (const auto n : names) options.emplace_back(n, std::string(n));
  return choice(name, member, std::move(options), doc);
}

template <typename T>
Key<T> money(std::string_view name, Money T::*member, std::string_view doc) {
  return Key<T>(
      name, [=](Loader& l, const Field& v, T& out) { return l.read_money(v, out.*member); }, "USD",
      "`0..10^12`, at most 6 decimals", [=](const T& d) { return code((d.*member).to_usd_string()); }, doc);
}

// Money that is unset unless given (the default is described with shown_as).
template <typename T>
Key<T> optional_money(std::string_view name, std::optional<Money> T::*member, std::string_view doc) {
  return Key<T>(
      name,
      [=](Loader& l, const Field& v, T& out) {
        Money m;
        if (!l.read_money(v, m)) return false;
        out.*member = m;
        return true;
      },
      "USD", "`0..10^12`, at most 6 decimals", [](const T&) { return std::string("unset"); }, doc);
}

// A list of strings, each accepted by `valid` (null: any).
template <typename T>
Key<T> strings(std::string_view name, std::vector<std::string> T::*member, std::string_view item_what,
               bool (*valid)(std::string_view), std::string type, std::string values, std::string_view doc) {
  return Key<T>(
      name, [=](Loader& l, const Field& v, T& out) { return l.read_string_list(v, out.*member, item_what, valid); },
      std::move(type), std::move(values), [](const T&) { return std::string("`[]`"); }, doc);
}

// Anything else: a reader of its own and the reference spelled out.
template <typename T>
Key<T> custom(std::string_view name, std::string type, std::string values, std::string shown_default,
              std::string_view doc, std::function<bool(Loader&, const Field&, T&)> read) {
  return Key<T>(
      name, std::move(read), std::move(type), std::move(values), [shown_default](const T&) { return shown_default; },
      doc);
}

// The reference rows of a table, keys prefixed with `prefix`.
template <typename T>
std::vector<KeyDoc> rows_of(const Table<T>& table, const T& defaults, const std::string& prefix = {}) {
  std::vector<KeyDoc> rows;
  for (const auto& key : table.keys) {
    rows.push_back(KeyDoc{prefix + std::string(key.name), key.type,
                          key.required ? "*required*" : key.shown_default(defaults), key.values, std::string(key.doc)});
    if (key.nested) {
      for (auto row : key.nested()) {
        row.key = prefix + row.key;
        rows.push_back(std::move(row));
      }
    }
  }
  return rows;
}

// ---------------------------------------------------------------------------
// Sections

std::string listen_text(const std::string& host, std::uint16_t port) {
  return (host.find(':') == std::string::npos ? host : "[" + host + "]") + ":" + std::to_string(port);
}

const Table<ServerConfig>& server_table() {
  static const Table<ServerConfig> table{
      .keys =
          {
              custom<ServerConfig>("listen", "string `\"HOST:PORT\"`",
                                   "port `1..65535`; IPv6 in brackets `\"[::1]:8080\"`",
                                   code(listen_text(ServerConfig{}.host, ServerConfig{}.port)),
                                   "address the HTTP server binds. Quote it. There is no `host` / `port` key",
                                   [](Loader& l, const Field& v, ServerConfig& out) {
                                     auto address = l.read_listen(v);
                                     if (!address) return false;
                                     out.host = std::move(address->host);
                                     out.port = address->port;
                                     return true;
                                   }),
              integer("threads", &ServerConfig::threads, 0, 256, "I/O threads; `0` = one per core"),
              integer("max_body_bytes", &ServerConfig::max_body_bytes, 1024, 1024LL * 1024 * 1024,
                      "larger request bodies get 413"),
              integer("max_header_bytes", &ServerConfig::max_header_bytes, 1024, 1024LL * 1024,
                      "larger request headers get 431"),
              timeout_ms("read_timeout_ms", &ServerConfig::read_timeout,
                         "the whole request (headers + body) must arrive within this"),
              timeout_ms("idle_timeout_ms", &ServerConfig::idle_timeout,
                         "keep-alive connection with no request is closed"),
              timeout_ms("write_timeout_ms", &ServerConfig::write_timeout, "sending one response"),
              timeout_ms("drain_timeout_ms", &ServerConfig::drain_timeout,
                         "on SIGTERM/SIGINT, in-flight requests get this long; then they are cut off (a stream "
                         "ends with its protocol's error event, what it carried is billed) and get at most 1 s "
                         "more to say so before the process stops"),
              text("metrics_token", &ServerConfig::metrics_token, Empty::refused,
                   "secret. `GET /metrics` then needs `Authorization: Bearer <token>` (401 otherwise); Prometheus "
                   "sends it with the scrape config's `authorization: {credentials: …}`. Use "
                   "`\"${AEGIS_METRICS_TOKEN}\"`"),
              custom<ServerConfig>(
                  "metrics_listen", "string `\"HOST:PORT\"`", "as `listen`", "unset",
                  "serve `/metrics` (and `/healthz`, `/readyz`) on a listener of its own, e.g. a pod-internal "
                  "port; the main listener then answers 404 for `/metrics`. `metrics_token`, when set, applies "
                  "there too",
                  [](Loader& l, const Field& v, ServerConfig& out) {
                    auto address = l.read_listen(v);
                    if (address) out.metrics_listen = std::move(*address);
                    return address.has_value();
                  }),
          },
      .unknown_hints = {{"host", "use server.listen: \"HOST:PORT\""}, {"port", "use server.listen: \"HOST:PORT\""}},
  };
  return table;
}

const Table<StorageConfig>& storage_table() {
  static const Table<StorageConfig> table{
      .keys = {
          text("sqlite_path", &StorageConfig::sqlite_path, Empty::refused, "the SQLite database file"),
          text("postgres_dsn", &StorageConfig::postgres_dsn, Empty::allowed,
               "libpq connection string (`host=... dbname=...` or `postgresql://...`); set, teams, keys, the audit "
               "trail and spend live in PostgreSQL 15+; write the password as `\"${ENV_VAR}\"`; never logged"),
          integer("audit_retention_months", &StorageConfig::audit_retention_months, 0, 1200,
                  "PostgreSQL: whole months of audit rows kept before the current one; each older month's "
                  "partition is dropped (hourly check). `0` keeps every month. Refused with SQLite (one "
                  "append-only table)"),
      }};
  return table;
}

bool is_http_url(std::string_view url) {
  return (url.starts_with("http://") || url.starts_with("https://")) && url.size() > 8 &&
         std::ranges::none_of(url, [](char c) { return static_cast<unsigned char>(c) <= ' '; });
}

const Table<AuditExportConfig>& audit_export_table() {
  static const Table<AuditExportConfig> table{
      .keys = {
          one_of("type", &AuditExportConfig::type, {"jsonl", "syslog", "http"},
                 "where audit rows and checkpoints are streamed (unset: nowhere); the keys below that do not "
                 "concern the chosen type are ignored"),
          text("path", &AuditExportConfig::path, Empty::refused,
               "`jsonl`: the file written, one JSON object a line (*required* for `jsonl`)"),
          integer("rotate_bytes", &AuditExportConfig::rotate_bytes, 0, std::int64_t{1} << 40,
                  "`jsonl`: past this size the file is renamed `path.1` (`path.1` to `path.2`, ...) and a new one "
                  "begun; `0`: never"),
          integer("keep_files", &AuditExportConfig::keep_files, 1, 1'000,
                  "`jsonl`: rotated files kept; the oldest beyond it is deleted"),
          text("host", &AuditExportConfig::host, Empty::refused,
               "`syslog`: the receiver's host name or address (*required* for `syslog`; with `tls`, the name its "
               "certificate must carry)"),
          integer("port", &AuditExportConfig::port, 0, 65'535,
                  "`syslog`: the receiver's TCP port (*required* for `syslog`; usually 601, or 6514 with TLS)"),
          boolean("tls", &AuditExportConfig::tls,
                  "`syslog`: TLS, verifying the receiver's certificate and host name (RFC 5425)"),
          text("ca_file", &AuditExportConfig::ca_file, Empty::allowed,
               "`syslog` with `tls`, `http` with an `https://` URL: PEM file of the CAs trusted for the receiver; "
               "unset: the system's trust store"),
          text("app_name", &AuditExportConfig::app_name, Empty::refused, "`syslog`: the APP-NAME of each message"),
          integer("facility", &AuditExportConfig::facility, 0, 23,
                  "`syslog`: the facility (`13`: log audit; `16`..`23`: local0..local7)"),
          checked("url", &AuditExportConfig::url, &is_http_url, "an http:// or https:// URL",
                  "`http://` or `https://` URL",
                  "`http`: the Splunk HEC-compatible endpoint the events are POSTed to, e.g. "
                  "`https://splunk:8088/services/collector/event` (*required* for `http`)"),
          checked("token_env", &AuditExportConfig::token_env, &is_env_name,
                  "an environment variable name ([A-Za-z_][A-Za-z0-9_]*)", "",
                  "`http`: name of the environment variable holding the HEC token, sent as `Authorization: Splunk "
                  "<token>` (*required* for `http`; never logged)"),
          timeout_ms("timeout_ms", &AuditExportConfig::timeout,
                     "connecting, sending a batch and (`http`) its answer; past it the batch failed and is retried"),
          integer("batch_rows", &AuditExportConfig::batch_rows, 1, 100'000,
                  "rows (or checkpoints) per batch: one write and sync, one syslog burst or one POST"),
          duration("max_backoff_s", &AuditExportConfig::max_backoff, 1, 86'400,
                   "the longest wait between retries while the sink fails (exponential from 0.5 s, with jitter); "
                   "rows are never dropped"),
          duration("poll_interval_ms", &AuditExportConfig::poll_interval, 10, 3'600'000,
                   "when everything is exported, how often new rows are looked for"),
          text("cursor_file", &AuditExportConfig::cursor_file, Empty::allowed,
               "where the export position (per chain: the last row and checkpoint the sink acknowledged) is kept; "
               "unset: `<storage.sqlite_path>.export-cursor`"),
      }};
  return table;
}

// The keys each type needs, given the others are optional in the table.
bool read_audit_export(Loader& l, const Field& f, AuditExportConfig& out) {
  const auto read = l.read_table(audit_export_table(), f, out);
  if (!read) return false;
  const auto need = [&](std::string_view key, std::string_view why) {
    if (read->given(key)) return;
    l.issue(read->entries.map_pos,
            child(f.path, key) + ": required for type " + quote(out.type) + "; " + std::string(why));
  };
  if (out.type == "jsonl") {
    need("path", "the file the rows are written to");
  } else if (out.type == "syslog") {
    need("host", "the receiver's host name or address");
    need("port", "the receiver's TCP port (601, or 6514 with TLS)");
    if (read->accepted("port") && out.port == 0) {
      l.issue(read->given("port")->pos(), child(f.path, "port") + ": expected a port in 1..65535, got \"0\"");
    }
  } else if (out.type == "http") {
    need("url", "the HEC endpoint, e.g. https://splunk:8088/services/collector/event");
    need("token_env", "the environment variable holding the HEC token");
    if (read->accepted("token_env") && l.env(out.token_env) == nullptr) {
      l.issue(read->given("token_env")->pos(),
              child(f.path, "token_env") + ": environment variable " + out.token_env + " is not set");
    }
  } else if (!read->given("type") && !read->entries.items.empty()) {
    l.issue(read->entries.map_pos, child(f.path, "type") +
                                       ": required when other export keys are set (jsonl, "
                                       "syslog or http)");
  }
  return true;
}

const Table<AuditConfig>& audit_table() {
  static const Table<AuditConfig> table{
      .keys = {
          text("signing_key_file", &AuditConfig::signing_key_file, Empty::allowed,
               "PEM file of the Ed25519 private key that signs audit checkpoints (`openssl genpkey -algorithm "
               "ed25519`); replicas sharing a database share it. Neither this nor `signing_key_env`: a key is "
               "generated at `<storage.sqlite_path>.audit-key`"),
          text("signing_key_env", &AuditConfig::signing_key_env, Empty::allowed,
               "name of an environment variable holding that PEM instead of a file"),
          duration("checkpoint_interval_s", &AuditConfig::checkpoint_interval, 1, 86'400,
                   "how often each audit chain's head is sealed in a signed checkpoint (and at shutdown)"),
          duration("verify_interval_s", &AuditConfig::verify_interval, 0, 604'800,
                   "how often the gateway verifies every audit chain (with its own key) and records tampering in "
                   "the breach register; `0`: never (`aegis audit verify` still does)"),
          text("checkpoint_file", &AuditConfig::checkpoint_file, Empty::allowed,
               "also append every checkpoint, one JSON object a line, to this file (keep it where database "
               "administrators cannot write); empty: none"),
          custom<AuditConfig>(
              "export", "mapping", "", "unset: no export", "streams every audit row and checkpoint to a SIEM (below)",
              [](Loader& l, const Field& v, AuditConfig& out) { return read_audit_export(l, v, out.export_to); })
              .with_rows([] { return rows_of(audit_export_table(), AuditExportConfig{}, "export."); }),
      }};
  return table;
}

// --- providers

const Table<ModelPrice>& price_table() {
  static const Table<ModelPrice> table{
      .keys =
          {
              money("input_per_mtok_usd", &ModelPrice::input_per_mtok, "USD per million input tokens").need(),
              money("output_per_mtok_usd", &ModelPrice::output_per_mtok, "USD per million output tokens").need(),
              optional_money("cache_read_per_mtok_usd", &ModelPrice::cache_read_per_mtok,
                             "USD per million input tokens read from the provider's prompt cache (Anthropic "
                             "`cache_read_input_tokens`, OpenAI/Azure `prompt_tokens_details.cached_tokens`)")
                  .shown_as("`anthropic`: 0.1 × input; other types: 0.5 × input"),
              optional_money("cache_write_per_mtok_usd", &ModelPrice::cache_write_per_mtok,
                             "USD per million input tokens written to Anthropic's prompt cache with the default "
                             "5-minute TTL (`cache_creation_input_tokens`)")
                  .shown_as("`anthropic`: 1.25 × input; other types: 1 × input"),
              optional_money("cache_write_1h_per_mtok_usd", &ModelPrice::cache_write_1h_per_mtok,
                             "USD per million input tokens written to Anthropic's prompt cache with the 1-hour TTL "
                             "(`cache_creation.ephemeral_1h_input_tokens`)")
                  .shown_as("`anthropic`: 2 × input; other types: 1 × input"),
          },
      .if_null = "a mapping with input_per_mtok_usd and output_per_mtok_usd",
  };
  return table;
}

// Said both for an empty `models:` and a missing one; a Key keeps its hint
// as a string_view, hence the one long-lived string.
const std::string& models_missing_hint() {
  static const std::string hint = "expected a mapping of at least one tier (" + join(tier_names()) + ") to a model id";
  return hint;
}

bool read_models(Loader& l, const Field& v, ProviderConfig& p) {
  const auto m = l.mapping(v, nullptr);
  if (!m) return false;
  bool ok = true;
  for (const auto& [name, model] : m->items) {
    const auto tier = parse_tier(name);
    if (!tier) {
      std::string msg = model.path + ": expected a tier name (one of " + join(tier_names()) + "), got " + quote(name);
      if (const auto s = suggest(name, tier_names())) msg += "; did you mean \"" + std::string(*s) + "\"?";
      l.issue(model.fallback, std::move(msg));
      ok = false;
      continue;
    }
    std::string id;
    if (l.read_string(model, id, false)) {
      p.models[*tier] = id;
    } else {
      ok = false;
    }
  }
  if (v.value.IsNull() || (v.value.IsMap() && v.value.size() == 0)) {
    l.issue(v.pos(), v.path + ": " + models_missing_hint());
    ok = false;
  }
  return ok;
}

bool read_prices(Loader& l, const Field& v, ProviderConfig& p) {
  const auto m = l.mapping(v, nullptr);
  if (!m) return false;
  bool ok = true;
  for (const auto& [model_id, price_field] : m->items) {
    ModelPrice price;
    const auto read = l.read_table(price_table(), price_field, price);
    if (read && read->refused.empty() && read->given("input_per_mtok_usd") && read->given("output_per_mtok_usd")) {
      p.prices[model_id] = price;
    } else {
      ok = false;
    }
  }
  return ok;
}

const std::vector<std::string_view>& capability_names() {
  static const std::vector<std::string_view> names = {"vision", "documents"};
  return names;
}

bool read_capabilities(Loader& l, const Field& v, ProviderConfig& p) {
  const auto items = l.sequence(v, "a list of capabilities (" + join(capability_names()) + ")");
  if (!items) return false;
  bool ok = true;
  std::vector<std::string> seen;
  for (const auto& item : *items) {
    const auto name = l.read_enum(item, capability_names());
    if (!name) {
      ok = false;
      continue;
    }
    if (std::ranges::find(seen, *name) != seen.end()) {
      l.issue(item.pos(), item.path + ": capability " + quote(*name) + " appears twice");
      ok = false;
      continue;
    }
    seen.push_back(*name);
  }
  if (!ok) return false;
  p.vision = std::ranges::find(seen, "vision") != seen.end();
  p.documents = std::ranges::find(seen, "documents") != seen.end();
  return true;
}

const Table<ProviderConfig>& provider_table() {
  static const Table<ProviderConfig> table{
      .keys =
          {
              checked("name", &ProviderConfig::name, &is_identifier,
                      "a provider name of 1..64 letters, digits, '_', '-' or '.'",
                      "1..64 of `A-Z a-z 0-9 _ - .`; unique",
                      "used in `routing.fallback_chain`, metrics and `x-aegis-route`")
                  .need(),
              one_of("type", &ProviderConfig::type, provider_types(),
                     "the wire protocol spoken (vLLM is `openai_compat` + `locality: local`); `sim` starts a "
                     "provider simulator in-process on a free loopback port (for trials, tests and benchmarks: "
                     "answers are echoes)")
                  .need(),
              custom<ProviderConfig>(
                  "base_url", "string URL", "must start with `http://` or `https://`",
                  "`anthropic`: `https://api.anthropic.com`; `ollama`: `http://127.0.0.1:11434`; *required* for "
                  "`azure_openai` and `openai_compat`",
                  "trailing `/` is removed. Azure: `https://RESOURCE.openai.azure.com`",
                  [](Loader& l, const Field& v, ProviderConfig& p) {
                    std::string url;
                    if (!l.read_string(v, url)) return false;
                    if (!(url.starts_with("http://") || url.starts_with("https://")) || url.size() <= 8 ||
                        url.find_first_of(" \t\n") != std::string::npos) {
                      l.expected(v, "an http:// or https:// URL", l.got(v, url));
                      return false;
                    }
                    while (url.ends_with('/')) url.pop_back();
                    p.base_url = url;
                    return true;
                  }),
              text("api_key", &ProviderConfig::api_key, Empty::allowed,
                   "*required, non-empty* for `anthropic` and `azure_openai`; always `\"${ENV_VAR}\"`; never logged"),
              text("api_version", &ProviderConfig::api_version, Empty::refused,
                   "*required* for `azure_openai`, e.g. `\"2024-06-01\"`; quote it. Ignored by other types"),
              choice("locality", &ProviderConfig::locality,
                     std::vector<std::pair<std::string_view, Locality>>{{"local", Locality::local},
                                                                        {"cloud", Locality::cloud}},
                     "RESTRICTED data only goes to `local` providers; the egress guard also checks the address "
                     "actually connected to")
                  .shown_as("`local` for `ollama` and `sim`, `cloud` otherwise"),
              checked("residency", &ProviderConfig::residency, &is_residency,
                      "a region code of 1..32 letters, digits or '-', e.g. \"CA\"", "1..32 of `A-Z a-z 0-9 -`",
                      "where the provider keeps and processes data under the operator's contract with it, e.g. "
                      "`CA`, `US`, `EU`; shown beside each provider in the compliance report (docs/COMPLIANCE.md), "
                      "which says `unspecified` when it is unset. Declarative: routing does not read it")
                  .shown_as("unset"),
              custom<ProviderConfig>("models", "mapping tier → model id", "tiers: " + code_list(tier_names()), "",
                                     "model id (Azure: deployment name) used for each tier; at least one entry",
                                     &read_models)
                  .need(models_missing_hint()),
              custom<ProviderConfig>("prices", "mapping model id → price", "", "`{}`",
                                     "each price is `{input_per_mtok_usd: USD, output_per_mtok_usd: USD}`, with "
                                     "optional prompt-cache rates (below). A model "
                                     "without a price costs 0: budgets never limit it",
                                     &read_prices)
                  .with_rows([] { return rows_of(price_table(), ModelPrice{}, "prices.<model>."); }),
              timeout_ms("connect_timeout_ms", &ProviderConfig::connect_timeout, "TCP + TLS connect"),
              timeout_ms("first_byte_timeout_ms", &ProviderConfig::first_byte_timeout, "until the first response byte"),
              timeout_ms("idle_timeout_ms", &ProviderConfig::idle_timeout,
                         "longest silence inside a streamed response"),
              timeout_ms("total_timeout_ms", &ProviderConfig::total_timeout, "the whole upstream call"),
              integer("max_concurrency", &ProviderConfig::max_concurrency, 1, 65536,
                      "in-flight requests to this provider"),
              text("embedding_model", &ProviderConfig::embedding_model, Empty::allowed,
                   "model id (or Azure deployment) that serves `/v1/embeddings` through this provider"),
              custom<ProviderConfig>(
                  "capabilities", "list of enums", code_list(capability_names()), "`[]` (text only)",
                  "what the provider's models accept besides text: `vision` images, `documents` PDF documents "
                  "(as document parts of its own API; not for `ollama`, whose API takes images only). A request "
                  "holding an image or a PDF is only routed to providers that declare it (docs/ARCHITECTURE.md, "
                  "\"4 route\")",
                  &read_capabilities),
          },
      .if_null = "a provider mapping with at least name and type",
  };
  return table;
}

// Type-specific defaults and requirements, once the keys are read.
void finish_provider(Loader& l, const Field& f, const TableRead& read, ProviderConfig& p) {
  if (p.type.empty()) return;  // unknown or missing type: type-specific checks would only add noise
  const Pos at = read.entries.map_pos;
  if (!read.accepted("locality"))
    p.locality = (p.type == "ollama" || p.type == "sim") ? Locality::local : Locality::cloud;
  if (p.base_url.empty() && !read.was_refused("base_url")) {
    if (p.type == "anthropic") {
      p.base_url = "https://api.anthropic.com";
    } else if (p.type == "ollama") {
      p.base_url = "http://127.0.0.1:11434";
    } else if (p.type == "azure_openai" || p.type == "openai_compat") {
      l.issue(at, child(f.path, "base_url") + ": required for type " + p.type +
                      " (e.g. \"https://RESOURCE.openai.azure.com\")");
    }
  }
  if ((p.type == "anthropic" || p.type == "azure_openai") && !read.was_refused("api_key") && p.api_key.empty()) {
    const Field* key = read.given("api_key");
    l.issue(key ? key->pos() : at, child(f.path, "api_key") + ": required for type " + p.type +
                                       "; expected a reference such as \"${" +
                                       (p.type == "anthropic" ? "ANTHROPIC_API_KEY" : "AZURE_OPENAI_API_KEY") + "}\"");
  }
  if (p.type == "azure_openai" && p.api_version.empty() && !read.given("api_version")) {
    l.issue(at, child(f.path, "api_version") + ": required for type azure_openai (e.g. \"2024-06-01\")");
  }
  for (auto& [model, price] : p.prices) price = with_cache_defaults(price, p.type);
  if (p.type == "ollama" && p.documents) {
    const Field* list = read.given("capabilities");
    Pos pos = list->pos();
    std::string path = list->path;
    // At the list item that says it, when it is written plainly (not through ${...}).
    for (std::size_t i = 0; list->value.IsSequence() && i < list->value.size(); ++i) {
      const YAML::Node item = list->value[i];
      if (item.IsScalar() && item.Scalar() == "documents") {
        pos = pos_of(item.Mark());
        path += "[" + std::to_string(i) + "]";
        break;
      }
    }
    l.issue(pos, path +
                     ": type ollama cannot take documents (Ollama's API takes images only); declare only "
                     "vision");
  }
}

bool read_providers(Loader& l, const Field& f, std::vector<ProviderConfig>& out) {
  const auto items = l.sequence(f, "a list of providers");
  if (!items) return false;
  std::vector<Pos> name_pos;
  for (const auto& item : *items) {
    ProviderConfig p;
    name_pos.emplace_back();
    if (const auto read = l.read_table(provider_table(), item, p)) {
      if (read->accepted("name")) name_pos.back() = read->given("name")->pos();
      finish_provider(l, item, *read, p);
    }
    out.push_back(std::move(p));
  }
  // Duplicate names are reported at the later definition.
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i].name.empty()) continue;
    for (std::size_t j = 0; j < i; ++j) {
      if (out[j].name == out[i].name) {
        l.issue(name_pos[i], (*items)[i].path + ".name: duplicate provider name " + quote(out[i].name) +
                                 " (first defined at line " + std::to_string(name_pos[j].line) + ")");
        break;
      }
    }
  }
  return true;
}

// --- routing

bool read_fallback_chain(Loader& l, const Field& v, RoutingConfig& out) {
  const auto items = l.sequence(v, "a list of provider names");
  if (!items) return false;
  std::vector<std::string_view> names;
  for (const auto& p : l.providers()) {
    if (!p.name.empty()) names.push_back(p.name);
  }
  std::vector<std::string> chain;
  for (const auto& item : *items) {
    auto name = l.scalar(item, "a provider name");
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
      l.issue(item.pos(), std::move(msg));
      continue;
    }
    if (std::ranges::find(chain, *name) != chain.end()) {
      l.issue(item.pos(), item.path + ": provider " + quote(*name) + " appears twice in the chain");
      continue;
    }
    chain.push_back(*name);
  }
  out.fallback_chain = std::move(chain);
  return true;
}

// A mapping of team -> list of strings, each accepted by `valid`.
bool read_team_lists(Loader& l, const Field& v, std::map<std::string, std::vector<std::string>>& out,
                     std::string_view item_what, bool (*valid)(std::string_view)) {
  const auto m = l.mapping(v, nullptr);
  if (!m) return false;
  bool ok = true;
  for (const auto& [team, list] : m->items) {
    if (team.empty()) {
      l.issue(list.fallback, list.path + ": expected a team name, got an empty key");
      ok = false;
      continue;
    }
    std::vector<std::string> items;
    if (l.read_string_list(list, items, item_what, valid)) {
      out[team] = items;
    } else {
      ok = false;
    }
  }
  return ok;
}

const Table<RoutingConfig>& routing_table() {
  static const Table<RoutingConfig> table{
      .keys = {
          custom<RoutingConfig>("task_tiers", "mapping task → tier",
                                "tier: " + code_list(tier_names()) + "; task: 1..64 of `A-Z a-z 0-9 _ - .`",
                                "see below", "**merged over** the built-in table: listed tasks override, others stay",
                                [](Loader& l, const Field& v, RoutingConfig& out) {
                                  const auto m = l.mapping(v, nullptr);
                                  if (!m) return false;
                                  for (const auto& [task, tier_field] : m->items) {
                                    if (!is_identifier(task)) {
                                      l.issue(tier_field.fallback,
                                              tier_field.path +
                                                  ": expected a task name of letters, digits, '_', '-' or '.'");
                                      continue;
                                    }
                                    // read_enum has refused anything that is not a tier name.
                                    if (auto name = l.read_enum(tier_field, tier_names())) {
                                      out.task_tiers[task] = *parse_tier(*name);
                                    }
                                  }
                                  return true;
                                }),
          custom<RoutingConfig>(
              "fallback_chain", "list of provider names", "each must name a configured provider, no repeats",
              "every provider in file order, `cloud` ones first, then `local` ones",
              "order in which providers are tried. An explicit empty list `[]` means no fallback order",
              &read_fallback_chain),
          choice(
              "confidential", &RoutingConfig::confidential,
              std::vector<std::pair<std::string_view, ConfidentialPolicy>>{
                  {"cloud_masked", ConfidentialPolicy::cloud_masked}, {"local_only", ConfidentialPolicy::local_only}},
              "CONFIDENTIAL requests: masked then sent to cloud, or kept on local providers. (RESTRICTED is always "
              "local-only; no key changes that)"),
          money("downgrade_opus_below_usd", &RoutingConfig::downgrade_opus_below,
                "when a team's remaining monthly budget is below this, opus requests use sonnet. Only tier choices "
                "(`auto`, a tier name) are downgraded; a concrete model id is honoured"),
          custom<RoutingConfig>("downgrade_sonnet_below_usd", "USD or null",
                                "at most 6 decimals; at most `downgrade_opus_below_usd`", "unset (off)",
                                "when remaining budget is below this, sonnet (and opus) requests use haiku",
                                [](Loader& l, const Field& v, RoutingConfig& out) {
                                  if (v.value.IsNull()) {
                                    out.downgrade_sonnet_below.reset();
                                    return true;
                                  }
                                  Money m;
                                  if (!l.read_money(v, m)) return false;
                                  out.downgrade_sonnet_below = m;
                                  return true;
                                }),
          custom<RoutingConfig>(
              "team_models", "mapping team → list of model names",
              "names as a client sends them: `auto`, a tier, a "
              "concrete id, `provider/id`",
              "unset",
              "the models a team may request; others get 400 listing the allowed values. A listed concrete model may "
              "also be requested in its other spelling (`gpt-4o` / `azure/gpt-4o`); a tier only by its name. Teams not "
              "listed may request any configured model; `auto` is always allowed",
              [](Loader& l, const Field& v, RoutingConfig& out) {
                return read_team_lists(l, v, out.team_models, "model name", &is_model_name);
              }),
      }};
  return table;
}

void finish_routing(Loader& l, const TableRead& read, RoutingConfig& out) {
  const Field* sonnet = read.given("downgrade_sonnet_below_usd");
  if (!read.was_refused("downgrade_opus_below_usd") && read.accepted("downgrade_sonnet_below_usd") &&
      out.downgrade_sonnet_below && *out.downgrade_sonnet_below > out.downgrade_opus_below) {
    l.issue(sonnet->pos(), sonnet->path + ": expected at most routing.downgrade_opus_below_usd (" +
                               out.downgrade_opus_below.to_usd_string() + "), got " +
                               out.downgrade_sonnet_below->to_usd_string());
  }
}

// --- resilience, egress

const Table<ResilienceConfig>& resilience_table() {
  static const Table<ResilienceConfig> table{
      .keys = {
          integer(
              "failure_threshold", &ResilienceConfig::failure_threshold, 1, 1000,
              "consecutive counted failures (connect errors, timeouts, 5xx, 429/529, the provider refusing Aegis's "
              "credentials) that open a provider's breaker; client errors (4xx) and egress-guard blocks do not count"),
          duration("open_duration_s", &ResilienceConfig::open_duration, 1, 86'400,
                   "how long a breaker stays open before one half-open probe; a provider's `retry-after` can extend it "
                   "(capped at one hour)"),
          duration("health_check_interval_s", &ResilienceConfig::health_check_interval, 0, 86'400,
                   "background health check per provider, shown as `aegis_provider_up{provider}`; `0` turns them off "
                   "(and removes that metric). Routing and fallback follow the breakers, not these checks"),
      }};
  return table;
}

const Table<EgressConfig>& egress_table() {
  static const Table<EgressConfig> table{
      .keys = {
          strings("local_cidrs", &EgressConfig::local_cidrs, "CIDR such as \"10.20.0.0/16\"", &is_cidr, "list of CIDRs",
                  "IPv4 or IPv6, e.g. `\"100.64.0.0/10\"`",
                  "networks that count as local in addition to loopback (`127.0.0.0/8`, `::1`), RFC 1918 and "
                  "`fc00::/7`. A provider is local only when it is declared `locality: local` **and** the address "
                  "actually connected to is in a local network"),
      }};
  return table;
}

// --- classification, pii

const Table<CustomRecognizer>& recognizer_table() {
  static const Table<CustomRecognizer> table{
      .keys =
          {
              checked("name", &CustomRecognizer::name, &is_identifier,
                      "a recognizer name of 1..64 letters, digits, '_', '-' or '.'",
                      "1..64 of `A-Z a-z 0-9 _ - .`; unique", "names the recognizer in messages")
                  .need(),
              custom<CustomRecognizer>(
                  "pattern", "string, non-empty", "RE2 syntax; must not match the empty string", "",
                  "use single quotes in YAML so `\\d` stays as written: `'EMP-\\d{6}'`. Checked as `aegis serve` "
                  "compiles it",
                  [](Loader& l, const Field& v, CustomRecognizer& r) {
                    if (!l.read_string(v, r.pattern, false)) return false;
                    if (!l.checks().recognizer_pattern) return true;
                    if (const auto problem = l.checks().recognizer_pattern(r.pattern)) {
                      l.issue(v.pos(), v.path + ": " + *problem);
                      return false;
                    }
                    return true;
                  })
                  .need(),
              checked("entity_type", &CustomRecognizer::entity_type, &is_entity_type,
                      "an entity type in UPPER_SNAKE_CASE such as \"EMPLOYEE_ID\"",
                      "`UPPER_SNAKE_CASE` (`[A-Z][A-Z0-9_]*`)",
                      "placeholder type used when masking, e.g. `EMPLOYEE_ID`")
                  .need(),
              custom<CustomRecognizer>("level", "enum", "`PUBLIC`, `INTERNAL`, `CONFIDENTIAL`, `RESTRICTED` (any case)",
                                       code(to_string(CustomRecognizer{}.level)), "classification of a match",
                                       [](Loader& l, const Field& v, CustomRecognizer& r) {
                                         constexpr std::string_view what =
                                             "a level (one of PUBLIC, INTERNAL, CONFIDENTIAL, RESTRICTED)";
                                         auto s = l.scalar(v, what);
                                         if (!s) return false;
                                         const auto level = parse_level(*s);
                                         if (!level) {
                                           l.expected(v, what, l.got(v, *s));
                                           return false;
                                         }
                                         r.level = *level;
                                         return true;
                                       }),
              custom<CustomRecognizer>("validator", "enum", "`\"\"`, `luhn`, `mod97`", "`\"\"` (none)",
                                       "checksum a match must pass",
                                       [](Loader& l, const Field& v, CustomRecognizer& r) {
                                         if (v.value.IsNull() || (v.value.IsScalar() && v.value.Scalar().empty())) {
                                           r.validator.clear();
                                           return true;
                                         }
                                         auto validator = l.read_enum(v, {"luhn", "mod97"});
                                         if (validator) r.validator = *validator;
                                         return validator.has_value();
                                       }),
              strings(
                  "context_words", &CustomRecognizer::context_words, "non-empty word",
                  +[](std::string_view s) { return !s.empty(); }, "list of strings", "non-empty words",
                  "words near a match that raise confidence"),
          },
      .if_null = "a recognizer mapping with name, pattern and entity_type",
  };
  return table;
}

bool read_recognizers(Loader& l, const Field& v, ClassificationConfig& out) {
  const auto items = l.sequence(v, "a list of recognizers");
  if (!items) return false;
  std::vector<std::pair<std::string, int>> names;
  for (const auto& item : *items) {
    CustomRecognizer r;
    l.read_table(recognizer_table(), item, r);
    if (!r.name.empty()) {
      const auto dup = std::ranges::find_if(names, [&](const auto& n) { return n.first == r.name; });
      if (dup != names.end()) {
        Pos at = item.pos();
        if (const YAML::Node n = item.value["name"]; n) at = pos_of(n.Mark());
        l.issue(at, item.path + ".name: duplicate recognizer name " + quote(r.name) + " (first defined at line " +
                        std::to_string(dup->second) + ")");
        continue;
      }
      names.emplace_back(r.name, item.pos().line);
    }
    out.custom_recognizers.push_back(std::move(r));
  }
  return true;
}

const Table<ClassificationConfig>& classification_table() {
  static const Table<ClassificationConfig> table{
      .keys = {
          custom<ClassificationConfig>(
              "internal_domains", "list of strings", "domain names (`A-Z a-z 0-9 - .`), stored lower-case", "`[]`",
              "hosts/e-mail domains that mark text as INTERNAL",
              [](Loader& l, const Field& v, ClassificationConfig& out) {
                if (!l.read_string_list(v, out.internal_domains, "domain name such as \"corp.example.com\"",
                                        &is_domain)) {
                  return false;
                }
                for (auto& d : out.internal_domains) d = lower(d);
                return true;
              }),
          custom<ClassificationConfig>("custom_recognizers", "list of recognizers", "names unique", "`[]`",
                                       "extra patterns added to the built-in ones", &read_recognizers)
              .with_rows([] { return rows_of(recognizer_table(), CustomRecognizer{}, "custom_recognizers[]."); }),
      }};
  return table;
}

constexpr std::string_view kEntityWhat = "entity type in UPPER_SNAKE_CASE such as \"CREDIT_CARD\"";

const Table<PiiConfig>& pii_table() {
  static const Table<PiiConfig> table{
      .keys = {
          choice("invented_pii", &PiiConfig::invented_pii,
                 std::vector<std::pair<std::string_view, InventedPiiPolicy>>{{"alert", InventedPiiPolicy::alert},
                                                                             {"redact", InventedPiiPolicy::redact}},
                 "PII in a model's answer that was not in the request: count and log it, or also replace it"),
          strings("block_entities", &PiiConfig::block_entities, kEntityWhat, &is_entity_type, "list of entity types",
                  "`UPPER_SNAKE_CASE`",
                  "requests containing these entities are rejected (422) for every team. Use the entity types `aegis "
                  "classify` and `aegis mask` show: `CA_SIN`, `CREDIT_CARD`, `BANK_ACCOUNT`, `IBAN_CODE`, "
                  "`EMAIL_ADDRESS`, `PHONE_NUMBER`, `PERSON`, a custom `entity_type`, … (`SIN` matches nothing)"),
          custom<PiiConfig>("team_block_entities", "mapping team → list of entity types", "`UPPER_SNAKE_CASE`", "`{}`",
                            "the same, per team, in addition to `block_entities`",
                            [](Loader& l, const Field& v, PiiConfig& out) {
                              return read_team_lists(l, v, out.team_block_entities, kEntityWhat, &is_entity_type);
                            }),
      }};
  return table;
}

// --- budgets

const Table<BudgetConfig>& budgets_table() {
  static const Table<BudgetConfig> table{
      .keys = {
          checked(
              "timezone", &BudgetConfig::timezone, &is_timezone_name,
              "a known IANA time zone name such as \"UTC\" or \"America/Toronto\", or a UTC offset such as \"+05:30\"",
              "an IANA zone name known to the OS tz database (`America/Toronto`, `Europe/Paris`; Debian package "
              "`tzdata`, read from `/usr/share/zoneinfo` at start-up), `UTC` (also `Etc/UTC`, `GMT`, `Z`), or a "
              "fixed UTC offset within ±14:00 written `+05:30`, `-0800`, `+09` or `UTC-05:00`",
              "budget months start at local midnight on the 1st in this zone. IANA zones follow daylight saving "
              "time; a fixed offset never changes. An unknown name is a config error, never a silent fallback to "
              "UTC"),
          duration("reservation_ttl_s", &BudgetConfig::reservation_ttl, 1, 86'400,
                   "a pre-flight reservation not committed within this is released; if its request finishes later, "
                   "the actual cost is still booked, to the current month"),
      }};
  return table;
}

// --- jobs

constexpr std::string_view kKeyFormat = "a 256-bit key: 64 hex digits or base64 of 32 bytes";

// The key file's text, or an error message. Never more than a small file.
std::optional<std::string> read_small_file(const std::string& path, std::string& error) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    error = "is a directory";
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = core::errno_text(errno);
    return std::nullopt;
  }
  std::string text(4096, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return text;
}

// One entry of jobs.encryption.keys as written; the key itself is resolved after.
struct KeySource {
  std::string id;
  std::string env;
  std::string file;
};

const Table<KeySource>& key_source_table() {
  static const Table<KeySource> table{
      .keys = {
          checked("id", &KeySource::id, &is_key_id, "a key id of 1..64 characters [A-Za-z0-9_.-]",
                  "`[A-Za-z0-9_.-]{1,64}`", "stored with every value it encrypts")
              .need(),
          checked("env", &KeySource::env, &is_env_name, "an environment variable name ([A-Za-z_][A-Za-z0-9_]*)",
                  "`[A-Za-z_][A-Za-z0-9_]*`",
                  "the environment variable holding the key; exactly one of `env` and `file`"),
          text("file", &KeySource::file, Empty::refused,
               "a file holding the key, relative to the working directory; exactly one of `env` and `file`"),
      }};
  return table;
}

bool read_content_key(Loader& l, const Field& item, std::vector<JobsContentKey>& keys) {
  KeySource source;
  const auto read = l.read_table(key_source_table(), item, source);
  if (!read) return false;
  bool ok = read->accepted("id");
  if (ok && std::ranges::any_of(keys, [&](const JobsContentKey& k) { return k.id == source.id; })) {
    const Field* id = read->given("id");
    l.issue(id->pos(), id->path + ": key id " + quote(source.id) + " is listed twice");
    ok = false;
  }
  const Field* env = read->given("env");
  const Field* file = read->given("file");
  JobsContentKey key;
  key.id = source.id;
  if ((env == nullptr) == (file == nullptr)) {
    l.issue(read->entries.map_pos, item.path +
                                       ": expected exactly one of env (an environment variable holding the "
                                       "key) or file (a file holding it)");
    return false;
  }
  if (env) {
    if (!read->accepted("env")) return false;
    if (const char* value = l.env(source.env); value == nullptr) {
      l.issue(env->pos(), env->path + ": environment variable " + source.env + " is not set");
      return false;
    } else if (auto bytes = parse_key256(value)) {
      key.bytes = *bytes;
      key.source = "env " + source.env;
    } else {
      l.issue(env->pos(),
              env->path + ": environment variable " + source.env + " does not hold " + std::string(kKeyFormat));
      return false;
    }
  } else {
    if (!read->accepted("file")) return false;
    std::string error;
    if (auto text = read_small_file(source.file, error); !text) {
      l.issue(file->pos(), file->path + ": cannot read key file " + quote(source.file) + ": " + error);
      return false;
    } else if (auto bytes = parse_key256(*text)) {
      key.bytes = *bytes;
      key.source = "file " + source.file;
    } else {
      l.issue(file->pos(),
              file->path + ": key file " + quote(source.file) + " does not hold " + std::string(kKeyFormat));
      return false;
    }
  }
  if (ok) keys.push_back(std::move(key));
  return ok;
}

const Table<JobsEncryptionConfig>& encryption_table() {
  static const Table<JobsEncryptionConfig> table{
      .keys = {
          text("active", &JobsEncryptionConfig::active, Empty::allowed,
               "a listed key id: the key new job content is encrypted with; required when `keys` are listed"),
          custom<JobsEncryptionConfig>(
              "keys", "list of `{id, env | file}`", "", "none: a generated key (below)",
              "keys for job content at rest (AES-256-GCM). A key is 32 random bytes written as 64 hex digits or base64 "
              "(`openssl rand -hex 32`); surrounding whitespace is ignored. List the active key and every older key "
              "whose rows may still exist",
              [](Loader& l, const Field& v, JobsEncryptionConfig& out) {
                const auto items = l.sequence(v, "a list of {id, env | file} mappings");
                if (!items) return false;
                bool ok = true;
                for (const auto& item : *items) ok = read_content_key(l, item, out.keys) && ok;
                return ok;
              })
              .with_rows([] { return rows_of(key_source_table(), KeySource{}, "keys[]."); }),
      }};
  return table;
}

// A boolean, or a mapping of `default` and per-team booleans
// (`{default: false, research: true}`).
bool read_per_team_bool(Loader& l, const Field& v, bool& fallback, std::map<std::string, bool>& teams) {
  if (!v.value.IsMap()) return l.read_bool(v, fallback);
  const auto per = l.mapping(v, nullptr);
  if (!per) return false;
  bool ok = true;
  for (const auto& [team, value] : per->items) {
    bool b = false;
    if (!l.read_bool(value, b)) {
      ok = false;
    } else if (team == "default") {
      fallback = b;
    } else {
      teams[team] = b;
    }
  }
  return ok;
}

bool read_encryption(Loader& l, const Field& f, JobsEncryptionConfig& out) {
  const auto read = l.read_table(encryption_table(), f, out);
  if (!read) return false;
  const std::string keys_path = child(f.path, "keys");
  if (const Field* active = read->given("active")) {
    if (read->accepted("active") && !read->was_refused("keys") &&
        std::ranges::none_of(out.keys, [&](const JobsContentKey& k) { return k.id == out.active; })) {
      l.issue(active->pos(), active->path + ": unknown key id " + quote(out.active) + "; expected one of the ids in " +
                                 keys_path + (out.keys.empty() ? " (none are listed)" : ""));
    }
  } else if (!out.keys.empty()) {
    l.issue(read->entries.map_pos, child(f.path, "active") +
                                       ": required when keys are listed (the id new job "
                                       "content is encrypted with)");
  }
  return true;
}

const Table<JobsConfig>& jobs_table() {
  static const Table<JobsConfig> table{
      .keys = {
          integer("max_queue_depth", &JobsConfig::max_queue_depth, 1, 100'000'000,
                  "queued jobs; a submit beyond it gets 429 `rate_limited` with `retry-after`"),
          duration("queue_ttl_s", &JobsConfig::queue_ttl, 1, std::int64_t{30} * 86'400,
                   "a job still queued after this is `expired` (its reservation released)"),
          duration("retention_s", &JobsConfig::retention, 0, std::int64_t{3650} * 86'400,
                   "finished jobs (their result, metadata and status; with `keep_requests`, also their request and "
                   "vault) are deleted this long after they finished"),
          duration("lease_s", &JobsConfig::lease, 3, 3'600,
                   "a running job's lease, renewed every third of it; with several replicas a job whose lease ran out "
                   "is claimed again"),
          integer("max_attempts", &JobsConfig::max_attempts, 1, 100,
                  "claims before a job whose worker keeps dying is failed with `worker_lost`"),
          integer("workers", &JobsConfig::workers, 1, 10'000,
                  "jobs running at once in this process (claimed only when a worker is free: back-pressure, not an "
                  "unbounded in-memory queue)"),
          custom<JobsConfig>(
              "provider_concurrency", "integer, or mapping", "`1..10000` per provider",
              code(std::to_string(JobsConfig{}.provider_concurrency)),
              "jobs at once per provider; a mapping gives `default` and per-provider values (`{default: 16, ollama: "
              "2}`). A job takes the slot of the first provider its route would try",
              [](Loader& l, const Field& v, JobsConfig& out) {
                if (!v.value.IsMap()) return l.read_int(v, out.provider_concurrency, 1, 10'000);
                const auto per = l.mapping(v, nullptr);
                if (!per) return false;
                bool ok = true;
                for (const auto& [provider, limit] : per->items) {
                  int n = 0;
                  if (!l.read_int(limit, n, 1, 10'000)) {
                    ok = false;
                  } else if (provider == "default") {
                    out.provider_concurrency = n;
                  } else {
                    out.provider_concurrency_overrides[provider] = n;
                  }
                }
                return ok;
              }),
          boolean("sync_every_commit", &JobsConfig::sync_every_commit,
                  "`true`: every commit is synced to disk, so a 202 survives power loss; `false`: survives `kill -9` "
                  "but the last commits may be lost on power loss"),
          custom<JobsConfig>(
              "keep_requests", "boolean, or mapping", "", code(JobsConfig{}.keep_requests ? "true" : "false"),
              "`false`: a job's request (the prompt) and masking vault are deleted in the transaction that finishes it "
              "(succeeded, failed, cancelled, expired); the result stays until `retention_s`. `true` keeps them until "
              "`retention_s` too. A mapping gives `default` and per-team values (`{default: false, research: true}`)",
              [](Loader& l, const Field& v, JobsConfig& out) {
                return read_per_team_bool(l, v, out.keep_requests, out.keep_requests_teams);
              }),
          custom<JobsConfig>(
              "encryption", "mapping", "", "a generated key (below)",
              "where the key for job content at rest comes from (below)",
              [](Loader& l, const Field& v, JobsConfig& out) { return read_encryption(l, v, out.encryption); })
              .with_rows([] { return rows_of(encryption_table(), JobsEncryptionConfig{}, "encryption."); }),
      }};
  return table;
}

// --- responses

const Table<ResponsesConfig>& responses_table() {
  static const Table<ResponsesConfig> table{
      .keys = {
          custom<ResponsesConfig>(
              "store", "boolean, or mapping", "", code(ResponsesConfig{}.store ? "true" : "false"),
              "whether `POST /v1/responses` keeps a team's conversation for `previous_response_id` (and `GET`/`DELETE "
              "/v1/responses/{id}`). Off: the request's `store` is ignored, the answer says `\"store\": false`, and "
              "`previous_response_id` is 400. What is kept is the raw text of every turn, in the gateway's own store, "
              "sealed with the job content keys (`jobs.encryption`) and visible to that team only; a later turn sends "
              "it again as part of the request, classified and masked "
              "for a cloud model like the rest. A mapping gives `default` and per-team values (`{default: false, "
              "research: true}`)",
              [](Loader& l, const Field& v, ResponsesConfig& out) {
                return read_per_team_bool(l, v, out.store, out.store_teams);
              }),
          duration("retention_s", &ResponsesConfig::retention, 60, std::int64_t{90} * 86'400,
                   "a stored response (its conversation) is never read this long after it was created (a "
                   "`previous_response_id` older than this is 404) and is deleted at the next write or start-up"),
      }};
  return table;
}

// --- limits, logging

// Each bound is at least 1; the ceilings only keep a typo (an extra zero or
// three) from switching a bound off.
const Table<RagConfig>& rag_table() {
  static const Table<RagConfig> table{
      .keys = {
          integer("chunk_tokens", &RagConfig::chunk_tokens, 16, 8'192,
                  "the token budget of a chunk (estimated at 4 bytes a token); whole sentences are packed up to it"),
          integer("chunk_overlap_tokens", &RagConfig::chunk_overlap_tokens, 0, 4'096,
                  "the last sentences of a chunk, up to this many tokens (at most half of `chunk_tokens`), start "
                  "the next one"),
          integer("max_top_k", &RagConfig::max_top_k, 1, 1'000, "the largest `top_k` a query or answer may ask for"),
          integer("max_document_bytes", &RagConfig::max_document_bytes, 1'024, std::int64_t{64} * 1'048'576,
                  "the largest document text `POST /v1/rag/documents` accepts (413 beyond; the request body limit "
                  "applies too)"),
          text("cloud_embedding_model", &RagConfig::cloud_embedding_model, Empty::allowed,
               "`provider/model` of a cloud embedder for PUBLIC and INTERNAL chunks and queries (each chunk is "
               "embedded locally as well, so a query of any level searches every chunk); empty: local only"),
          integer("hnsw_threshold", &RagConfig::hnsw_threshold, 1, 1'000'000'000,
                  "embedded store: a level's vectors of one collection and model are searched exactly up to this "
                  "many, through an HNSW graph beyond (built when the threshold is crossed and at start-up)"),
          integer("hnsw_m", &RagConfig::hnsw_m, 4, 64, "embedded store: HNSW links per node (hnswlib `M`)"),
          integer("hnsw_ef_construction", &RagConfig::hnsw_ef_construction, 16, 2'000,
                  "embedded store: HNSW candidate list while building (hnswlib `ef_construction`)"),
          integer("hnsw_ef_search", &RagConfig::hnsw_ef_search, 8, 10'000,
                  "embedded store: HNSW candidate list while searching (hnswlib `ef`; never below the query's "
                  "`top_k`); higher finds more of the exact answer, slower"),
          text("postgres_dsn", &RagConfig::postgres_dsn, Empty::allowed,
               "libpq connection string of the PostgreSQL database (with the pgvector extension, 0.5+) that holds "
               "documents, chunks and vectors; empty: `storage.postgres_dsn`, and with neither the embedded SQLite "
               "store; write the password as `\"${ENV_VAR}\"`; never logged"),
          integer("postgres_connections", &RagConfig::postgres_connections, 1, 64,
                  "connections the retrieval store opens to its PostgreSQL database"),
      }};
  return table;
}

const Table<LimitsConfig>& limits_table() {
  static const Table<LimitsConfig> table{
      .keys = {
          integer("max_messages", &LimitsConfig::max_messages, 1, 1'000'000,
                  "entries of `messages` (OpenAI `system`/`developer` entries included; a job's `prompt` is one)"),
          integer("max_tools", &LimitsConfig::max_tools, 1, 100'000,
                  "tool definitions (`tools`); OpenAI's own limit is 128"),
          integer("max_stop_sequences", &LimitsConfig::max_stop_sequences, 1, 100'000,
                  "entries of `stop` (OpenAI) or `stop_sequences` (Anthropic); OpenAI models take at most 4 and answer "
                  "400 beyond that themselves"),
          integer("max_embedding_inputs", &LimitsConfig::max_embedding_inputs, 1, 1'000'000,
                  "entries of an embeddings `input` array; OpenAI's own limit is 2048"),
          integer(
              "max_text_bytes", &LimitsConfig::max_text_bytes, 1024, 1024LL * 1024 * 1024,
              "the request's text, all fields together: system prompt, message text, tool-call names and arguments, "
              "tool names and descriptions, stop sequences, embedding inputs, a job's prompt (UTF-8 bytes after "
              "JSON unescaping). Matters when `server.max_body_bytes` is raised above it"),
      }};
  return table;
}

// Tesseract's language string: traineddata names joined by '+' ("eng+fra").
bool is_ocr_languages(std::string_view s) {
  if (s.empty() || s.size() > 200 || s.front() == '+' || s.back() == '+' || s.find("++") != std::string_view::npos) {
    return false;
  }
  return std::ranges::all_of(s, [](char c) { return (c >= 'a' && c <= 'z') || c == '_' || c == '+'; });
}

const Table<MediaConfig>& media_table() {
  constexpr std::int64_t kGiB = std::int64_t{1024} * 1024 * 1024;
  static const Table<MediaConfig> table{
      .keys = {
          boolean("fetch_urls", &MediaConfig::fetch_urls,
                  "whether the gateway fetches an `http(s)` image URL a request names (it classifies what it "
                  "read, and sends the provider those bytes, never the URL). Off: such a request is refused with "
                  "400 `invalid_request`, so a client cannot make the gateway connect where it points"),
          integer("fetch_max_bytes", &MediaConfig::fetch_max_bytes, 1, kGiB,
                  "`fetch_urls`: the most bytes read from one image URL; a larger image is refused"),
          boolean("fetch_local", &MediaConfig::fetch_local,
                  "`fetch_urls`: whether a URL may lead to a loopback, private (RFC 1918, RFC 4193), link-local or "
                  "`egress.local_cidrs` address. Off: such a fetch is refused with 400 after connecting, before a "
                  "byte is sent, so a client cannot make the gateway read from its own network"),
          integer("max_attachment_bytes", &MediaConfig::max_attachment_bytes, 1, kGiB,
                  "the largest image or PDF the gateway reads, after base64 decoding; a larger one is not read, and "
                  "the request is treated as RESTRICTED (it runs on a local provider or gets 503). The request body "
                  "limit (`server.max_body_bytes`) applies too"),
          integer("max_pixels", &MediaConfig::max_pixels, 1, 1'000'000'000,
                  "the most pixels of an image, or of a PDF page rendered for OCR, the gateway decodes (a few "
                  "kilobytes of PNG can decode to gigabytes); a larger one is not read, and the request is treated "
                  "as RESTRICTED"),
          integer("max_pdf_pages", &MediaConfig::max_pdf_pages, 1, 10'000,
                  "the most pages of a PDF the gateway reads; a longer one is read that far and the request is "
                  "treated as RESTRICTED"),
          timeout_ms("ocr_timeout_ms", &MediaConfig::ocr_timeout,
                     "a request's time budget for extracting text from all its images and PDFs; past it the "
                     "request is treated as RESTRICTED (it runs on a local provider or gets 503), never sent to a "
                     "cloud provider unexamined"),
          integer("ocr_threads", &MediaConfig::ocr_threads, 0, 256,
                  "OCR workers, off the I/O threads; `0`: half the cores, at least 1"),
          integer("ocr_queue", &MediaConfig::ocr_queue, 1, 1'000'000,
                  "requests waiting for an OCR worker; a request arriving beyond this is treated as over budget "
                  "(RESTRICTED) at once"),
          checked("languages", &MediaConfig::languages, &is_ocr_languages,
                  "a Tesseract language string of a-z and '_' names joined by '+', such as \"eng+fra\"",
                  "names of `a-z _` joined by `+`",
                  "the Tesseract languages OCR reads (each needs its traineddata installed, e.g. Debian "
                  "`tesseract-ocr-eng`, `tesseract-ocr-fra`)"),
          integer("cache_entries", &MediaConfig::cache_entries, 1, 10'000'000,
                  "extraction results kept in memory by content hash, so a conversation that sends the same image "
                  "again is not read again; the least recently used goes first"),
      }};
  return table;
}

const Table<RateLimitsConfig>& rate_limits_table() {
  static const Table<RateLimitsConfig> table{
      .keys = {
          integer("auth_failures_per_minute", &RateLimitsConfig::auth_failures_per_minute, 0, 1'000'000,
                  "failed authentications (401) one source address may make a minute (a bucket of this many, "
                  "refilling at this rate); once they are spent every request from that address that needs a "
                  "credential is refused with 429 `rate_limited`, a valid key's too, until the bucket refills. "
                  "Other addresses are not affected. Behind a proxy that hides client addresses every client "
                  "shares the proxy's: raise it there. `0` turns the throttle off. Per-team and per-key limits "
                  "(`rpm`, `tpm`, `max_concurrency`) are set through the admin API, not here"),
      }};
  return table;
}

const Table<LoggingConfig>& logging_table() {
  static const Table<LoggingConfig> table{
      .keys = {
          one_of("level", &LoggingConfig::level, {"trace", "debug", "info", "warn", "error", "off"},
                 "structured JSON logs"),
          boolean("access_log", &LoggingConfig::access_log,
                  "one line per request (request id, route, status, duration; never bodies or secrets)"),
      }};
  return table;
}

const Table<ResponseCacheConfig>& response_cache_table() {
  static const Table<ResponseCacheConfig> table{
      .keys = {
          integer("max_entries", &ResponseCacheConfig::max_entries, 1, 100'000'000,
                  "cached answers kept in memory, all teams together; the least recently used goes first"),
          integer("max_bytes", &ResponseCacheConfig::max_bytes, 1'024, std::int64_t{64} * 1024 * 1024 * 1024,
                  "bytes of cached answers (text, tool calls, route) kept in memory, all teams together; the least "
                  "recently used goes first"),
          custom<ResponseCacheConfig>(
              "teams", "mapping team → ttl_s", "ttl_s: " + range(1, kMaxResponseCacheTtlS), "`{}`",
              "teams whose identical requests are answered from the cache, with the seconds an answer stays "
              "(`{research: 300}`); the admin API's per-team setting (`PATCH /admin/v1/teams/{name}` "
              "`response_cache`) wins over this",
              [](Loader& l, const Field& v, ResponseCacheConfig& out) {
                const auto m = l.mapping(v, nullptr);
                if (!m) return false;
                bool ok = true;
                for (const auto& [team, ttl] : m->items) {
                  std::int64_t seconds = 0;
                  if (team.empty()) {
                    l.issue(ttl.fallback, ttl.path + ": expected a team name, got an empty key");
                    ok = false;
                  } else if (!l.read_int(ttl, seconds, 1, kMaxResponseCacheTtlS)) {
                    ok = false;
                  } else {
                    out.teams[team] = std::chrono::seconds(seconds);
                  }
                }
                return ok;
              }),
      }};
  return table;
}

bool is_public_url(std::string_view url) {
  const bool scheme = url.starts_with("https://") || url.starts_with("http://");
  return scheme && url.find_first_of(" ?#") == std::string_view::npos && !url.ends_with("/") &&
         !url.substr(url.find("//") + 2).empty();
}

const Table<ConsoleConfig>& console_table() {
  static const Table<ConsoleConfig> table{
      .keys = {
          boolean("enabled", &ConsoleConfig::enabled,
                  "serve the admin console at `/ui` (its pages call the admin API with a signed-in session; "
                  "sign-in is with the admin key or an `oidc` issuer's authorization-code flow)"),
          duration("session_ttl_s", &ConsoleConfig::session_ttl, 60, std::int64_t{7} * 24 * 3600,
                   "how long a console sign-in lasts; signing in again is needed after it"),
          custom<ConsoleConfig>(
              "session_secret", "string, 32 bytes or more", "", "unset",
              "secret. The key session cookies are signed with. Give every replica the same one (e.g. "
              "`\"${AEGIS_CONSOLE_SECRET}\"`) so a session works whichever replica answers; unset, each process "
              "draws its own and its sessions end when it restarts",
              [](Loader& l, const Field& v, ConsoleConfig& out) {
                std::string secret;
                if (!l.read_string(v, secret)) return false;
                if (secret.size() < 32) {
                  l.expected(v, "at least 32 bytes", std::to_string(secret.size()) + " bytes");
                  return false;
                }
                out.session_secret = std::move(secret);
                return true;
              }),
          checked("public_url", &ConsoleConfig::public_url, &is_public_url,
                  "an http(s) URL without a path's trailing '/', query or fragment", "`https://HOST[:PORT][/PATH]`",
                  "where people reach the gateway (before any proxy), for the OIDC sign-in's `redirect_uri` "
                  "(`PUBLIC_URL/ui/auth/oidc/callback`); unset: the scheme and `Host` of the sign-in request "
                  "(`https` unless the host is loopback)"),
      }};
  return table;
}

// --- oidc

// An issuer or document URL: https, or plain http to this machine only
// (127.0.0.1, ::1, localhost: a test identity provider), so that the keys that
// decide who may call the gateway are never read over the network in clear.
}  // namespace

bool is_oidc_url(std::string_view s) {
  if (s.size() > 2048) return false;
  const auto url = boost::urls::parse_absolute_uri(s);
  if (!url || url->has_query() || url->has_fragment() || url->has_userinfo()) return false;
  const std::string host = lower(std::string(url->encoded_host()));
  if (host.empty()) return false;
  const std::string scheme = lower(std::string(url->scheme()));
  if (scheme == "https") return true;
  return scheme == "http" && (host == "localhost" || host == "127.0.0.1" || host == "[::1]");
}

namespace {

constexpr std::string_view kOidcUrlWhat =
    "an https URL without query or fragment (plain http only to 127.0.0.1, ::1 or localhost)";
constexpr std::string_view kOidcUrlValues = "`https://…`; `http://` only for 127.0.0.1, `[::1]`, localhost";

bool is_claim_name(std::string_view s) {
  return !s.empty() && s.size() <= 256 &&
         std::ranges::none_of(s, [](char c) { return static_cast<unsigned char>(c) < ' '; });
}

const Table<OidcIssuerConfig>& oidc_issuer_table() {
  static const Table<OidcIssuerConfig> table{
      .keys =
          {
              checked("issuer", &OidcIssuerConfig::issuer, &is_oidc_url, kOidcUrlWhat, std::string(kOidcUrlValues),
                      "the identity provider's issuer, compared exactly with a token's `iss` (and with the "
                      "discovery document's `issuer`); unique")
                  .need(),
              text("audience", &OidcIssuerConfig::audience, Empty::refused,
                   "a token's `aud` (a string or an array) must contain this")
                  .need(),
              custom<OidcIssuerConfig>("discovery_url", "string", std::string(kOidcUrlValues),
                                       "`<issuer>/.well-known/openid-configuration`",
                                       "the OpenID discovery document; its `jwks_uri` (https, or http to this "
                                       "machine) gives the signing keys",
                                       [](Loader& l, const Field& v, OidcIssuerConfig& out) {
                                         std::string s;
                                         if (!l.read_string(v, s)) return false;
                                         if (!s.empty() && !is_oidc_url(s)) {
                                           l.expected(v, kOidcUrlWhat, l.got(v, s));
                                           return false;
                                         }
                                         out.discovery_url = std::move(s);
                                         return true;
                                       }),
              checked("team_claim", &OidcIssuerConfig::team_claim, &is_claim_name, "a claim name",
                      "1..256 characters, no control characters",
                      "the claim (a string or an array of strings) whose values map to teams and to the admin role"),
              custom<OidcIssuerConfig>(
                  "teams", "mapping claim value → team", "team names non-empty", "`{}`",
                  "claim values and the team each stands for (`{\"cn=payments,ou=groups\": payments}`); empty: a "
                  "claim value that names an existing team is that team",
                  [](Loader& l, const Field& v, OidcIssuerConfig& out) {
                    const auto m = l.mapping(v, nullptr);
                    if (!m) return false;
                    bool ok = true;
                    for (const auto& [value, team] : m->items) {
                      std::string name;
                      if (value.empty()) {
                        l.issue(team.fallback, team.path + ": expected a claim value, got an empty key");
                        ok = false;
                      } else if (!l.read_string(team, name, false)) {
                        ok = false;
                      } else {
                        out.teams[value] = std::move(name);
                      }
                    }
                    return ok;
                  }),
              strings(
                  "admin_values", &OidcIssuerConfig::admin_values, "non-empty claim value",
                  +[](std::string_view s) { return !s.empty(); }, "list of strings", "non-empty",
                  "team-claim values that grant the admin role (`/admin` routes); none: no token is an admin"),
              duration("clock_skew_s", &OidcIssuerConfig::clock_skew, 0, 600,
                       "leeway for `exp`, `nbf` and `iat` against this machine's clock"),
              duration("jwks_min_refresh_interval_s", &OidcIssuerConfig::jwks_min_refresh_interval, 1, 86'400,
                       "a token naming an unknown `kid` refetches the keys at most once per this many seconds "
                       "(requests meanwhile share the fetch or are refused), so unknown kids cannot flood the "
                       "identity provider"),
              duration("jwks_cache_s", &OidcIssuerConfig::jwks_cache, 1, std::int64_t{7} * 86'400,
                       "how long fetched keys are used before they are fetched again"),
              text("console_client_id", &OidcIssuerConfig::console_client_id, Empty::refused,
                   "the OAuth client id of the admin console's sign-in (authorization-code flow)"),
              text("console_client_secret", &OidcIssuerConfig::console_client_secret, Empty::allowed,
                   "secret, optional: the console client's secret; write it as `${ENV}`. Never logged"),
          },
      .if_null = "an issuer mapping with issuer and audience",
  };
  return table;
}

bool read_oidc_issuers(Loader& l, const Field& v, OidcConfig& out) {
  const auto items = l.sequence(v, "a list of issuers");
  if (!items) return false;
  std::vector<std::pair<std::string, int>> seen;
  bool ok = true;
  for (const auto& item : *items) {
    OidcIssuerConfig issuer;
    if (!l.read_table(oidc_issuer_table(), item, issuer)) {
      ok = false;
      continue;
    }
    if (!issuer.issuer.empty()) {
      const auto dup = std::ranges::find_if(seen, [&](const auto& s) { return s.first == issuer.issuer; });
      if (dup != seen.end()) {
        l.issue(item.pos(), item.path + ".issuer: duplicate issuer " + quote(issuer.issuer) +
                                " (first defined at line " + std::to_string(dup->second) + ")");
        ok = false;
        continue;
      }
      seen.emplace_back(issuer.issuer, item.pos().line);
    }
    out.issuers.push_back(std::move(issuer));
  }
  return ok;
}

const Table<OidcConfig>& oidc_table() {
  static const Table<OidcConfig> table{
      .keys = {
          custom<OidcConfig>("issuers", "list of issuers", "`issuer` unique", "`[]` (no tokens accepted)",
                             "identity providers whose JWT access tokens authenticate `/v1` and `/admin` callers",
                             &read_oidc_issuers)
              .with_rows([] { return rows_of(oidc_issuer_table(), OidcIssuerConfig{}, "issuers[]."); }),
      }};
  return table;
}

// ---------------------------------------------------------------------------
// The top level: one key per section, read in this order (routing needs the
// providers), whatever the order in the file.

template <typename S>
Key<Config> section(std::string_view name, S Config::*member, const Table<S>& (*table)(),
                    void (*finish)(Loader&, const TableRead&, S&) = nullptr) {
  return custom<Config>(name, "mapping", "", "", "",
                        [=](Loader& l, const Field& v, Config& c) {
                          const auto read = l.read_table(table(), v, c.*member);
                          if (read && finish) finish(l, *read, c.*member);
                          return read.has_value();
                        })
      .with_rows([=] { return rows_of(table(), default_config().*member); });
}

const Table<Config>& top_table() {
  static const Table<Config> table{
      .keys = {
          section("server", &Config::server, &server_table),
          section("storage", &Config::storage, &storage_table),
          custom<Config>("providers", "list", "", "", "",
                         [](Loader& l, const Field& v, Config& c) { return read_providers(l, v, c.providers); })
              .with_rows([] { return rows_of(provider_table(), ProviderConfig{}); }),
          section("routing", &Config::routing, &routing_table, &finish_routing),
          section("resilience", &Config::resilience, &resilience_table),
          section("egress", &Config::egress, &egress_table),
          section("classification", &Config::classification, &classification_table),
          section("pii", &Config::pii, &pii_table),
          section("budgets", &Config::budgets, &budgets_table),
          section("jobs", &Config::jobs, &jobs_table),
          section("rag", &Config::rag, &rag_table),
          section("responses", &Config::responses, &responses_table),
          section("logging", &Config::logging, &logging_table),
          section("limits", &Config::limits, &limits_table),
          section("media", &Config::media, &media_table),
          section("rate_limits", &Config::rate_limits, &rate_limits_table),
          section("audit", &Config::audit, &audit_table),
          section("response_cache", &Config::response_cache, &response_cache_table),
          section("console", &Config::console, &console_table),
          section("oidc", &Config::oidc, &oidc_table),
      }};
  return table;
}

// Whether routing.fallback_chain is given (as anything but null); when the
// routing section is not even a mapping, do not invent a chain either.
bool fallback_chain_given(const Field* routing) {
  if (routing == nullptr || routing->value.IsNull()) return false;
  if (!routing->value.IsMap()) return true;
  for (auto it = routing->value.begin(); it != routing->value.end(); ++it) {
    if (it->first.IsScalar() && it->first.Scalar() == "fallback_chain" && !it->second.IsNull()) return true;
  }
  return false;
}

// yaml-cpp 0.7's LoadAll never returns, and fills memory, on a token that
// starts no node, such as a stray ',' at the top level: its parser reports an
// empty document at the same place again and again (jbeder/yaml-cpp#1040,
// fixed in 0.8.0). Walks the documents without building them, and returns
// where a document starts where the one before it started.
std::optional<YAML::Mark> stuck_document(const std::string& text) {
  struct Starts : YAML::EventHandler {
    std::optional<YAML::Mark> last;
    std::optional<YAML::Mark> stuck;
    void OnDocumentStart(const YAML::Mark& mark) override {
      if (last && last->pos == mark.pos) stuck = mark;
      last = mark;
    }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}
  } starts;
  std::istringstream in(text);
  YAML::Parser parser(in);
  while (!starts.stuck && parser.HandleNextDocument(starts)) {
  }
  return starts.stuck;
}

Config Loader::run(const std::string& text) {
  cfg_ = default_config();
  cfg_.source = file_;
  std::vector<YAML::Node> docs;
  try {
    if (const auto stuck = stuck_document(text)) {
      const auto at = static_cast<std::size_t>(std::max(stuck->pos, 0));
      const bool comma = at < text.size() && text[at] == ',';
      issue(pos_of(*stuck), comma ? "YAML syntax error: unexpected ','" : "YAML syntax error: unexpected token");
      throw ConfigError(std::move(issues_));
    }
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
      const Field root{"", docs[0], {1, 1}};
      const auto names = top_table().names();
      if (const auto top = mapping(root, &names)) {
        for (const auto& key : top_table().keys) {
          if (const Field* s = top->find(key.name)) key.read(*this, *s, cfg_);
        }
        // No explicit chain: every provider in file order, local ones last,
        // so that the chain ends in the local model.
        if (!fallback_chain_given(top->find("routing"))) {
          for (const auto locality : {Locality::cloud, Locality::local}) {
            for (const auto& p : cfg_.providers) {
              if (p.locality == locality && !p.name.empty() &&
                  std::ranges::find(cfg_.routing.fallback_chain, p.name) == cfg_.routing.fallback_chain.end()) {
                cfg_.routing.fallback_chain.push_back(p.name);
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
  return std::move(cfg_);
}

const char* default_getenv(const char* name) { return core::env_value(name); }

}  // namespace

std::vector<SectionDoc> reference_sections() {
  std::vector<SectionDoc> out;
  for (const auto& key : top_table().keys) out.push_back(SectionDoc{std::string(key.name), key.nested()});
  return out;
}

Config parse_config(const std::string& yaml_text, const std::string& file, EnvLookup getenv_fn,
                    const ValueChecks& checks) {
  Loader loader(file, getenv_fn ? getenv_fn : &default_getenv, checks);
  return loader.run(yaml_text);
}

Config load_config_file(const std::string& path, EnvLookup getenv_fn, const ValueChecks& checks) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw ConfigError({ConfigIssue{path, 0, 0, "cannot read file: it is a directory"}});
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    throw ConfigError({ConfigIssue{path, 0, 0, "cannot read file: " + core::errno_text(err)}});
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    throw ConfigError({ConfigIssue{path, 0, 0, "cannot read file: read error"}});
  }
  return parse_config(text.str(), path, getenv_fn, checks);
}

}  // namespace aegis::config
