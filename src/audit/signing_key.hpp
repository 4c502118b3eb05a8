#pragma once
// The Ed25519 key that signs audit checkpoints (audit/chain.hpp), and the
// checks of its signatures (OpenSSL). The private key never leaves this
// object; the public key is published at GET /admin/v1/audit/public-key.
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "core/result.hpp"

namespace aegis::audit {

class SigningKey {
 public:
  // From a PEM private key (PKCS#8, `openssl genpkey -algorithm ed25519`).
  // Throws std::runtime_error (start-up) when it is not an Ed25519 key.
  static SigningKey from_pem(std::string_view pem);
  static SigningKey generate();

  SigningKey(SigningKey&&) noexcept;
  SigningKey& operator=(SigningKey&&) noexcept;
  SigningKey(const SigningKey&) = delete;
  SigningKey& operator=(const SigningKey&) = delete;
  ~SigningKey();

  // Base64 of the 64-byte signature over `message`.
  std::string sign(std::string_view message) const;
  const std::string& public_key_raw() const noexcept { return public_raw_; }  // 32 bytes
  std::string public_key_pem() const;
  std::string private_key_pem() const;  // for writing a generated key file
  const std::string& key_id() const noexcept { return key_id_; }

 private:
  struct Impl;
  explicit SigningKey(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::string public_raw_;
  std::string key_id_;
};

// The first 16 hex digits of SHA-256 of a raw public key: a checkpoint's key_id.
std::string key_fingerprint(std::string_view public_key_raw);

// Whether `signature_b64` is an Ed25519 signature of `message` by the raw
// 32-byte public key.
bool verify_signature(std::string_view public_key_raw, std::string_view message, std::string_view signature_b64);

// The raw public key of a PEM public or private Ed25519 key; an error naming
// what is wrong (never the key).
Result<std::string> public_key_from_pem(std::string_view pem);

// The gateway's signing key as configured (audit.signing_key_file or
// audit.signing_key_env), else the one generated at `generated_path`
// (store::audit_key_path: beside the SQLite database; created, mode 0600, on
// first use; empty, as for an in-memory database: one that lives as long as
// the process). Throws std::runtime_error at start-up.
SigningKey load_signing_key(const config::AuditConfig& audit, const std::string& generated_path);

// Public keys a verifier trusts, by key_id: the configured (or generated)
// signing key's, when there is one to read, without generating any.
std::map<std::string, std::string> configured_public_keys(const config::AuditConfig& audit,
                                                          const std::string& generated_path);

}  // namespace aegis::audit
