#include "report/compliance_report.hpp"

#include <algorithm>
#include <chrono>

#include "core/json.hpp"
#include "core/time_format.hpp"

namespace aegis::report {

namespace json = boost::json;

namespace {

constexpr std::int64_t kMsPerDay = 86'400'000;

std::int64_t epoch_ms(std::chrono::sys_days day) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(day.time_since_epoch()).count();
}

bool all_digits(std::string_view text) {
  return std::ranges::all_of(text, [](char c) { return c >= '0' && c <= '9'; });
}

std::size_t level_index(Level level) { return static_cast<std::size_t>(level); }

// The outcome part of a fallback step ("azure:unavailable" -> "unavailable").
// Provider names hold no ':' (config: `A-Z a-z 0-9 _ - .`), so the first one splits.
std::string_view step_outcome(std::string_view step) {
  const auto colon = step.find(':');
  return colon == std::string_view::npos ? std::string_view() : step.substr(colon + 1);
}

std::string date_text(std::int64_t day_start_ms) { return format_rfc3339_ms(day_start_ms).substr(0, 10); }

json::object counts_json(const std::map<std::string, std::int64_t>& counts) {
  json::object out;
  for (const auto& [name, count] : counts) out[name] = count;
  return out;
}

}  // namespace

Result<ReportMonth> parse_month(std::string_view text) {
  auto bad = [&] {
    return make_error(
        ErrorCode::invalid_request,
        "month must be a calendar month written YYYY-MM (e.g. 2026-11), got '" + std::string(text.substr(0, 40)) + "'");
  };
  if (text.size() != 7 || text[4] != '-' || !all_digits(text.substr(0, 4)) || !all_digits(text.substr(5, 2))) {
    return bad();
  }
  const int year = std::stoi(std::string(text.substr(0, 4)));
  const unsigned month = static_cast<unsigned>(std::stoi(std::string(text.substr(5, 2))));
  if (year < 1970 || month < 1 || month > 12) return bad();
  using namespace std::chrono;
  const year_month first{std::chrono::year{year}, std::chrono::month{month}};
  const sys_days start{first / 1};
  const sys_days next{(first + months{1}) / 1};
  ReportMonth out;
  out.text = std::string(text);
  out.since_ms = epoch_ms(start);
  out.until_ms = epoch_ms(next);
  out.days = static_cast<int>((next - start).count());
  return out;
}

bool sent_off_the_local_network(const audit::AuditRecord& row) noexcept {
  return !row.locality.empty() && row.locality != "local";
}

ReportBuilder::ReportBuilder(ReportMonth month, std::optional<std::string> team) {
  report_.month = std::move(month);
  report_.team = std::move(team);
  report_.daily.resize(static_cast<std::size_t>(std::max(report_.month.days, 0)));
  for (std::size_t day = 0; day < report_.daily.size(); ++day) {
    report_.daily[day].date = date_text(report_.month.since_ms + static_cast<std::int64_t>(day) * kMsPerDay);
  }
}

