#include "cli/mask_command.hpp"

#include <boost/json.hpp>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>

#include "classify/classifier.hpp"
#include "cli/classifier_loader.hpp"
#include "config/loader.hpp"
#include "core/json.hpp"
#include "core/process_env.hpp"
#include "privacy/mask.hpp"
#include "privacy/person.hpp"
#include "privacy/restore.hpp"
#include "privacy/vault.hpp"

namespace aegis::cli {

namespace json = boost::json;

namespace {

std::optional<std::string> read_input(const std::string& path, const char* command) {
  if (path == "-") return std::string((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    std::cerr << "aegis " << command << ": cannot read " << path << "\n";
    return std::nullopt;
  }
  return std::string((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
}

std::optional<privacy::Vault> read_vault(const std::string& path, const char* command) {
  auto text = read_input(path, command);
  if (!text) return std::nullopt;
  auto vault = privacy::Vault::from_json(*text);
  if (!vault.ok()) {
    std::cerr << "aegis " << command << ": " << path << ": " << vault.error().message << "\n";
    return std::nullopt;
  }
  return std::move(vault).value();
}

// The vault holds the original values: owner-only permissions.
bool write_private_file(const std::string& path, const std::string& content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  bool ok = ::fchmod(fd, 0600) == 0;
  std::size_t done = 0;
  while (ok && done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<std::size_t>(n);
  }
  return ::close(fd) == 0 && ok;
}

}  // namespace

MaskCommand::MaskCommand(CLI::App& app) {
  mask_ = app.add_subcommand("mask", "Replace PII in a text with typed placeholders (PERSON_0, CA_SIN_0, ...)");
  mask_->add_flag("--json", json_,
                  R"(Print {"masked","entities":[{"placeholder","type","start","end","value"}]} on stdout)");
  mask_->add_option("--config", config_path_, "YAML config file (classification.internal_domains, custom_recognizers)");
  mask_
      ->add_option("--internal-domain", internal_domains_,
                   "An internal e-mail domain (repeatable; subdomains included)")
      ->allow_extra_args(false);
  mask_->add_option("--vault", vault_in_, "Start from this vault (JSON), e.g. an earlier turn of the conversation");
  mask_->add_option("--vault-out", vault_out_, "Write the vault (JSON, mode 0600) for `aegis unmask`");
  mask_->add_option("FILE", input_, "Input file, or - for standard input")->capture_default_str();

  unmask_ = app.add_subcommand("unmask", "Restore the placeholders of a vault in a text (e.g. a model's answer)");
  unmask_->add_option("--vault", unmask_vault_, "The vault written by `aegis mask --vault-out`")->required();
  unmask_->add_option("FILE", unmask_input_, "Input file, or - for standard input")->capture_default_str();
}

bool MaskCommand::parsed() const { return mask_->parsed() || unmask_->parsed(); }

int MaskCommand::run() { return mask_->parsed() ? run_mask() : run_unmask(); }

int MaskCommand::run_mask() {
  auto classifier = load_classifier(config_path_, internal_domains_, "mask");
  if (!classifier) return 2;

  privacy::Vault vault;
  if (!vault_in_.empty()) {
    auto loaded = read_vault(vault_in_, "mask");
    if (!loaded) return 2;
    vault = std::move(*loaded);
  }
  const auto text = read_input(input_, "mask");
  if (!text) return 2;

  const auto classification = classifier->classify(*text);
  const auto persons = privacy::detect_persons(*text, classification.findings);
  const auto result = privacy::mask(*text, classification.findings, persons, vault);

  if (!vault_out_.empty() && !write_private_file(vault_out_, vault.to_json())) {
    std::cerr << "aegis mask: cannot write " << vault_out_ << ": " << core::errno_text(errno) << "\n";
    return 2;
  }
  if (json_) {
    json::array entities;
    for (const auto& e : result.entities) {
      entities.push_back(json::object{
          {"placeholder", e.placeholder}, {"type", e.type}, {"start", e.start}, {"end", e.end}, {"value", e.value}});
    }
    std::cout << to_json(json::object{{"masked", result.masked}, {"entities", std::move(entities)}}) << "\n";
  } else {
    // The masked text alone on stdout (it pipes into a model or `aegis unmask`), the entities on stderr.
    std::cout << result.masked;
    for (const auto& e : result.entities) {
      std::cerr << e.placeholder << "\t" << e.type << "\t[" << e.start << ", " << e.end << ")\n";
    }
  }
  std::cout.flush();
  return 0;
}

int MaskCommand::run_unmask() {
  const auto vault = read_vault(unmask_vault_, "unmask");
  if (!vault) return 2;
  const auto text = read_input(unmask_input_, "unmask");
  if (!text) return 2;
  std::cout << privacy::restore(*text, *vault);
  std::cout.flush();
  return 0;
}

}  // namespace aegis::cli
