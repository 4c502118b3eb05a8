#include "audit/signing_key.hpp"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <array>
#include <cstdlib>
#include <optional>
#include <stdexcept>

#include "core/encoding.hpp"
#include "core/secret_file.hpp"
#include "telemetry/log.hpp"

namespace aegis::audit {

namespace {

constexpr std::size_t kMaxPemBytes = 4096;

struct PkeyFree {
  void operator()(EVP_PKEY* key) const noexcept { EVP_PKEY_free(key); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

struct BioFree {
  void operator()(BIO* bio) const noexcept { BIO_free(bio); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

std::string raw_public(EVP_PKEY* key) {
  std::array<unsigned char, 32> raw{};
  std::size_t len = raw.size();
  if (EVP_PKEY_get_raw_public_key(key, raw.data(), &len) != 1 || len != raw.size()) return {};
  return std::string(reinterpret_cast<const char*>(raw.data()), len);
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return len > 0 ? std::string(data, static_cast<std::size_t>(len)) : std::string();
}

PkeyPtr read_pem(std::string_view pem, bool private_key) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return nullptr;
  EVP_PKEY* key = private_key ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)
                              : PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  return PkeyPtr(key);
}

}  // namespace

struct SigningKey::Impl {
  PkeyPtr key;
};

SigningKey::SigningKey(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
  public_raw_ = raw_public(impl_->key.get());
  if (public_raw_.empty()) throw std::runtime_error("the audit signing key is not an Ed25519 key");
  key_id_ = key_fingerprint(public_raw_);
}

SigningKey::SigningKey(SigningKey&&) noexcept = default;
SigningKey& SigningKey::operator=(SigningKey&&) noexcept = default;
SigningKey::~SigningKey() = default;

SigningKey SigningKey::from_pem(std::string_view pem) {
  PkeyPtr key = read_pem(pem, true);
  if (!key || EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519) {
    throw std::runtime_error(
        "the audit signing key is not a PEM Ed25519 private key (openssl genpkey -algorithm ed25519)");
  }
  auto impl = std::make_unique<Impl>();
  impl->key = std::move(key);
  return SigningKey(std::move(impl));
}

SigningKey SigningKey::generate() {
  EVP_PKEY* raw = nullptr;
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr);
  const bool ok = ctx != nullptr && EVP_PKEY_keygen_init(ctx) == 1 && EVP_PKEY_keygen(ctx, &raw) == 1;
  EVP_PKEY_CTX_free(ctx);
  if (!ok) throw std::runtime_error("cannot generate an Ed25519 key: OpenSSL failed");
  auto impl = std::make_unique<Impl>();
  impl->key.reset(raw);
  return SigningKey(std::move(impl));
}

std::string SigningKey::sign(std::string_view message) const {
  std::array<unsigned char, 64> signature{};
  std::size_t len = signature.size();
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok = ctx != nullptr && EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, impl_->key.get()) == 1 &&
                  EVP_DigestSign(ctx, signature.data(), &len, reinterpret_cast<const unsigned char*>(message.data()),
                                 message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) throw std::runtime_error("Ed25519 signing failed");
  return base64_encode(std::span<const unsigned char>(signature.data(), len));
}

std::string SigningKey::public_key_pem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), impl_->key.get()) != 1) return {};
  return bio_text(bio.get());
}

std::string SigningKey::private_key_pem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), impl_->key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return {};
  }
  return bio_text(bio.get());
}

std::string key_fingerprint(std::string_view public_key_raw) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  if (EVP_Digest(public_key_raw.data(), public_key_raw.size(), md.data(), &len, EVP_sha256(), nullptr) != 1) {
    return {};
  }
  return hex_encode(std::span<const unsigned char>(md.data(), 8));
}

bool verify_signature(std::string_view public_key_raw, std::string_view message, std::string_view signature_b64) {
  const auto signature = base64_decode(signature_b64);
  if (!signature || signature->size() != 64 || public_key_raw.size() != 32) return false;
  PkeyPtr key(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(public_key_raw.data()), public_key_raw.size()));
  if (!key) return false;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok = ctx != nullptr && EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, key.get()) == 1 &&
                  EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature->data()), signature->size(),
                                   reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

