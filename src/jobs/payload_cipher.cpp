#include "jobs/payload_cipher.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <memory>
#include <stdexcept>

namespace aegis::jobs {

namespace {

constexpr unsigned char kFormat = 0x01;
constexpr std::size_t kNonceBytes = 12;
constexpr std::size_t kTagBytes = 16;
constexpr std::size_t kMaxKeyId = 64;
constexpr std::string_view kAadLabel{"aegis.jobs.content.v1", 21};

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const noexcept { EVP_CIPHER_CTX_free(c); }
};
using CtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

const unsigned char* bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

// Label, row id, column and the value's header, each length-prefixed so no two
// different (row, column) pairs give the same associated data.
std::string associated_data(std::string_view row_id, std::string_view column, std::string_view header) {
  std::string aad;
  aad.reserve(kAadLabel.size() + row_id.size() + column.size() + header.size() + 12);
  auto put = [&aad](std::string_view part) {
    const auto n = static_cast<std::uint32_t>(part.size());
    for (int shift = 24; shift >= 0; shift -= 8) aad += static_cast<char>((n >> shift) & 0xff);
    aad.append(part);
  };
  aad.append(kAadLabel);
  put(row_id);
  put(column);
  put(header);
  return aad;
}

Error crypto_error(std::string what) { return make_error(ErrorCode::internal, "job content " + std::move(what)); }

bool fits_int(std::size_t n) { return n <= static_cast<std::size_t>(INT_MAX); }

}  // namespace

bool is_content_key_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > kMaxKeyId) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.';
  });
}

PayloadCipher::PayloadCipher(std::vector<ContentKey> keys, std::string active_id)
    : keys_(std::move(keys)), active_(std::move(active_id)) {
  if (keys_.empty()) throw std::invalid_argument("job content encryption needs at least one key");
  for (std::size_t i = 0; i < keys_.size(); ++i) {
    if (!is_content_key_id(keys_[i].id)) {
      throw std::invalid_argument("job content key id '" + keys_[i].id + "' is not [A-Za-z0-9_.-]{1,64}");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (keys_[j].id == keys_[i].id) throw std::invalid_argument("job content key id '" + keys_[i].id + "' repeats");
    }
  }
  if (!find(active_)) throw std::invalid_argument("the active job content key '" + active_ + "' is not configured");
}

PayloadCipher::~PayloadCipher() {
  for (auto& key : keys_) OPENSSL_cleanse(key.bytes.data(), key.bytes.size());
}

const ContentKey* PayloadCipher::find(std::string_view id) const noexcept {
  for (const auto& key : keys_) {
    if (key.id == id) return &key;
  }
  return nullptr;
}

bool PayloadCipher::has_key(std::string_view id) const noexcept { return find(id) != nullptr; }

std::optional<std::string> PayloadCipher::key_id_of(std::string_view sealed) {
  if (sealed.size() < 2 || static_cast<unsigned char>(sealed[0]) != kFormat) return std::nullopt;
  const std::size_t n = static_cast<unsigned char>(sealed[1]);
  if (n == 0 || n > kMaxKeyId || sealed.size() < 2 + n + kNonceBytes + kTagBytes) return std::nullopt;
  std::string id(sealed.substr(2, n));
  if (!is_content_key_id(id)) return std::nullopt;
  return id;
}

Result<std::string> PayloadCipher::seal(std::string_view row_id, std::string_view column,
                                        std::string_view plaintext) const {
  const ContentKey& key = *find(active_);
  if (!fits_int(plaintext.size())) return crypto_error("is too large to encrypt");
  std::string out;
  out.reserve(2 + key.id.size() + kNonceBytes + plaintext.size() + kTagBytes);
  out += static_cast<char>(kFormat);
  out += static_cast<char>(key.id.size());
  out += key.id;
  const std::string aad = associated_data(row_id, column, out);
  unsigned char nonce[kNonceBytes];
  if (RAND_bytes(nonce, sizeof nonce) != 1) return crypto_error("encryption failed: no random nonce");
  out.append(reinterpret_cast<const char*>(nonce), sizeof nonce);

  CtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  const std::size_t body = out.size();
  out.resize(body + plaintext.size() + kTagBytes);
  auto* dst = reinterpret_cast<unsigned char*>(out.data());
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceBytes), nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key.bytes.data(), nonce) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, bytes(aad), static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), dst + body, &len, bytes(plaintext), static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), dst + body + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagBytes),
                          dst + body + plaintext.size()) != 1) {
    return crypto_error("encryption failed");
  }
  return out;
}

Result<std::string> PayloadCipher::open(std::string_view row_id, std::string_view column,
                                        std::string_view sealed) const {
  const auto id = key_id_of(sealed);
  if (!id) return crypto_error("is not in a format this version can read");
  const ContentKey* key = find(*id);
  if (!key) return crypto_error("was encrypted with key '" + *id + "', which is not configured");
  const std::size_t header = 2 + id->size();
  const std::string aad = associated_data(row_id, column, sealed.substr(0, header));
  const auto* nonce = bytes(sealed) + header;
  const std::size_t cipher_len = sealed.size() - header - kNonceBytes - kTagBytes;
  if (!fits_int(cipher_len)) return crypto_error("is too large to decrypt");
  const auto* cipher = nonce + kNonceBytes;
  unsigned char tag[kTagBytes];
  std::copy_n(cipher + cipher_len, kTagBytes, tag);

  std::string out(cipher_len, '\0');
  auto* dst = reinterpret_cast<unsigned char*>(out.data());
  CtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceBytes), nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key->bytes.data(), nonce) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, bytes(aad), static_cast<int>(aad.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), dst, &len, cipher, static_cast<int>(cipher_len)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagBytes), tag) != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    return crypto_error("decryption failed");
  }
  if (EVP_DecryptFinal_ex(ctx.get(), dst + len, &len) != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    return crypto_error("failed authentication under key '" + *id +
                        "' (a wrong key for that id, or the stored value was altered or moved)");
  }
  return out;
}

}  // namespace aegis::jobs