void ReportBuilder::add(const audit::AuditRecord& row) {
  auto& r = report_;
  if (row.time_ms < r.month.since_ms || row.time_ms >= r.month.until_ms) return;
  if (r.team && row.team != *r.team) return;
  if (row.surface.starts_with("admin.")) {
    ++r.admin_actions[row.surface];
    return;
  }
  DayMix& day = r.daily[static_cast<std::size_t>((row.time_ms - r.month.since_ms) / kMsPerDay)];

  ++r.requests;
  ++r.requests_by_level[level_index(row.level)];
  ++day.by_level[level_index(row.level)];
  ++r.requests_by_surface[row.surface];

  if (row.level == Level::RESTRICTED) {
    ++r.restricted.total;
    if (row.locality == "local") {
      ++r.restricted.local;
      ++day.restricted_local;
    } else if (sent_off_the_local_network(row)) {
      ++r.restricted.non_local;
      ++day.restricted_non_local;
      if (r.violations.size() < kMaxListedViolations) {
        r.violations.push_back(Violation{row.time_ms, row.request_id, row.team, row.key_id, row.provider, row.model,
                                         row.locality, row.entities});
      }
    } else {
      ++r.restricted.not_sent;
    }
  }

  if (row.egress_veto) {
    ++r.egress_vetoes;
    ++r.vetoes_by_rule[row.egress_rule.empty() ? "unnamed" : row.egress_rule];
  }
  if (row.egress_blocked) {
    ++r.blocked_sends;
    ++r.blocked_by_provider[row.provider.empty() ? "none" : row.provider];
  }
  if (row.placeholders > 0) {
    ++r.masked_requests;
    r.masked_values += row.placeholders;
    for (const auto& [type, count] : row.entities) r.masked_entities[type] += count;
  }
  if (row.invented_pii) ++r.invented_pii;

  if (!row.provider.empty()) {
    ProviderUse& use = providers_[row.provider];
    ++use.requests;
    if (row.locality == "local") ++use.sent_local;
    if (sent_off_the_local_network(row)) ++use.sent_cloud;
    if (row.level == Level::RESTRICTED) ++use.restricted;
  }

  bool incident = false;
  for (const auto& step : row.fallback_path) {
    const std::string_view outcome = step_outcome(step);
    if (outcome == "ok") continue;
    incident = true;
    ++r.incidents[step];
    if (outcome == "circuit_open") ++r.breaker_open_steps;
  }
  if (incident) ++r.incident_requests;

  if (row.status == 402 || row.error_type == "budget_exceeded") {
    ++r.budget_rejections;
    ++r.budget_rejections_by_team[row.team];
  }
}

ComplianceReport ReportBuilder::finish(const ReportInputs& inputs) const {
  ComplianceReport out = report_;
  out.generated_at_ms = inputs.generated_at_ms;
  out.chain = inputs.chain;

  // Every configured provider, used or not (an auditor asks where data could
  // have gone, not only where it went), then any the rows name that the
  // configuration no longer does.
  std::map<std::string, ProviderUse> used = providers_;
  for (const auto& provider : inputs.providers) {
    ProviderUse use;
    if (auto it = used.find(provider.name); it != used.end()) {
      use = it->second;
      used.erase(it);
    }
    use.name = provider.name;
    use.configured = true;
    use.type = provider.type;
    use.locality = provider.locality == config::Locality::local ? "local" : "cloud";
    use.residency = provider.residency.empty() ? "unspecified" : provider.residency;
    out.providers.push_back(std::move(use));
  }
  for (auto& [name, use] : used) {
    use.name = name;
    use.residency = "unspecified";
    out.providers.push_back(std::move(use));
  }

  for (const auto& budget : inputs.budgets) {
    if (out.team && budget.team != *out.team) continue;
    out.spend.push_back(budget);
  }
  std::ranges::sort(out.spend, {}, &TeamBudget::team);
  return out;
}

ComplianceReport build_compliance_report(const ReportInputs& inputs, const std::vector<audit::AuditRecord>& rows) {
  ReportBuilder builder(inputs.month, inputs.team);
  for (const auto& row : rows) builder.add(row);
  return builder.finish(inputs);
}

