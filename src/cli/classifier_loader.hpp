#pragma once
// Shared by `aegis classify` and `aegis mask`: the classifier a command line
// asks for (config file's classification section plus --internal-domain).
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "classify/classifier.hpp"

namespace aegis::cli {

// Prints problems to stderr prefixed with "aegis <command>:" and returns
// nullptr; the caller exits 2.
std::unique_ptr<classify::Classifier> load_classifier(const std::string& config_path,
                                                      const std::vector<std::string>& internal_domains,
                                                      std::string_view command);

}  // namespace aegis::cli
