#pragma once
#include <memory>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "store/database.hpp"

namespace aegis::store {

// Who links the audit rows a process writes into a chain of its own
// (audit/chain.hpp, ChainWriter's writer id): the gateway, or a CLI command
// (`aegis admin`) that writes rows to the store beside a running gateway.
// Two processes must never write one chain: each reads its chain's head once.
inline constexpr std::string_view kGatewayChainWriter = "gateway";
inline constexpr std::string_view kCliChainWriter = "cli";

// Opens the database the config names (PostgreSQL when storage.postgres_dsn
// is set, else the SQLite file) and applies its migrations; the audit rows
// written through it go to `chain_writer`'s chains.
// Throws std::runtime_error at start-up when the store cannot be opened.
std::unique_ptr<Database> open_store(const config::StorageConfig& cfg,
                                     std::string_view chain_writer = kGatewayChainWriter);

// Where the gateway keeps the audit signing key it generates when none is
// configured (audit/signing_key.hpp): `<storage.sqlite_path>.audit-key`;
// empty for an in-memory database.
std::string audit_key_path(const config::StorageConfig& cfg);

}  // namespace aegis::store
