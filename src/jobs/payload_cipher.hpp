#pragma once
// Job content at rest (issue 11 item 7): the request, masking vault, metadata
// and result of a job are stored sealed with AES-256-GCM (OpenSSL EVP).
//
// A sealed value is binary (stored as a SQLite BLOB; legacy plaintext rows are
// TEXT, which is how a reader tells them apart):
//
//   0x01 | key id length L (1..64) | key id (L bytes) | nonce (12) | ciphertext | tag (16)
//
// The nonce is fresh from the OpenSSL RNG for every value. The associated data
// binds the value to its row id and column name and covers the header (format
// byte and key id), so a value copied to another row or column, or relabelled
// with another key id, fails authentication instead of decrypting.
//
// The key id travels with each value, so keys rotate without rewriting rows:
// new values are sealed with the active key, and any key still in the ring
// opens the values written under it. Errors name key ids, never key bytes or
// content.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "core/secret_key.hpp"

namespace aegis::jobs {

struct ContentKey {
  std::string id;  // [A-Za-z0-9_.-]{1,64}
  Key256 bytes{};
};

class PayloadCipher {
 public:
  // Throws std::invalid_argument (start-up only) when `keys` is empty, an id is
  // malformed or repeated, or `active_id` is not among them.
  PayloadCipher(std::vector<ContentKey> keys, std::string active_id);
  ~PayloadCipher();
  PayloadCipher(const PayloadCipher&) = delete;
  PayloadCipher& operator=(const PayloadCipher&) = delete;

  const std::string& active_key_id() const noexcept { return active_; }
  bool has_key(std::string_view id) const noexcept;

  // `plaintext` sealed with the active key for (row_id, column). internal only
  // when OpenSSL fails (e.g. the RNG).
  Result<std::string> seal(std::string_view row_id, std::string_view column, std::string_view plaintext) const;
  // The plaintext of a sealed value. internal when the value is malformed,
  // its key id is not in the ring, or authentication fails (wrong key, tampered
  // bytes, or another row's/column's value).
  Result<std::string> open(std::string_view row_id, std::string_view column, std::string_view sealed) const;

  // The key id in a sealed value's header, if it has a well-formed one.
  static std::optional<std::string> key_id_of(std::string_view sealed);

 private:
  const ContentKey* find(std::string_view id) const noexcept;
  std::vector<ContentKey> keys_;
  std::string active_;
};

bool is_content_key_id(std::string_view id) noexcept;

}  // namespace aegis::jobs
