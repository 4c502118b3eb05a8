#include "cli/breaches_command.hpp"

#include <boost/json/serialize.hpp>

#include <chrono>
#include <iostream>

#include "audit/breach_store.hpp"
#include "cli/local_store.hpp"
#include "core/time_format.hpp"
#include "http/server.hpp"

namespace aegis::cli {

namespace {

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

std::string entities_text(const std::map<std::string, int>& entities) {
  std::string out;
  for (const auto& [type, count] : entities) out += (out.empty() ? "" : ",") + type + "=" + std::to_string(count);
  return out.empty() ? "-" : out;
}

void print_line(const audit::Breach& b) {
  std::cout << b.id << "  " << format_rfc3339_ms(b.detected_at_ms) << "  " << b.kind << "  " << b.status
            << "  team=" << (b.team.empty() ? "-" : b.team) << "  provider=" << (b.provider.empty() ? "-" : b.provider)
            << "  entities=" << entities_text(b.entities) << "  " << b.detail << "\n";
}

}  // namespace

BreachesCommand::BreachesCommand(CLI::App& app) {
  breaches_ = app.add_subcommand("breaches", "The breach register: violations, egress blocks, audit-chain failures");
  breaches_->require_subcommand(1);
  breaches_->add_option("--config", config_path_, "YAML config file naming the store (default: built-in)");
  breaches_->add_flag("--json", json_, "print JSON");
  list_ = breaches_->add_subcommand("list", "List entries, newest first");
  list_->add_option("--status", status_, "open | assessed | reported | closed");
  list_->add_option("--team", team_, "only this team's entries");
  list_->add_option("--kind", kind_, "pipeda_violation | egress_block | chain_failure");
  list_->add_option("--limit", limit_, "at most this many (1-1000)")->check(CLI::Range(1, 1000));
  show_ = breaches_->add_subcommand("show", "One entry with its history");
  show_->add_option("ID", id_, "entry id")->required();
  update_ = breaches_->add_subcommand("update", "Set an entry's status, with a note (kept in its history)");
  update_->add_option("ID", id_, "entry id")->required();
  update_->add_option("--status", status_, "assessed | reported | closed")->required();
  update_->add_option("--note", note_, "what was decided or done");
}

bool BreachesCommand::parsed() const { return breaches_->parsed(); }

int BreachesCommand::run() {
  if (update_->parsed() && !audit::is_settable_breach_status(status_)) {
    std::cerr << "aegis breaches update: --status must be one of assessed, reported, closed\n";
    return kExitUsage;
  }
  if (list_->parsed() && !status_.empty() && !audit::is_breach_status(status_)) {
    std::cerr << "aegis breaches list: --status must be one of open, assessed, reported, closed\n";
    return kExitUsage;
  }
  int exit_code = 0;
  auto local = open_local_store(config_path_, "aegis breaches", exit_code);
  if (!local) return exit_code;
  audit::BreachStore& register_ = *local->store;
  auto report = [](const Error& error) {
    std::cerr << "aegis breaches: " << error.message << "\n";
    return kExitFailed;
  };

  if (list_->parsed()) {
    audit::BreachQuery query;
    if (!status_.empty()) query.status = status_;
    if (!team_.empty()) query.team = team_;
    if (!kind_.empty()) query.kind = kind_;
    query.limit = limit_;
    auto rows = register_.list_breaches(query);
    if (!rows.ok()) return report(rows.error());
    if (json_) {
      boost::json::array data;
      for (const auto& b : *rows) data.push_back(audit::breach_json(b));
      std::cout << boost::json::serialize(data) << "\n";
    } else {
      for (const auto& b : *rows) print_line(b);
    }
    return 0;
  }

  if (update_->parsed()) {
    audit::BreachUpdate update{
        id_,
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count(),
        status_, note_, "cli"};
    auto updated = register_.update_breach(update);
    if (!updated.ok()) return report(updated.error());
    // The change is on record in the audit chain as the admin API's is (the
    // CLI's own chain; request id "cli_...").
    const std::string request_id = "cli_" + http::generate_request_id().substr(4);
    auto written = local->store->append_audit({audit::breach_update_row(*updated, update, request_id)});
    if (!written.ok()) {
      std::cerr << "aegis breaches: the change was made, but its audit row could not be written: "
                << written.error().message << "\n";
      return kExitFailed;
    }
    if (json_) {
      std::cout << boost::json::serialize(audit::breach_json(*updated)) << "\n";
    } else {
      print_line(*updated);
    }
    return 0;
  }

  auto breach = register_.get_breach(id_);
  if (!breach.ok()) return report(breach.error());
  auto history = register_.breach_history(id_);
  if (!history.ok()) return report(history.error());
  if (json_) {
    boost::json::object out = audit::breach_json(*breach);
    boost::json::array changes;
    for (const auto& change : *history) changes.push_back(audit::breach_update_json(change));
    out["history"] = std::move(changes);
    std::cout << boost::json::serialize(out) << "\n";
    return 0;
  }
  print_line(*breach);
  if (!breach->request_id.empty()) std::cout << "  request " << breach->request_id << "\n";
  for (const auto& change : *history) {
    std::cout << "  " << format_rfc3339_ms(change.time_ms) << "  " << change.status << "  by " << change.actor
              << (change.note.empty() ? "" : ": " + change.note) << "\n";
  }
  return 0;
}

}  // namespace aegis::cli