json::object report_json(const ComplianceReport& report) {
  json::object out;
  out["month"] = report.month.text;
  out["team"] = report.team ? json::value(*report.team) : json::value(nullptr);
  out["period"] = json::object{{"since", format_rfc3339_ms(report.month.since_ms)},
                               {"until", format_rfc3339_ms(report.month.until_ms)}};
  out["generated_at"] = format_rfc3339_ms(report.generated_at_ms);
  out["invariant_holds"] = report.invariant_holds();
  out["requests"] = report.requests;

  json::object by_level;
  for (const Level level : kLevels) by_level[to_string(level)] = report.requests_by_level[level_index(level)];
  out["requests_by_level"] = std::move(by_level);
  out["requests_by_surface"] = counts_json(report.requests_by_surface);
  out["admin_actions"] = counts_json(report.admin_actions);

  out["restricted"] = json::object{{"total", report.restricted.total},
                                   {"local", report.restricted.local},
                                   {"non_local", report.restricted.non_local},
                                   {"not_sent", report.restricted.not_sent}};
  json::array violations;
  for (const auto& v : report.violations) {
    json::object entities;
    for (const auto& [type, count] : v.entities) entities[type] = count;
    violations.push_back(json::object{{"time", format_rfc3339_ms(v.time_ms)},
                                      {"time_ms", v.time_ms},
                                      {"request_id", v.request_id},
                                      {"team", v.team},
                                      {"key_id", v.key_id},
                                      {"provider", v.provider},
                                      {"model", v.model},
                                      {"locality", v.locality},
                                      {"entities", std::move(entities)}});
  }
  out["violations"] = std::move(violations);
  out["violations_listed_max"] = static_cast<std::int64_t>(kMaxListedViolations);

  out["egress_vetoes"] = json::object{{"total", report.egress_vetoes}, {"by_rule", counts_json(report.vetoes_by_rule)}};
  out["blocked_sends"] =
      json::object{{"total", report.blocked_sends}, {"by_provider", counts_json(report.blocked_by_provider)}};
  out["masked_entities"] = counts_json(report.masked_entities);
  out["masking"] = json::object{{"requests", report.masked_requests}, {"values", report.masked_values}};
  out["invented_pii"] = report.invented_pii;

  json::array providers;
  for (const auto& p : report.providers) {
    providers.push_back(json::object{{"name", p.name},
                                     {"configured", p.configured},
                                     {"type", p.type},
                                     {"locality", p.locality},
                                     {"residency", p.residency},
                                     {"requests", p.requests},
                                     {"sent_local", p.sent_local},
                                     {"sent_cloud", p.sent_cloud},
                                     {"restricted", p.restricted}});
  }
  out["providers"] = std::move(providers);

  out["incidents"] = json::object{{"requests", report.incident_requests},
                                  {"breaker_open", report.breaker_open_steps},
                                  {"by_step", counts_json(report.incidents)}};
  out["budget_rejections"] =
      json::object{{"total", report.budget_rejections}, {"by_team", counts_json(report.budget_rejections_by_team)}};

  json::array spend;
  for (const auto& s : report.spend) {
    spend.push_back(json::object{{"team", s.team},
                                 {"cap_usd", s.cap ? usd_json(*s.cap) : json::value(nullptr)},
                                 {"spent_usd", usd_json(s.spent)},
                                 {"requests", s.requests}});
  }
  out["spend"] = json::object{{"period", report.month.text}, {"teams", std::move(spend)}};

  json::array daily;
  for (const auto& day : report.daily) {
    json::object levels;
    for (const Level level : kLevels) levels[to_string(level)] = day.by_level[level_index(level)];
    daily.push_back(json::object{{"date", day.date},
                                 {"by_level", std::move(levels)},
                                 {"restricted_local", day.restricted_local},
                                 {"restricted_non_local", day.restricted_non_local}});
  }
  out["daily"] = std::move(daily);

  const ChainSection& chain = report.chain;
  json::array checkpoint_ids;
  for (const auto id : chain.checkpoint_ids) checkpoint_ids.push_back(id);
  json::array findings;
  for (const auto& f : chain.findings) {
    findings.push_back(json::object{{"kind", f.kind},
                                    {"chain_id", f.chain_id},
                                    {"seq", f.seq},
                                    {"checkpoint_id", f.checkpoint_id},
                                    {"message", f.message}});
  }
  json::object chain_json{{"status", chain.status},
                          {"verified", chain.status == "intact" || chain.status == "unsigned_tail"},
                          {"chains", chain.chains},
                          {"rows", chain.rows},
                          {"checkpoint_ids", std::move(checkpoint_ids)},
                          {"findings", std::move(findings)}};
  if (!chain.error.empty()) chain_json["error"] = chain.error;
  out["chain"] = std::move(chain_json);
  return out;
}

}  // namespace aegis::report
