#include "cli/local_store.hpp"

#include <iostream>

#include "config/loader.hpp"
#include "store/factory.hpp"

namespace aegis::cli {

std::optional<LocalStore> open_local_store(const std::string& config_path, std::string_view command, int& exit_code) {
  LocalStore local;
  try {
    local.config = config_path.empty() ? config::default_config() : config::load_config_file(config_path);
  } catch (const config::ConfigError& e) {
    for (const auto& issue : e.issues()) std::cerr << issue.to_string() << "\n";
    exit_code = 2;
    return std::nullopt;
  }
  try {
    // Rows the commands write (`aegis admin`'s key changes) go to a chain of
    // the CLI's: a gateway may be writing the "gateway" chain beside it.
    local.store = store::open_store(local.config.storage, store::kCliChainWriter);
  } catch (const std::exception& e) {
    std::cerr << command << ": cannot open the store: " << e.what() << "\n";
    exit_code = 1;
    return std::nullopt;
  }
  return local;
}

}  // namespace aegis::cli
