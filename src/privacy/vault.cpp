#include "privacy/vault.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <stdexcept>

#include "core/json.hpp"

namespace aegis::privacy {

namespace json = boost::json;

namespace {

constexpr std::size_t kMaxReserved = 4096;
constexpr std::size_t kMaxPrefixLetters = 40;
constexpr std::uint32_t kMaxIndex = 999'999'999;

bool upper(char c) { return c >= 'A' && c <= 'Z'; }

std::string value_key(std::string_view type, std::string_view value) {
  std::string key;
  key.reserve(type.size() + 1 + value.size());
  key.append(type);
  key.push_back('\0');
  key.append(value);
  return key;
}

// Parses a canonical placeholder "CA_SIN_12" into its prefix and index.
bool parse_placeholder(std::string_view placeholder, std::string_view* prefix, std::uint32_t* index) {
  const auto underscore = placeholder.rfind('_');
  if (underscore == std::string_view::npos || underscore == 0 || underscore + 1 >= placeholder.size()) return false;
  const std::string_view digits = placeholder.substr(underscore + 1);
  if (digits.size() > 9 || (digits.size() > 1 && digits[0] == '0')) return false;
  std::uint32_t n = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc() || ptr != digits.data() + digits.size()) return false;
  *prefix = placeholder.substr(0, underscore);
  if (placeholder_prefix(*prefix) != *prefix) return false;
  *index = n;
  return true;
}

}  // namespace

std::string placeholder_prefix(std::string_view entity_type) {
  std::string prefix;
  std::size_t letters = 0;
  bool gap = false;
  for (char c : entity_type) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
    if (upper(c)) {
      if (letters >= kMaxPrefixLetters) break;
      if (gap && !prefix.empty()) prefix.push_back('_');
      gap = false;
      prefix.push_back(c);
      ++letters;
    } else {
      gap = true;
    }
  }
  if (prefix.empty()) prefix = "ENTITY";
  return prefix;
}

std::string placeholder_key(std::string_view letters, std::uint32_t index) {
  std::string key;
  key.reserve(letters.size() + 11);
  key.append(letters);
  key.push_back('#');
  char buf[16];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, index);
  (void)ec;
  key.append(buf, ptr);
  return key;
}

const std::string& Vault::placeholder_for(std::string_view type, std::string_view value) {
  return add(type, value, nullptr).placeholder;
}

const std::string& Vault::placeholder_for(std::string_view type, std::string_view value,
                                          const std::unordered_set<std::string>& avoid) {
  return add(type, value, &avoid).placeholder;
}

const Vault::Entry& Vault::add(std::string_view type, std::string_view value,
                               const std::unordered_set<std::string>* avoid) {
  std::string vkey = value_key(type, value);
  if (auto it = by_value_.find(vkey); it != by_value_.end()) return entries_[it->second];

  Entry e;
  e.type = std::string(type);
  e.value = std::string(value);
  const std::string prefix = placeholder_prefix(type);
  for (char c : prefix) {
    if (c == '_') {
      if (e.letters.size() < 64) e.word_starts |= std::uint64_t{1} << e.letters.size();
    } else {
      e.letters.push_back(c);
    }
  }
  e.word_starts |= 1;
  std::uint32_t& next = next_index_[e.letters];
  for (;;) {
    if (next > kMaxIndex) throw std::length_error("vault: placeholder indices exhausted");
    const std::string key = placeholder_key(e.letters, next);
    if (by_key_.count(key) == 0 && reserved_.count(key) == 0 && (avoid == nullptr || avoid->count(key) == 0)) break;
    ++next;
  }
  e.index = next++;
  e.placeholder = prefix + "_" + std::to_string(e.index);
  entries_.push_back(std::move(e));
  by_value_.emplace(std::move(vkey), entries_.size() - 1);
  index_entry(entries_.size() - 1);
  return entries_.back();
}

void Vault::index_entry(std::size_t position) {
  const Entry& e = entries_[position];
  by_key_.emplace(placeholder_key(e.letters, e.index), position);
  first_letters_ |= 1u << (e.letters[0] - 'A');
  last_letters_ |= 1u << (e.letters.back() - 'A');
  const bool known = std::any_of(prefixes_.begin(), prefixes_.end(), [&](const Prefix& p) { return p.letters == e.letters; });
  if (!known) prefixes_.push_back({e.letters, e.word_starts});
  // Worst case of a model's variant: "\_" between every word and before the index.
  const std::size_t words = static_cast<std::size_t>(__builtin_popcountll(e.word_starts));
  max_placeholder_length_ = std::max(max_placeholder_length_, e.letters.size() + 2 * words + 10);
}

const std::string* Vault::value_of(std::string_view placeholder) const {
  std::string_view prefix;
  std::uint32_t index = 0;
  if (!parse_placeholder(placeholder, &prefix, &index)) return nullptr;
  std::string letters;
  for (char c : prefix) {
    if (c != '_') letters.push_back(c);
  }
  const Entry* e = find(letters, index);
  return e != nullptr && e->placeholder == placeholder ? &e->value : nullptr;
}

