#pragma once
// Loading the config file for the commands: with every check `aegis serve`
// applies to it (custom recognizer patterns compiled by the classifier's own
// rules), so `aegis config check` accepts exactly what serve accepts and
// reports each problem at its file:line:col.
#include <string>

#include "config/loader.hpp"

namespace aegis::cli {

// The checks serve applies while loading (classify::custom_pattern_problem).
config::ValueChecks serve_checks();

// load_config_file with serve_checks(); throws config::ConfigError.
config::Config load_config(const std::string& path);

// `aegis config check FILE`: prints "FILE: ok (N providers)" or every issue,
// one per line, on stderr; returns the exit code (0, or 2).
int check_config(const std::string& path);

}  // namespace aegis::cli
