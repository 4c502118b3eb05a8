#pragma once
// Small secret files the gateway keeps beside its database (the generated job
// content key, the generated audit signing key): read with a permissions
// check, created 0600 atomically so a crash never leaves half a secret.
#include <optional>
#include <string>

namespace aegis::core {

struct SecretFile {
  std::string contents;
  bool readable_by_others = false;  // group or other permission bits set: worth a warning
};

// The file's first `max_bytes` bytes; nothing when it does not exist.
// Throws std::runtime_error (naming `what` and the path) when it cannot be read.
std::optional<SecretFile> read_secret_file(const std::string& path, std::size_t max_bytes, const std::string& what);

// Writes `contents` to a 0600 temporary file, syncs it and links it into
// place (creating the directory). Returns false, writing nothing, when
// another process created `path` first: its file is then the one to read.
// Throws std::runtime_error (naming `what` and the path) on any other failure.
bool create_secret_file(const std::string& path, const std::string& contents, const std::string& what);

}  // namespace aegis::core