const Vault::Entry* Vault::find(std::string_view letters, std::uint32_t index) const {
  if (by_key_.empty() || letters.size() > kMaxPrefixLetters) return nullptr;
  char key[kMaxPrefixLetters + 16];
  std::memcpy(key, letters.data(), letters.size());
  key[letters.size()] = '#';
  auto [ptr, ec] = std::to_chars(key + letters.size() + 1, key + sizeof key, index);
  (void)ec;
  const auto it = by_key_.find(std::string_view(key, static_cast<std::size_t>(ptr - key)));
  return it == by_key_.end() ? nullptr : &entries_[it->second];
}

bool Vault::contains_value(std::string_view value) const {
  for (const auto& e : entries_) {
    if (e.value == value) return true;
  }
  return false;
}

void Vault::reserve(std::string_view key) {
  if (reserved_.size() >= kMaxReserved) return;
  reserved_.emplace(key);
}

std::string Vault::to_json() const {
  json::array entries;
  entries.reserve(entries_.size());
  for (const auto& e : entries_) {
    entries.push_back(json::object{{"placeholder", e.placeholder}, {"type", e.type}, {"value", e.value}});
  }
  std::vector<std::pair<std::string, std::uint32_t>> counters(next_index_.begin(), next_index_.end());
  std::sort(counters.begin(), counters.end());
  json::object next;
  for (const auto& [letters, n] : counters) next[letters] = n;
  json::array reserved;
  for (const auto& key : reserved_) reserved.push_back(json::string(key));
  std::sort(reserved.begin(), reserved.end(),
            [](const json::value& a, const json::value& b) { return a.as_string() < b.as_string(); });
  return aegis::to_json(json::object{{"version", 1}, {"entries", std::move(entries)}, {"next", std::move(next)},
                                   {"reserved", std::move(reserved)}});
}

Result<Vault> Vault::from_json(std::string_view text) {
  auto bad = [](std::string why) { return make_error(ErrorCode::invalid_request, "vault: " + std::move(why)); };
  json::parse_options options;
  options.allow_invalid_utf8 = true;  // values are the bytes of the original text
  std::error_code ec;
  json::value root = json::parse(text, ec, {}, options);
  if (ec) return bad("not JSON: " + ec.message());
  const auto* obj = root.if_object();
  if (obj == nullptr) return bad("expected an object");
  const auto* version = obj->if_contains("version");
  if (version == nullptr || !version->is_int64() || version->as_int64() != 1) return bad("unsupported version");
  const auto* entries = obj->if_contains("entries");
  if (entries == nullptr || !entries->is_array()) return bad("missing \"entries\"");

  Vault vault;
  for (const auto& item : entries->as_array()) {
    const auto* e = item.if_object();
    if (e == nullptr) return bad("entry is not an object");
    const auto* ph = e->if_contains("placeholder");
    const auto* type = e->if_contains("type");
    const auto* value = e->if_contains("value");
    if (ph == nullptr || !ph->is_string() || type == nullptr || !type->is_string() || value == nullptr ||
        !value->is_string()) {
      return bad("entry needs string \"placeholder\", \"type\" and \"value\"");
    }
    const std::string_view placeholder = ph->as_string();
    std::string_view prefix;
    std::uint32_t index = 0;
    if (!parse_placeholder(placeholder, &prefix, &index) || prefix != placeholder_prefix(type->as_string())) {
      return bad("malformed placeholder for its type");
    }
    Entry entry;
    entry.placeholder = std::string(placeholder);
    entry.type = std::string(type->as_string());
    entry.value = std::string(value->as_string());
    entry.index = index;
    for (char c : prefix) {
      if (c == '_') {
        if (entry.letters.size() < 64) entry.word_starts |= std::uint64_t{1} << entry.letters.size();
      } else {
        entry.letters.push_back(c);
      }
    }
    entry.word_starts |= 1;
    const std::string key = placeholder_key(entry.letters, index);
    if (vault.by_key_.count(key) != 0) return bad("duplicate placeholder " + std::string(placeholder));
    std::string vkey = value_key(entry.type, entry.value);
    if (vault.by_value_.count(vkey) != 0) return bad("duplicate value for " + std::string(placeholder));
    std::uint32_t& next = vault.next_index_[entry.letters];
    next = std::max(next, index + 1);
    vault.entries_.push_back(std::move(entry));
    vault.by_value_.emplace(std::move(vkey), vault.entries_.size() - 1);
    vault.index_entry(vault.entries_.size() - 1);
  }
  if (const auto* next = obj->if_contains("next"); next != nullptr && next->is_object()) {
    for (const auto& [letters, n] : next->as_object()) {
      if (!n.is_int64() || n.as_int64() < 0 || n.as_int64() > kMaxIndex) return bad("bad \"next\" index");
      auto& current = vault.next_index_[std::string(letters)];
      current = std::max(current, static_cast<std::uint32_t>(n.as_int64()));
    }
  }
  if (const auto* reserved = obj->if_contains("reserved"); reserved != nullptr && reserved->is_array()) {
    for (const auto& key : reserved->as_array()) {
      if (!key.is_string()) return bad("bad \"reserved\" key");
      vault.reserve(key.as_string());
    }
  }
  return vault;
}

}  // namespace aegis::privacy
