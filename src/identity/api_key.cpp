#include "identity/api_key.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <array>
#include <stdexcept>

#include "core/digest.hpp"
#include "core/encoding.hpp"

namespace aegis::identity {

namespace {

constexpr std::string_view kPrefix = "aeg_";
constexpr std::size_t kIdBytes = 8;
constexpr std::size_t kSecretBytes = 32;
constexpr std::size_t kIdChars = kIdBytes * 2;                    // 16 hex
constexpr std::size_t kSecretChars = (kSecretBytes * 8 + 5) / 6;  // 43 base64url, no padding
constexpr std::size_t kKeyChars = kPrefix.size() + kIdChars + 1 + kSecretChars;
constexpr std::size_t kListedSecretChars = 4;

template <std::size_t N>
std::array<unsigned char, N> random_bytes() {
  std::array<unsigned char, N> out{};
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) {
    throw std::runtime_error("the system random number generator failed");
  }
  return out;
}

bool is_lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }
bool is_base64url(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

}  // namespace

NewKey generate_key() {
  const auto id_bytes = random_bytes<kIdBytes>();
  return generate_key_for(hex_encode(id_bytes));
}

NewKey generate_key_for(std::string_view id) {
  auto secret_bytes = random_bytes<kSecretBytes>();
  NewKey k;
  k.id = std::string(id);
  const std::string secret = base64url_encode(secret_bytes);
  OPENSSL_cleanse(secret_bytes.data(), secret_bytes.size());
  k.key.reserve(kKeyChars);
  k.key.append(kPrefix).append(k.id).append("_").append(secret);
  k.prefix.append(kPrefix).append(k.id).append("_").append(secret, 0, kListedSecretChars);
  k.secret_hash = hash_key(k.key);
  return k;
}

std::string hash_key(std::string_view key) {
  const Sha256 digest = sha256(key);
  return hex_encode(std::span(digest.data(), digest.size()));
}

std::optional<std::string> key_id_of(std::string_view key) {
  if (key.size() != kKeyChars || key.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  const std::string_view id = key.substr(kPrefix.size(), kIdChars);
  for (char c : id) {
    if (!is_lower_hex(c)) return std::nullopt;
  }
  if (key[kPrefix.size() + kIdChars] != '_') return std::nullopt;
  for (char c : key.substr(kPrefix.size() + kIdChars + 1)) {
    if (!is_base64url(c)) return std::nullopt;
  }
  return std::string(id);
}

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) {
    // Spend the same kind of work without looking at b's content, then fail.
    (void)CRYPTO_memcmp(a.data(), a.data(), a.size());
    return false;
  }
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace aegis::identity
