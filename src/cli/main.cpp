// The aegis command line: serve, config check, version, admin, report, ...
#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "app/application.hpp"
#include "cli/admin_commands.hpp"
#include "cli/audit_command.hpp"
#include "cli/breaches_command.hpp"
#include "cli/classify_command.hpp"
#include "cli/config_file.hpp"
#include "cli/jobs_command.hpp"
#include "cli/mask_command.hpp"
#include "cli/rag_command.hpp"
#include "cli/redact_command.hpp"
#include "cli/report_command.hpp"
#include "cli/route_command.hpp"
#include "cli/sim_command.hpp"
#include "config/loader.hpp"
#include "config/reference.hpp"
#include "core/version.hpp"
#include "media/tesseract_extractor.hpp"
#include "telemetry/log.hpp"

namespace {

// Exit codes scripts can rely on.
constexpr int kExitOk = 0;
constexpr int kExitConfig = 2;
constexpr int kExitStartup = 3;

std::shared_ptr<const aegis::config::Config> load(const std::string& path) {
  if (path.empty()) return std::make_shared<const aegis::config::Config>(aegis::config::default_config());
  return std::make_shared<const aegis::config::Config>(aegis::cli::load_config(path));
}

// `aegis config reference [--write FILE]`: the key reference generated from
// the loader's tables, printed, or brought up to date in FILE (docs/CONFIG.md).
int config_reference(const std::string& write_path) {
  if (write_path.empty()) {
    std::cout << aegis::config::reference_markdown();
    return kExitOk;
  }
  std::ifstream in(write_path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) {
    std::cerr << "aegis config reference: cannot read " << write_path << "\n";
    return kExitConfig;
  }
  std::string updated;
  try {
    updated = aegis::config::update_reference(text.str());
  } catch (const std::exception& e) {
    std::cerr << "aegis config reference: " << write_path << ": " << e.what() << "\n";
    return kExitConfig;
  }
  if (updated != text.str()) {
    std::ofstream out(write_path, std::ios::binary | std::ios::trunc);
    out << updated;
    if (!out.flush()) {
      std::cerr << "aegis config reference: cannot write " << write_path << "\n";
      return kExitConfig;
    }
  }
  std::cout << write_path << ": " << (updated == text.str() ? "up to date" : "updated") << "\n";
  return kExitOk;
}

bool apply_listen(aegis::config::Config& cfg, const std::string& listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = 0;
  try {
    std::size_t used = 0;
    port = std::stoi(listen.substr(colon + 1), &used);
    if (used != listen.size() - colon - 1) return false;
  } catch (...) {
    return false;
  }
  if (port < 0 || port > 65535) return false;
  cfg.server.host = host;
  cfg.server.port = static_cast<std::uint16_t>(port);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  aegis::media::limit_ocr_threads(argv);
  CLI::App cli{"Aegis: a provider-agnostic AI gateway that keeps RESTRICTED data local"};
  cli.require_subcommand(1);
  cli.set_version_flag("--version", aegis::kVersion);

  std::string config_path;
  std::string listen;
  bool demo = false;
  auto* serve = cli.add_subcommand("serve", "Run the gateway");
  serve->add_option("--config", config_path, "YAML config file (default: built-in, SQLite at ./data/aegis.db)");
  serve->add_option("--listen", listen, "HOST:PORT to listen on (overrides server.listen)");
  serve->add_flag("--demo", demo, "Start simulated providers on loopback when none are configured");

  auto* config_cmd = cli.add_subcommand("config", "Inspect configuration");
  config_cmd->require_subcommand(1);
  std::string check_path;
  auto* check = config_cmd->add_subcommand("check", "Validate a config file; prints file:line:col errors");
  check->add_option("FILE", check_path, "config file")->required();
  std::string reference_write_path;
  auto* reference = config_cmd->add_subcommand("reference", "Print the key reference of docs/CONFIG.md");
  reference->group("");  // hidden: for maintainers
  reference->add_option("--write", reference_write_path, "update the generated blocks of this file instead");

  auto* version = cli.add_subcommand("version", "Print the version");

  aegis::cli::AdminCommands admin_commands(cli);
  aegis::cli::SimCommand sim_command(cli);
  aegis::cli::ClassifyCommand classify_command(cli);
  aegis::cli::RedactCommand redact_command(cli);
  aegis::cli::MaskCommand mask_command(cli);
  aegis::cli::RouteCommand route_command(cli);
  aegis::cli::JobsCommand jobs_command(cli);
  aegis::cli::RagCommand rag_command(cli);
  aegis::cli::AuditCommand audit_command(cli);
  aegis::cli::BreachesCommand breaches_command(cli);
  aegis::cli::ReportCommand report_command(cli);

  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = cli.exit(e);
    // `aegis jobs`, `rag`, `report`, `audit` and `breaches` document exit 2 for every usage error (CLI11 uses 100+).
    return code != 0 && (jobs_command.parsed() || rag_command.parsed() || report_command.parsed() ||
                         audit_command.parsed() || breaches_command.parsed())
               ? kExitConfig
               : code;
  }

  if (version->parsed()) {
    std::cout << "aegis " << aegis::kVersion << "\n";
    return kExitOk;
  }

  if (check->parsed()) return aegis::cli::check_config(check_path);
  if (reference->parsed()) return config_reference(reference_write_path);

  if (admin_commands.parsed()) return admin_commands.run(config_path);
  if (sim_command.parsed()) return sim_command.run();
  if (classify_command.parsed()) return classify_command.run();
  if (redact_command.parsed()) return redact_command.run();
  if (mask_command.parsed()) return mask_command.run();
  if (route_command.parsed()) return route_command.run();
  if (jobs_command.parsed()) return jobs_command.run();
  if (rag_command.parsed()) return rag_command.run();
  if (audit_command.parsed()) return audit_command.run();
  if (breaches_command.parsed()) return breaches_command.run();
  if (report_command.parsed()) return report_command.run(config_path);

  if (serve->parsed()) {
    std::shared_ptr<const aegis::config::Config> cfg;
    try {
      auto loaded = load(config_path);
      auto mutable_cfg = std::make_shared<aegis::config::Config>(*loaded);
      if (!listen.empty() && !apply_listen(*mutable_cfg, listen)) {
        std::cerr << "aegis serve: --listen expects HOST:PORT, got '" << listen << "'\n";
        return kExitConfig;
      }
      cfg = std::move(mutable_cfg);
    } catch (const aegis::config::ConfigError& e) {
      for (const auto& issue : e.issues()) std::cerr << issue.to_string() << "\n";
      return kExitConfig;
    }
    if (!aegis::telemetry::init_logging(cfg->logging.level)) {
      std::cerr << "aegis serve: unknown logging.level '" << cfg->logging.level << "'\n";
      return kExitConfig;
    }
    try {
      aegis::app::Application app(cfg, aegis::app::ServeOptions{demo, true});
      app.start();
      return app.run();
    } catch (const std::exception& e) {
      aegis::telemetry::log(aegis::telemetry::LogLevel::error, "startup_failed", {{"error", e.what()}});
      aegis::telemetry::flush_logs();
      std::cerr << "aegis serve: " << e.what() << "\n";
      return kExitStartup;
    }
  }
  return kExitOk;
}
