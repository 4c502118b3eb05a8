#include "jobs/content_keys.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "core/process_env.hpp"
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
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    throw std::runtime_error("cannot read the job content key file '" + path + "': " + core::errno_text(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) == 0) insecure = (st.st_mode & (S_IRWXG | S_IRWXO)) != 0;
  char buf[256];
  std::size_t n = 0;
  for (;;) {
    const ssize_t got = ::read(fd, buf + n, sizeof buf - n);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    n += static_cast<std::size_t>(got);
    if (n == sizeof buf) break;
  }
  ::close(fd);
  auto key = parse_key256(std::string_view(buf, n));
  OPENSSL_cleanse(buf, sizeof buf);
  if (!key) {
    throw std::runtime_error("the job content key file '" + path +
                             "' does not hold a 256-bit key (64 hex digits or base64 of 32 bytes)");
  }
  return key;
}

// Writes a fresh key to a 0600 temporary file, syncs it and links it into
// place; link() fails when another process got there first, and then its key
// is the one used. A crash never leaves a half-written key under `path`.
Key256 write_new_key_file(const std::string& path) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  ::unlink(tmp.c_str());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw std::runtime_error("cannot create the job content key file '" + tmp + "': " + core::errno_text(errno));
  }
  Key256 key = random_key();
  std::string text = key256_to_hex(key) + "\n";
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  const int write_errno = errno;
  OPENSSL_cleanse(text.data(), text.size());
  ::close(fd);
  if (!ok) {
    ::unlink(tmp.c_str());
    throw std::runtime_error("cannot write the job content key file '" + tmp + "': " + core::errno_text(write_errno));
  }
  const int linked = ::link(tmp.c_str(), path.c_str());
  const int link_errno = errno;
  ::unlink(tmp.c_str());
  if (linked != 0) {
    OPENSSL_cleanse(key.data(), key.size());
    if (link_errno == EEXIST) {
      bool insecure = false;
      if (auto theirs = read_key_file(path, insecure)) return *theirs;
    }
    throw std::runtime_error("cannot create the job content key file '" + path + "': " + core::errno_text(link_errno));
  }
  const auto dir = std::filesystem::path(path).parent_path();
  if (const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
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
  std::error_code ec;
  const auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
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
