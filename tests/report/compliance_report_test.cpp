// The compliance report's figures (report/compliance_report.hpp) from rows in
// memory, its JSON, HTML and Markdown forms, and the chain section.
#include "report/compliance_report.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>

#include "core/json.hpp"
#include "report/collect.hpp"
#include "report/render.hpp"
#include "support/audit_rows.hpp"

namespace aegis::report {
namespace {

using test_support::row;
using ::testing::HasSubstr;
using ::testing::Not;

namespace json = boost::json;

// 2026-11-01T00:00:00Z and 2026-12-01T00:00:00Z.
constexpr std::int64_t kNov = 1'793'491'200'000;
constexpr std::int64_t kDec = 1'796'083'200'000;
constexpr std::int64_t kDay = 86'400'000;

ReportMonth november() { return parse_month("2026-11").value(); }

config::ProviderConfig provider(std::string name, config::Locality locality, std::string residency) {
  config::ProviderConfig p;
  p.name = std::move(name);
  p.type = locality == config::Locality::local ? "ollama" : "anthropic";
  p.locality = locality;
  p.residency = std::move(residency);
  p.api_key = "sk-must-never-show";
  return p;
}

ReportInputs inputs(std::optional<std::string> team = std::nullopt) {
  ReportInputs in;
  in.month = november();
  in.team = std::move(team);
  in.providers = {provider("anthropic", config::Locality::cloud, "US"),
                  provider("ollama", config::Locality::local, "CA"), provider("spare", config::Locality::cloud, "")};
  in.budgets = {TeamBudget{"payments", Money::from_dollars(10), Money::from_micros(2'500'000), 7},
                TeamBudget{"research", Money::from_dollars(1), Money::from_micros(1'000'000), 3}};
  in.generated_at_ms = kDec + 5;
  return in;
}

audit::AuditRecord restricted(std::string id, std::string team, std::int64_t time_ms, std::string locality,
                              std::string provider) {
  auto r = row(std::move(id), std::move(team), time_ms);
  r.level = Level::RESTRICTED;
  r.locality = std::move(locality);
  r.provider = std::move(provider);
  r.model = r.provider == "ollama" ? "llama3.2:3b" : "claude-sonnet-4-5";
  r.entities = {{"CA_SIN", 1}};
  r.fallback_path = {r.provider + ":ok"};
  return r;
}

// A month of varied rows, plus rows a report of November must leave out.
std::vector<audit::AuditRecord> month_rows() {
  std::vector<audit::AuditRecord> rows;
  auto plain = row("req_plain", "payments", kNov);  // the first millisecond of the month
  plain.provider = "anthropic";
  plain.locality = "cloud";
  plain.fallback_path = {"anthropic:ok"};
  rows.push_back(plain);

  auto masked = row("req_masked", "payments", kNov + 2 * kDay);
  masked.level = Level::CONFIDENTIAL;
  masked.entities = {{"EMAIL_ADDRESS", 2}, {"PERSON", 1}};
  masked.placeholders = 3;
  masked.provider = "anthropic";
  masked.locality = "cloud";
  masked.surface = "anthropic.messages";
  masked.fallback_path = {"anthropic:ok"};
  masked.invented_pii = true;
  rows.push_back(masked);

  // Found but not masked: it ran locally, so nothing was replaced.
  auto found_local = row("req_found_local", "research", kNov + 2 * kDay + 1);
  found_local.level = Level::CONFIDENTIAL;
  found_local.entities = {{"PHONE_NUMBER", 4}};
  found_local.provider = "ollama";
  rows.push_back(found_local);

  rows.push_back(restricted("req_r_local", "payments", kNov + 3 * kDay, "local", "ollama"));
  auto vetoed = restricted("req_r_vetoed", "research", kNov + 3 * kDay + 10, "local", "ollama");
  vetoed.egress_veto = true;
  vetoed.egress_rule = "sin.context";
  vetoed.fallback_path = {"anthropic:egress_veto", "ollama:ok"};
  rows.push_back(vetoed);
  auto violation = restricted("req_r_cloud", "research", kDec - 1, "cloud", "anthropic");  // the last millisecond
  rows.push_back(violation);
  auto refused = restricted("req_r_refused", "research", kNov + 4 * kDay, "", "");
  refused.status = 402;
  refused.error_type = "budget_exceeded";
  refused.fallback_path = {};
  rows.push_back(refused);

  auto fallback = row("req_fallback", "payments", kNov + 5 * kDay);
  fallback.provider = "ollama";
  fallback.fallback_path = {"anthropic:unavailable", "spare:circuit_open", "ollama:ok"};
  rows.push_back(fallback);
  auto blocked = row("req_blocked", "payments", kNov + 5 * kDay + 1);
  blocked.provider = "ollama";
  blocked.egress_blocked = true;
  blocked.status = 403;
  blocked.error_type = "egress_blocked";
  blocked.fallback_path = {"ollama:egress_blocked"};
  rows.push_back(blocked);
  auto budget = row("req_budget", "payments", kNov + 6 * kDay);
  budget.status = 402;  // the status alone counts
  budget.locality = "";
  rows.push_back(budget);
  auto unknown_provider = row("req_retired", "research", kNov + 7 * kDay);
  unknown_provider.provider = "retired-vllm";
  rows.push_back(unknown_provider);

  // Outside the month: never counted.
  auto before = restricted("req_october", "payments", kNov - 1, "cloud", "anthropic");
  rows.push_back(before);
  auto after = restricted("req_december", "payments", kDec, "cloud", "anthropic");
  rows.push_back(after);
  return rows;
}

TEST(ReportMonth, ParsesACalendarMonthInUtc) {
  const auto nov = parse_month("2026-11");
  ASSERT_TRUE(nov.ok()) << nov.error().message;
  EXPECT_EQ(nov->text, "2026-11");
  EXPECT_EQ(nov->since_ms, kNov);
  EXPECT_EQ(nov->until_ms, kDec);
  EXPECT_EQ(nov->days, 30);
  const auto dec = parse_month("2026-12");
  ASSERT_TRUE(dec.ok());
  EXPECT_EQ(dec->until_ms, 1'798'761'600'000);  // crosses into 2027
  EXPECT_EQ(dec->days, 31);
  const auto leap = parse_month("2028-02");
  ASSERT_TRUE(leap.ok());
  EXPECT_EQ(leap->days, 29);
  EXPECT_EQ(leap->until_ms - leap->since_ms, 29 * kDay);
}

TEST(ReportMonth, RefusesAnythingButYyyyMm) {
  for (const char* bad : {"", "2026-1", "2026-13", "2026-00", "26-11", "2026/11", "2026-11-01", "1969-12",
                          "２０２６-11", "2026-1a", "-2026-11"}) {
    const auto parsed = parse_month(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.error().code, ErrorCode::invalid_request) << bad;
    EXPECT_THAT(parsed.error().message, HasSubstr("YYYY-MM")) << bad;
  }
}

TEST(ComplianceReport, CountsTheMonthsRowsOnly) {
  const auto report = build_compliance_report(inputs(), month_rows());
  EXPECT_EQ(report.requests, 11);
  EXPECT_EQ(report.requests_by_level[static_cast<int>(Level::PUBLIC)], 0);
  EXPECT_EQ(report.requests_by_level[static_cast<int>(Level::INTERNAL)], 5);
  EXPECT_EQ(report.requests_by_level[static_cast<int>(Level::CONFIDENTIAL)], 2);
  EXPECT_EQ(report.requests_by_level[static_cast<int>(Level::RESTRICTED)], 4);
  EXPECT_EQ(report.requests_by_surface.at("openai.chat"), 10);
  EXPECT_EQ(report.requests_by_surface.at("anthropic.messages"), 1);

  EXPECT_EQ(report.restricted.total, 4);
  EXPECT_EQ(report.restricted.local, 2);
  EXPECT_EQ(report.restricted.non_local, 1);
  EXPECT_EQ(report.restricted.not_sent, 1);
  EXPECT_FALSE(report.invariant_holds());
  ASSERT_EQ(report.violations.size(), 1u);
  EXPECT_EQ(report.violations[0].request_id, "req_r_cloud");
  EXPECT_EQ(report.violations[0].provider, "anthropic");
  EXPECT_EQ(report.violations[0].entities.at("CA_SIN"), 1);

  EXPECT_EQ(report.egress_vetoes, 1);
  EXPECT_EQ(report.vetoes_by_rule.at("sin.context"), 1);
  EXPECT_EQ(report.blocked_sends, 1);
  EXPECT_EQ(report.blocked_by_provider.at("ollama"), 1);
  EXPECT_EQ(report.masked_requests, 1);
  EXPECT_EQ(report.masked_values, 3);
  EXPECT_EQ(report.masked_entities, (std::map<std::string, std::int64_t>{{"EMAIL_ADDRESS", 2}, {"PERSON", 1}}));
  EXPECT_EQ(report.invented_pii, 1);

  EXPECT_EQ(report.incidents, (std::map<std::string, std::int64_t>{{"anthropic:egress_veto", 1},
                                                                   {"anthropic:unavailable", 1},
                                                                   {"ollama:egress_blocked", 1},
                                                                   {"spare:circuit_open", 1}}));
  EXPECT_EQ(report.incident_requests, 3);
  EXPECT_EQ(report.breaker_open_steps, 1);
  EXPECT_EQ(report.budget_rejections, 2);
  EXPECT_EQ(report.budget_rejections_by_team, (std::map<std::string, std::int64_t>{{"payments", 1}, {"research", 1}}));
}

TEST(ComplianceReport, BucketsDaysInUtcFromTheFirstToTheLastMillisecond) {
  const auto report = build_compliance_report(inputs(), month_rows());
  ASSERT_EQ(report.daily.size(), 30u);
  EXPECT_EQ(report.daily.front().date, "2026-11-01");
  EXPECT_EQ(report.daily.back().date, "2026-11-30");
  EXPECT_EQ(report.daily[0].by_level[static_cast<int>(Level::INTERNAL)], 1);
  EXPECT_EQ(report.daily[3].restricted_local, 2);
  EXPECT_EQ(report.daily[29].restricted_non_local, 1);
  std::int64_t total = 0;
  for (const auto& day : report.daily) {
    for (const auto count : day.by_level) total += count;
  }
  EXPECT_EQ(total, report.requests);
}

TEST(ComplianceReport, ListsEveryConfiguredProviderAndThoseOnlyTheRowsName) {
  const auto report = build_compliance_report(inputs(), month_rows());
  ASSERT_EQ(report.providers.size(), 4u);
  const auto& anthropic = report.providers[0];
  EXPECT_EQ(anthropic.name, "anthropic");
  EXPECT_TRUE(anthropic.configured);
  EXPECT_EQ(anthropic.locality, "cloud");
  EXPECT_EQ(anthropic.residency, "US");
  EXPECT_EQ(anthropic.requests, 3);
  EXPECT_EQ(anthropic.sent_cloud, 3);
  EXPECT_EQ(anthropic.restricted, 1);
  const auto& ollama = report.providers[1];
  EXPECT_EQ(ollama.residency, "CA");
  EXPECT_EQ(ollama.requests, 5);
  EXPECT_EQ(ollama.sent_local, 5);
  const auto& spare = report.providers[2];
  EXPECT_EQ(spare.residency, "unspecified");
  EXPECT_EQ(spare.requests, 0);  // named in a fallback step only: it answered nothing
  const auto& retired = report.providers[3];
  EXPECT_EQ(retired.name, "retired-vllm");
  EXPECT_FALSE(retired.configured);
  EXPECT_EQ(retired.locality, "");
  EXPECT_EQ(retired.residency, "unspecified");
  EXPECT_EQ(retired.requests, 1);
}

TEST(ComplianceReport, OneTeamsReportCountsOnlyItsRowsAndSpend) {
  const auto report = build_compliance_report(inputs("research"), month_rows());
  EXPECT_EQ(report.requests, 5);
  EXPECT_EQ(report.restricted.total, 3);
  EXPECT_EQ(report.budget_rejections, 1);
  ASSERT_EQ(report.spend.size(), 1u);
  EXPECT_EQ(report.spend[0].team, "research");
  EXPECT_EQ(report.spend[0].spent, Money::from_micros(1'000'000));
}

TEST(ComplianceReport, JsonHoldsEveryLevelAndTheContractsFields) {
  ReportInputs in = inputs();
  const auto empty = report_json(build_compliance_report(in, {}));
  for (const char* field : {"month", "requests_by_level", "restricted", "violations", "egress_vetoes",
                            "masked_entities", "chain", "requests_by_surface", "blocked_sends", "invented_pii",
                            "providers", "incidents", "budget_rejections", "spend", "daily"}) {
    EXPECT_TRUE(empty.contains(field)) << field;
  }
  EXPECT_EQ(empty.at("month"), "2026-11");
  EXPECT_EQ(empty.at("requests_by_level"),
            (json::object{{"PUBLIC", 0}, {"INTERNAL", 0}, {"CONFIDENTIAL", 0}, {"RESTRICTED", 0}}));
  EXPECT_EQ(empty.at("restricted"), (json::object{{"total", 0}, {"local", 0}, {"non_local", 0}, {"not_sent", 0}}));
  EXPECT_TRUE(empty.at("violations").as_array().empty());
  EXPECT_EQ(empty.at("invariant_holds"), true);
  EXPECT_EQ(empty.at("daily").as_array().size(), 30u);

  const auto full = report_json(build_compliance_report(in, month_rows()));
  EXPECT_EQ(full.at("requests_by_level").at("RESTRICTED"), 4);
  EXPECT_EQ(full.at("restricted").at("non_local"), 1);
  EXPECT_EQ(full.at("invariant_holds"), false);
  const auto& violation = full.at("violations").at(0).as_object();
  EXPECT_EQ(violation.at("request_id"), "req_r_cloud");
  EXPECT_EQ(violation.at("time"), "2026-11-30T23:59:59.999Z");
  EXPECT_EQ(violation.at("entities"), (json::object{{"CA_SIN", 1}}));
  EXPECT_EQ(full.at("egress_vetoes").at("total"), 1);
  EXPECT_EQ(full.at("masked_entities"), (json::object{{"EMAIL_ADDRESS", 2}, {"PERSON", 1}}));
  EXPECT_EQ(full.at("spend").at("teams").at(0).at("spent_usd"), 2.5);
  EXPECT_EQ(full.at("spend").at("teams").at(0).at("cap_usd"), 10.0);
  const std::string text = to_json(full);
  EXPECT_THAT(text, Not(HasSubstr("sk-must-never-show")));
}

TEST(ChainSectionOf, MapsTheVerifiersOutcome) {
  audit::VerifyReport clean;
  clean.chains = 2;
  clean.rows = 40;
  clean.checkpoint_ids = {3, 4};
  auto intact = chain_section(clean);
  EXPECT_EQ(intact.status, "intact");
  EXPECT_EQ(intact.checkpoint_ids, (std::vector<std::int64_t>{3, 4}));
  EXPECT_EQ(intact.rows, 40);

  audit::VerifyReport tail = clean;
  tail.findings.push_back(audit::Finding{audit::FindingKind::unsigned_tail, "w1/2026-11", 39, 0, "2 rows unsigned"});
  EXPECT_EQ(chain_section(tail).status, "unsigned_tail");

  audit::VerifyReport edited = tail;
  edited.findings.push_back(audit::Finding{audit::FindingKind::edited, "w1/2026-11", 7, 0, "row 7 was edited"});
  const auto tampered = chain_section(edited);
  EXPECT_EQ(tampered.status, "tampered");
  ASSERT_EQ(tampered.findings.size(), 2u);
  EXPECT_EQ(tampered.findings[1].kind, "edited");
  EXPECT_EQ(tampered.findings[1].seq, 7);

  const auto failed = chain_section(Result<audit::VerifyReport>(make_error(ErrorCode::unavailable, "db down")));
  EXPECT_EQ(failed.status, "unavailable");
  EXPECT_EQ(failed.error, "db down");
  const auto as_json = report_json(build_compliance_report(ReportInputs{november(), {}, {}, {}, failed, 0}, {}));
  EXPECT_EQ(as_json.at("chain").at("verified"), false);
  EXPECT_EQ(as_json.at("chain").at("error"), "db down");
}

// Every data-figure="name">value< pair of an HTML report.
std::multimap<std::string, std::string> figures(const std::string& html) {
  std::multimap<std::string, std::string> out;
  const std::regex figure(R"re(data-figure="([^"]*)">([^<]*)<)re");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), figure); it != std::sregex_iterator(); ++it) {
    out.emplace((*it)[1].str(), (*it)[2].str());
  }
  return out;
}

std::string figure(const std::multimap<std::string, std::string>& all, const std::string& name) {
  const auto [first, last] = all.equal_range(name);
  if (first == last) return "<missing " + name + ">";
  for (auto it = first; it != last; ++it) {
    if (it->second != first->second) return "<disagrees " + name + ">";
  }
  return first->second;
}

TEST(ComplianceReportHtml, PrintsTheFiguresOfTheReport) {
  const auto report = build_compliance_report(inputs(), month_rows());
  const std::string html = render_html(report);
  const auto all = figures(html);
  EXPECT_EQ(figure(all, "month"), "2026-11");
  EXPECT_EQ(figure(all, "requests"), "11");
  EXPECT_EQ(figure(all, "requests_by_level.PUBLIC"), "0");
  EXPECT_EQ(figure(all, "requests_by_level.RESTRICTED"), "4");
  EXPECT_EQ(figure(all, "restricted.non_local"), "1");
  EXPECT_EQ(figure(all, "restricted.local"), "2");
  EXPECT_EQ(figure(all, "violations"), "1");
  EXPECT_EQ(figure(all, "egress_vetoes"), "1");
  EXPECT_EQ(figure(all, "egress_vetoes.sin.context"), "1");
  EXPECT_EQ(figure(all, "masked_entities.EMAIL_ADDRESS"), "2");
  EXPECT_EQ(figure(all, "incidents.anthropic:unavailable"), "1");
  EXPECT_EQ(figure(all, "providers.ollama.requests"), "5");
  EXPECT_EQ(figure(all, "spend.payments.spent_usd"), "$2.5");
  EXPECT_EQ(figure(all, "budget_rejections"), "2");
  EXPECT_EQ(figure(all, "chain.status"), "unavailable");
  EXPECT_THAT(html, HasSubstr("RESTRICTED data never leaves the local network."));
  EXPECT_THAT(html, HasSubstr("req_r_cloud"));
  EXPECT_THAT(html, HasSubstr("@media print"));
  EXPECT_THAT(html, HasSubstr("<svg"));
}

TEST(ComplianceReportHtml, IsSelfContainedAndEscapesEveryString) {
  ReportInputs in = inputs("<script>alert(1)</script>");
  in.providers.push_back(provider("p\"><img src=x onerror=alert(1)>", config::Locality::cloud, "EU"));
  in.budgets.push_back(TeamBudget{"<script>alert(1)</script>", Money::from_dollars(1), Money{}, 0});
  in.chain.error = "<b>down</b>";
  auto evil = restricted("req_<i>", "<script>alert(1)</script>", kNov + 1, "cloud", "x'<y");
  evil.entities = {{"<SIN>", 1}};
  const std::string html = render_html(build_compliance_report(in, {evil}));
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, Not(HasSubstr("<img")));
  EXPECT_THAT(html, Not(HasSubstr("<i>")));
  EXPECT_THAT(html, Not(HasSubstr("<b>down")));
  EXPECT_THAT(html, Not(HasSubstr("<SIN>")));
  EXPECT_THAT(html, HasSubstr("&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_THAT(html, Not(HasSubstr("sk-must-never-show")));
  // Nothing for a browser to fetch: no tag with a src or href attribute (the
  // escaped names inside attribute values aside), no @import or url(...).
  const std::string tags_only = std::regex_replace(html, std::regex(R"re("[^"]*")re"), "\"\"");
  EXPECT_FALSE(std::regex_search(tags_only, std::regex(R"re(<[A-Za-z][^>]*\s(src|href)=)re")));
  EXPECT_THAT(html, Not(HasSubstr("@import")));
  EXPECT_THAT(html, Not(HasSubstr("url(")));
  EXPECT_THAT(html, Not(HasSubstr("<link")));
}

TEST(EscapeHtml, EscapesMarkupAndDropsControlCharacters) {
  EXPECT_EQ(escape_html("a&b<c>d\"e'f"), "a&amp;b&lt;c&gt;d&quot;e&#39;f");
  const char raw[] = {'x', '\0', 'y', '\x01', 'z', '\t', 'w', '\n'};
  EXPECT_EQ(escape_html(std::string(raw, sizeof raw)), "xyz\tw\n");
}

TEST(ComplianceReportMarkdown, HasTheSameFiguresAsTables) {
  ReportInputs in = inputs();
  in.providers.push_back(provider("pipe|name", config::Locality::cloud, "EU"));
  const std::string md = render_markdown(build_compliance_report(in, month_rows()));
  EXPECT_THAT(md, HasSubstr("| RESTRICTED | 4 |"));
  EXPECT_THAT(md, HasSubstr("| **total** | 11 |"));
  EXPECT_THAT(md, HasSubstr("| sent off the local network (violations) | 1 |"));
  EXPECT_THAT(md, HasSubstr("| EMAIL_ADDRESS | 2 |"));
  EXPECT_THAT(md, HasSubstr("| sin.context | 1 |"));
  EXPECT_THAT(md, HasSubstr("| ollama | ollama | local | CA | 5 | 2 | 5 | 0 |"));
  EXPECT_THAT(md, HasSubstr("| payments | $2.5 | $10.0 | 25.0% | 7 | 1 |"));
  EXPECT_THAT(md, HasSubstr("| 2026-11-30 | 0 | 0 | 0 | 1 | 0 | 1 |"));
  EXPECT_THAT(md, HasSubstr("pipe\\|name"));
  EXPECT_THAT(md, Not(HasSubstr("sk-must-never-show")));
}

}  // namespace
}  // namespace aegis::report
