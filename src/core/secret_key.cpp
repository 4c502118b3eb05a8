#include "core/secret_key.hpp"

#include <openssl/evp.h>

namespace aegis {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

std::optional<Key256> parse_key256(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  Key256 key{};
  if (text.size() == 64) {
    bool ok = true;
    for (std::size_t i = 0; i < 32 && ok; ++i) {
      const int hi = hex_value(text[2 * i]);
      const int lo = hex_value(text[2 * i + 1]);
      ok = hi >= 0 && lo >= 0;
      key[i] = static_cast<std::uint8_t>(hi * 16 + lo);
    }
    if (ok) return key;
  }
  // base64 of 32 bytes: 44 characters ending in exactly one '='.
  if (text.size() == 44 && text[43] == '=' && text[42] != '=') {
    unsigned char out[33] = {};
    const int n = EVP_DecodeBlock(out, reinterpret_cast<const unsigned char*>(text.data()), 44);
    // EVP_DecodeBlock counts the padding as zero bytes: 33 for 32 real ones.
    if (n == 33) {
      for (std::size_t i = 0; i < 32; ++i) key[i] = out[i];
      return key;
    }
  }
  return std::nullopt;
}

std::string key256_to_hex(const Key256& key) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (const auto b : key) {
    out += kDigits[b >> 4];
    out += kDigits[b & 0x0f];
  }
  return out;
}

}  // namespace aegis
