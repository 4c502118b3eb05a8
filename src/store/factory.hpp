#pragma once
#include <memory>
#include <string>

#include "config/config.hpp"
#include "store/database.hpp"

namespace aegis::store {

// Opens the database the config names (PostgreSQL when storage.postgres_dsn
// is set, else the SQLite file) and applies its migrations.
// Throws std::runtime_error at start-up when the store cannot be opened.
std::unique_ptr<Database> open_store(const config::StorageConfig& cfg);

// Where the gateway keeps the audit signing key it generates when none is
// configured (audit/signing_key.hpp): `<storage.sqlite_path>.audit-key`;
// empty for an in-memory database.
std::string audit_key_path(const config::StorageConfig& cfg);

}  // namespace aegis::store
