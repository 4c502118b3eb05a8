#pragma once
// Virtual API keys: "aeg_<16 hex id>_<43 char base64url secret>" (256 random
// bits). Only the SHA-256 of the whole key is stored; the id finds the record
// and the hash is compared in constant time.
#include <optional>
#include <string>
#include <string_view>

namespace aegis::identity {

struct NewKey {
  std::string id;
  std::string key;     // shown once, never stored
  std::string prefix;  // safe to list
  std::string secret_hash;
};

NewKey generate_key();
// A new secret for an existing key id (a rotation): the same format, the same id.
NewKey generate_key_for(std::string_view id);
std::string hash_key(std::string_view key);  // lowercase hex SHA-256
// The id part of a well-formed key, or nullopt.
std::optional<std::string> key_id_of(std::string_view key);
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

}  // namespace aegis::identity
