#pragma once
// The store of a local install, opened from its config: what `aegis admin`,
// `aegis audit` and `aegis report` work on directly (no gateway involved).
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "store/database.hpp"

namespace aegis::cli {

struct LocalStore {
  config::Config config;
  std::unique_ptr<store::Database> store;
};

// Loads `config_path` (the built-in config when empty) and opens the store it
// names. On failure prints the reason prefixed with `command` ("aegis admin")
// to stderr and sets `exit_code`: 2 for a bad config, 1 for a store that
// cannot be opened.
std::optional<LocalStore> open_local_store(const std::string& config_path, std::string_view command, int& exit_code);

}  // namespace aegis::cli
