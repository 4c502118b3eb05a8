#include "jobs/content_keys.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>
#include <stdexcept>

#include "core/secret_file.hpp"
#include "store/sqlite/statement.hpp"
#include "telemetry/log.hpp"

namespace aegis::jobs {

namespace {

Key256 random_key() {
  Key256 key{};
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) {
    throw std::runtime_error("cannot generate a job content key: the OpenSSL random generator failed");
  }
  return key;
}

// Reads a key file written by write_new_key_file (or by hand: hex or base64).
std::optional<Key256> read_key_file(const std::string& path, bool& insecure) {
  auto file = core::read_secret_file(path, 256, "job content key");
  if (!file) return std::nullopt;
  insecure = file->readable_by_others;
  auto key = parse_key256(file->contents);
  OPENSSL_cleanse(file->contents.data(), file->contents.size());
  if (!key) {
    throw std::runtime_error("the job content key file '" + path +
                             "' does not hold a 256-bit key (64 hex digits or base64 of 32 bytes)");
  }
  return key;
}

// Writes a fresh key to `path`; when another process got there first, its
// key is the one used.
Key256 write_new_key_file(const std::string& path) {
  Key256 key = random_key();
  std::string text = key256_to_hex(key) + "\n";
  const bool created = core::create_secret_file(path, text, "job content key");
  OPENSSL_cleanse(text.data(), text.size());
  if (!created) {
    OPENSSL_cleanse(key.data(), key.size());
    bool insecure = false;
    if (auto theirs = read_key_file(path, insecure)) return *theirs;
    throw std::runtime_error("the job content key file '" + path + "' vanished while it was created");
  }
  telemetry::log(telemetry::LogLevel::warn, "jobs_key_generated",
                 {{"path", path},
                  {"key_id", std::string(kGeneratedKeyId)},
                  {"note",
                   "job content is encrypted with this file's key; back it up with the database, or "
                   "configure jobs.encryption"}});
  return key;
}

// The generated key for `path`: read, or created on first start.
Key256 generated_key(const std::string& path, bool create) {
  bool insecure = false;
  if (auto key = read_key_file(path, insecure)) {
    if (insecure) {
      telemetry::log(telemetry::LogLevel::warn, "jobs_key_file_permissions",
                     {{"path", path}, {"note", "the job content key file is readable by group or others; chmod 600"}});
    }
    return *key;
  }
  if (!create) throw std::runtime_error("no key file at '" + path + "'");
  return write_new_key_file(path);
}

}  // namespace

std::string generated_key_path(const std::string& sqlite_path) {
  if (store::sqlite::is_memory_path(sqlite_path)) return {};
  return sqlite_path + ".jobs-key";
}

std::shared_ptr<const PayloadCipher> load_content_cipher(const config::JobsConfig& jobs,
                                                         const std::string& sqlite_path) {
  const std::string generated_path = generated_key_path(sqlite_path);
  std::vector<ContentKey> keys;
  std::string active;
  if (!jobs.encryption.keys.empty()) {
    for (const auto& k : jobs.encryption.keys) keys.push_back(ContentKey{k.id, k.bytes});
    active = jobs.encryption.active;
    const bool listed =
        std::any_of(keys.begin(), keys.end(), [](const ContentKey& k) { return k.id == kGeneratedKeyId; });
    if (!listed && !generated_path.empty()) {
      bool insecure = false;
      if (auto key = read_key_file(generated_path, insecure)) {
        keys.push_back(ContentKey{std::string(kGeneratedKeyId), *key});
        OPENSSL_cleanse(key->data(), key->size());
        telemetry::log(telemetry::LogLevel::info, "jobs_key_generated_still_read",
                       {{"path", generated_path},
                        {"note", "rows written under the generated key stay readable; new rows use the active key"}});
      }
    }
  } else if (generated_path.empty()) {
    keys.push_back(ContentKey{"ephemeral", random_key()});
    active = "ephemeral";
  } else {
    keys.push_back(ContentKey{std::string(kGeneratedKeyId), generated_key(generated_path, true)});
    active = std::string(kGeneratedKeyId);
  }
  try {
    auto cipher = std::make_shared<const PayloadCipher>(std::move(keys), std::move(active));
    return cipher;
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(e.what());
  }
}

}  // namespace aegis::jobs
