#include "core/secret_key.hpp"

#include <openssl/crypto.h>

#include <algorithm>

#include "core/encoding.hpp"

namespace aegis {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// The key in `bytes` when it holds exactly 32; the text is wiped either way.
std::optional<Key256> take_key(std::optional<std::string> bytes) {
  if (!bytes) return std::nullopt;
  std::string& text = *bytes;
  std::optional<Key256> key;
  if (text.size() == 32) {
    key.emplace();
    std::copy(text.begin(), text.end(), key->begin());
  }
  OPENSSL_cleanse(text.data(), text.size());
  return key;
}

}  // namespace

std::optional<Key256> parse_key256(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  if (text.size() == 64) return take_key(hex_decode(text));
  // base64 of 32 bytes: 44 characters ending in exactly one '='.
  if (text.size() == 44) return take_key(base64_decode(text));
  return std::nullopt;
}

std::string key256_to_hex(const Key256& key) { return hex_encode(key); }

}  // namespace aegis