Result<std::string> public_key_from_pem(std::string_view pem) {
  PkeyPtr key = read_pem(pem, false);
  if (!key) key = read_pem(pem, true);
  if (!key || EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519) {
    return make_error(ErrorCode::invalid_request, "not a PEM Ed25519 public or private key");
  }
  return raw_public(key.get());
}

namespace {

// The configured key's PEM, or nothing when none is configured.
std::optional<std::string> configured_pem(const config::AuditConfig& audit) {
  if (!audit.signing_key_env.empty()) {
    // NOLINTNEXTLINE(concurrency-mt-unsafe): start-up and CLI only, before any thread that sets variables
    const char* value = std::getenv(audit.signing_key_env.c_str());
    if (value == nullptr || *value == '\0') {
      throw std::runtime_error("audit.signing_key_env: the environment variable " + audit.signing_key_env +
                               " is not set");
    }
    return std::string(value);
  }
  if (!audit.signing_key_file.empty()) {
    auto file = core::read_secret_file(audit.signing_key_file, kMaxPemBytes, "audit signing key");
    if (!file) throw std::runtime_error("audit.signing_key_file: no file at '" + audit.signing_key_file + "'");
    return std::move(file->contents);
  }
  return std::nullopt;
}

}  // namespace

SigningKey load_signing_key(const config::AuditConfig& audit, const std::string& generated_path) {
  if (auto pem = configured_pem(audit)) {
    SigningKey key = SigningKey::from_pem(*pem);
    // NOLINTNEXTLINE(clang-analyzer-cplusplus.InnerPointer): *pem is alive; the checker loses it through string_view
    OPENSSL_cleanse(pem->data(), pem->size());
    return key;
  }
  const std::string& path = generated_path;
  if (path.empty()) return SigningKey::generate();
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (auto file = core::read_secret_file(path, kMaxPemBytes, "audit signing key")) {
      if (file->readable_by_others) {
        telemetry::log(
            telemetry::LogLevel::warn, "audit_key_file_permissions",
            {{"path", path}, {"note", "the audit signing key file is readable by group or others; chmod 600"}});
      }
      SigningKey key = SigningKey::from_pem(file->contents);
      OPENSSL_cleanse(file->contents.data(), file->contents.size());
      return key;
    }
    SigningKey fresh = SigningKey::generate();
    std::string pem = fresh.private_key_pem();
    const bool created = core::create_secret_file(path, pem, "audit signing key");
    OPENSSL_cleanse(pem.data(), pem.size());
    if (created) {
      telemetry::log(telemetry::LogLevel::warn, "audit_key_generated",
                     {{"path", path},
                      {"key_id", fresh.key_id()},
                      {"note",
                       "audit checkpoints are signed with this file's key; keep it with the database's backups, "
                       "or configure audit.signing_key_file"}});
      return fresh;
    }
  }
  throw std::runtime_error("cannot create the audit signing key file '" + path + "'");
}

std::map<std::string, std::string> configured_public_keys(const config::AuditConfig& audit,
                                                          const std::string& generated_path) {
  std::map<std::string, std::string> keys;
  std::optional<std::string> pem = configured_pem(audit);
  if (!pem) {
    const std::string& path = generated_path;
    if (path.empty()) return keys;
    auto file = core::read_secret_file(path, kMaxPemBytes, "audit signing key");
    if (!file) return keys;
    pem = std::move(file->contents);
  }
  auto raw = public_key_from_pem(*pem);
  // NOLINTNEXTLINE(clang-analyzer-cplusplus.InnerPointer): *pem is alive; the checker loses it through string_view
  OPENSSL_cleanse(pem->data(), pem->size());
  if (!raw.ok()) throw std::runtime_error("the audit signing key is not a PEM Ed25519 key");
  keys.emplace(key_fingerprint(*raw), *raw);
  return keys;
}

}  // namespace aegis::audit
