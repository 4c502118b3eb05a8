#include "cli/classifier_loader.hpp"

#include <iostream>

#include "cli/config_file.hpp"
#include "config/loader.hpp"

namespace aegis::cli {

std::unique_ptr<classify::Classifier> load_classifier(const std::string& config_path,
                                                      const std::vector<std::string>& internal_domains,
                                                      std::string_view command) {
  config::ClassificationConfig cfg;
  try {
    if (!config_path.empty()) cfg = load_config(config_path).classification;
    for (const auto& d : internal_domains) cfg.internal_domains.push_back(d);
    return classify::make_classifier(cfg);
  } catch (const config::ConfigError& e) {
    for (const auto& issue : e.issues()) std::cerr << issue.to_string() << "\n";
  } catch (const std::exception& e) {
    std::cerr << "aegis " << command << ": " << e.what() << "\n";
  }
  return nullptr;
}

}  // namespace aegis::cli
