#pragma once
// Where the job store's content keys come from (docs/CONFIG.md, jobs.encryption):
// the keys the config names (resolved and validated by the config loader), or,
// when none are configured, a key the gateway generates on first start and
// keeps in a 0600 file beside the SQLite database. Job content is therefore
// never written in plaintext.
#include <memory>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "jobs/payload_cipher.hpp"

namespace aegis::jobs {

inline constexpr std::string_view kGeneratedKeyId = "generated";

// "<database path>.jobs-key"; empty for an in-memory database.
std::string generated_key_path(const std::string& sqlite_path);

// Start-up only: throws std::runtime_error (messages name paths and key ids,
// never key bytes). With keys configured, the generated file (if one exists
// from an earlier start) stays accepted for reading under id "generated"
// unless the config lists that id itself. An in-memory database gets a key
// that lives as long as the process (its rows do not outlive it either).
std::shared_ptr<const PayloadCipher> load_content_cipher(const config::JobsConfig& jobs,
                                                         const std::string& sqlite_path);

}  // namespace aegis::jobs
