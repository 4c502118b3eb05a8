#include "report/render.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <sstream>

#include "core/time_format.hpp"

namespace aegis::report {

namespace {

constexpr std::array<const char*, 12> kMonthNames{"January",   "February", "March",    "April",
                                                  "May",       "June",     "July",     "August",
                                                  "September", "October",  "November", "December"};

// One colour per level, PUBLIC to RESTRICTED; RESTRICTED is the one to notice.
constexpr std::array<const char*, 4> kLevelColours{"#9ecae1", "#4292c6", "#f2a541", "#b2182b"};
constexpr const char* kLocalColour = "#1b7837";
constexpr const char* kNonLocalColour = "#d7301f";

// What each level means, for a reader who has never seen Aegis.
constexpr std::array<const char*, 4> kLevelMeaning{
    "nothing sensitive found",
    "internal business content (the default when nothing else applies)",
    "personal information such as names, e-mail addresses or phone numbers: it may go to a cloud provider only "
    "with those values masked",
    "regulated identifiers such as a Social Insurance Number or a payment card number: it may only be processed by "
    "a provider on the local network",
};

std::string month_title(const ReportMonth& month) {
  const int index = std::stoi(month.text.substr(5, 2)) - 1;
  return std::string(kMonthNames[static_cast<std::size_t>(index)]) + " " + month.text.substr(0, 4);
}

std::string usd(Money money) { return "$" + money.to_usd_string(); }

std::string num(std::int64_t value) { return std::to_string(value); }

std::string fixed(double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

// A round axis maximum at or above value: 1, 2, 5, 10, 20, 50, ...
std::int64_t nice_ceiling(std::int64_t value) {
  std::int64_t step = 1;
  while (true) {
    for (const std::int64_t m : {1, 2, 5}) {
      if (step * m >= value) return step * m;
    }
    step *= 10;
  }
}

std::string scope_text(const ComplianceReport& report) {
  return report.team ? "team " + *report.team : std::string("all teams");
}

std::string chain_sentence(const ChainSection& chain) {
  if (chain.status == "intact") {
    return "The audit trail for the month verifies: every record links to the one before it and every signed "
           "checkpoint matches.";
  }
  if (chain.status == "unsigned_tail") {
    return "The audit trail for the month verifies; its newest records are not yet sealed by a signed checkpoint "
           "(they will be at the next checkpoint).";
  }
  if (chain.status == "tampered") {
    return "The audit trail for the month does NOT verify: records were changed, removed or reordered after they "
           "were written, or a checkpoint's signature fails. See the findings below.";
  }
  return "The audit trail could not be verified when this report was made: " +
         (chain.error.empty() ? std::string("no reason given") : chain.error) + ".";
}

// ---------------------------------------------------------------- HTML

class Html {
 public:
  Html& raw(std::string_view text) {
    out_.append(text);
    return *this;
  }
  Html& text(std::string_view text) {
    out_.append(escape_html(text));
    return *this;
  }
  // A figure a reader (or a test) can find again: <span data-figure="name">value</span>.
  Html& figure(std::string_view name, std::string_view value, std::string_view tag = "span") {
    out_.append("<").append(tag).append(" class=\"figure\" data-figure=\"").append(escape_html(name)).append("\">");
    out_.append(escape_html(value)).append("</").append(tag).append(">");
    return *this;
  }
  Html& cell_figure(std::string_view name, std::string_view value) {
    out_.append("<td class=\"num\" data-figure=\"").append(escape_html(name)).append("\">");
    out_.append(escape_html(value)).append("</td>");
    return *this;
  }
  Html& cell(std::string_view value, std::string_view css_class = "") {
    out_.append(css_class.empty() ? "<td>" : "<td class=\"" + std::string(css_class) + "\">");
    out_.append(escape_html(value)).append("</td>");
    return *this;
  }
  Html& header_row(std::initializer_list<std::string_view> names) {
    out_.append("<thead><tr>");
    for (const auto name : names) out_.append("<th>").append(escape_html(name)).append("</th>");
    out_.append("</tr></thead>");
    return *this;
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

struct Series {
  std::string name;
  const char* colour;
  std::function<std::int64_t(const DayMix&)> value;
};

// Stacked bars, one per day of the month, with the total on hover (<title>).
std::string stacked_days_svg(std::string_view label, const std::vector<DayMix>& days,
                             const std::vector<Series>& series) {
  constexpr double kWidth = 760, kHeight = 260, kLeft = 48, kRight = 12, kTop = 14, kBottom = 52;
  const double plot_w = kWidth - kLeft - kRight, plot_h = kHeight - kTop - kBottom;
  std::int64_t peak = 0;
  for (const auto& day : days) {
    std::int64_t total = 0;
    for (const auto& s : series) total += s.value(day);
    peak = std::max(peak, total);
  }
  const std::int64_t axis_max = nice_ceiling(std::max<std::int64_t>(peak, 1));
  const double slot = days.empty() ? plot_w : plot_w / static_cast<double>(days.size());
  const double bar = slot * 0.78;

  std::ostringstream svg;
  svg << "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " << kWidth << " " << kHeight
      << "\" role=\"img\" aria-label=\"" << escape_html(label) << "\">";
  svg << "<title>" << escape_html(label) << "</title>";
  // Whole-number gridlines: 1, 2 or 5 steps up to 5, then fifths or quarters.
  const std::int64_t ticks = axis_max <= 5 ? axis_max : axis_max % 4 == 0 ? 4 : 5;
  for (std::int64_t tick = 0; tick <= ticks; ++tick) {
    const double value = static_cast<double>(axis_max * tick) / static_cast<double>(ticks);
    const double y = kTop + plot_h - plot_h * static_cast<double>(tick) / static_cast<double>(ticks);
    svg << "<line x1=\"" << kLeft << "\" x2=\"" << kWidth - kRight << "\" y1=\"" << fixed(y, 1) << "\" y2=\""
        << fixed(y, 1) << "\" stroke=\"#ddd\" stroke-width=\"1\"/>";
    svg << "<text x=\"" << kLeft - 6 << "\" y=\"" << fixed(y + 4, 1)
        << "\" text-anchor=\"end\" font-size=\"11\" fill=\"#555\">"
        << (std::floor(value) == value ? num(static_cast<std::int64_t>(value)) : fixed(value, 1)) << "</text>";
  }
  for (std::size_t i = 0; i < days.size(); ++i) {
    const DayMix& day = days[i];
    const double x = kLeft + slot * static_cast<double>(i) + (slot - bar) / 2;
    double y = kTop + plot_h;
    std::string tip = day.date;
    for (const auto& s : series) {
      const std::int64_t v = s.value(day);
      tip += "\n" + s.name + ": " + num(v);
      if (v == 0) continue;
      const double h = plot_h * static_cast<double>(v) / static_cast<double>(axis_max);
      y -= h;
      svg << "<rect x=\"" << fixed(x, 2) << "\" y=\"" << fixed(y, 2) << "\" width=\"" << fixed(bar, 2) << "\" height=\""
          << fixed(h, 2) << "\" fill=\"" << s.colour << "\"/>";
    }
    // An invisible full-height target that carries the day's figures on hover.
    svg << "<rect x=\"" << fixed(x, 2) << "\" y=\"" << kTop << "\" width=\"" << fixed(bar, 2) << "\" height=\""
        << plot_h << "\" fill=\"transparent\"><title>" << escape_html(tip) << "</title></rect>";
    const int day_of_month = static_cast<int>(i) + 1;
    if (day_of_month == 1 || day_of_month % 5 == 0) {
      svg << "<text x=\"" << fixed(x + bar / 2, 2) << "\" y=\"" << kTop + plot_h + 14
          << "\" text-anchor=\"middle\" font-size=\"11\" fill=\"#555\">" << day_of_month << "</text>";
    }
  }
  svg << "<line x1=\"" << kLeft << "\" x2=\"" << kWidth - kRight << "\" y1=\"" << kTop + plot_h << "\" y2=\""
      << kTop + plot_h << "\" stroke=\"#888\"/>";
  double legend_x = kLeft;
  const double legend_y = kHeight - 14;
  for (const auto& s : series) {
    svg << "<rect x=\"" << legend_x << "\" y=\"" << legend_y - 10 << "\" width=\"12\" height=\"12\" fill=\"" << s.colour
        << "\"/>";
    svg << "<text x=\"" << legend_x + 16 << "\" y=\"" << legend_y << "\" font-size=\"12\" fill=\"#222\">"
        << escape_html(s.name) << "</text>";
    legend_x += 28 + 7.5 * static_cast<double>(s.name.size());
  }
  svg << "<text x=\"" << kWidth - kRight << "\" y=\"" << legend_y
      << "\" text-anchor=\"end\" font-size=\"11\" fill=\"#555\">day of the month (UTC)</text>";
  svg << "</svg>";
  return svg.str();
}

// One horizontal bar per team: the cap as an outlined track, the spend filled
// over it (red once it reaches the cap).
std::string spend_svg(const std::vector<TeamBudget>& teams) {
  constexpr double kWidth = 760, kLabel = 170, kRightText = 230, kRow = 30, kTop = 8;
  const double track = kWidth - kLabel - kRightText;
  std::int64_t scale = 1;
  for (const auto& t : teams) scale = std::max({scale, t.cap ? t.cap->micros : 0, t.spent.micros});
  const double height = kTop * 2 + kRow * static_cast<double>(std::max<std::size_t>(teams.size(), 1));

  std::ostringstream svg;
  svg << "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " << kWidth << " " << height
      << "\" role=\"img\" aria-label=\"Spend per team against its monthly cap\">";
  svg << "<title>Spend per team against its monthly cap</title>";
  if (teams.empty()) {
    svg << "<text x=\"10\" y=\"" << kTop + 18 << "\" font-size=\"13\" fill=\"#555\">No team in scope.</text>";
  }
  for (std::size_t i = 0; i < teams.size(); ++i) {
    const TeamBudget& t = teams[i];
    const double y = kTop + kRow * static_cast<double>(i);
    const double cap_w = t.cap ? track * static_cast<double>(t.cap->micros) / static_cast<double>(scale) : 0;
    const double spent_w = track * static_cast<double>(t.spent.micros) / static_cast<double>(scale);
    const bool over = t.cap && t.spent.micros >= t.cap->micros && t.spent.micros > 0;
    svg << "<text x=\"" << kLabel - 8 << "\" y=\"" << y + 17 << "\" text-anchor=\"end\" font-size=\"12\" fill=\"#222\">"
        << escape_html(t.team.size() > 24 ? t.team.substr(0, 23) + "…" : t.team) << "</text>";
    if (t.cap) {
      svg << "<rect x=\"" << kLabel << "\" y=\"" << y + 5 << "\" width=\"" << fixed(std::max(cap_w, 1.0), 2)
          << "\" height=\"16\" fill=\"#f0f0f0\" stroke=\"#999\"/>";
    }
    svg << "<rect x=\"" << kLabel << "\" y=\"" << y + 8 << "\" width=\"" << fixed(spent_w, 2)
        << "\" height=\"10\" fill=\"" << (over ? kNonLocalColour : "#2166ac") << "\"/>";
    std::string label = usd(t.spent) + " of " + (t.cap ? usd(*t.cap) : std::string("no cap on record"));
    if (t.cap && t.cap->micros > 0) {
      label += " (" + fixed(100.0 * static_cast<double>(t.spent.micros) / static_cast<double>(t.cap->micros), 1) + "%)";
    }
    svg << "<text x=\"" << kWidth - kRightText + 8 << "\" y=\"" << y + 17 << "\" font-size=\"12\" fill=\"#222\">"
        << escape_html(label) << "</text>";
  }
  svg << "</svg>";
  return svg.str();
}

constexpr std::string_view kCss = R"css(
:root { color-scheme: light; }
body { font-family: "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; color: #1a1a1a; margin: 0 auto;
       max-width: 60rem; padding: 1.5rem 2rem 3rem; line-height: 1.45; font-size: 15px; background: #fff; }
h1 { font-size: 1.7rem; margin: 0 0 .2rem; }
h2 { font-size: 1.25rem; margin: 2rem 0 .4rem; border-bottom: 2px solid #e4e4e4; padding-bottom: .2rem; }
.meta { color: #555; margin: 0 0 1rem; }
.explain { color: #444; margin: .2rem 0 .8rem; }
.verdict { border-radius: 6px; padding: 1rem 1.2rem; margin: 1rem 0 1.4rem; border: 2px solid; }
.verdict.ok { border-color: #1b7837; background: #eef7ee; }
.verdict.bad { border-color: #d7301f; background: #fdeeee; }
.verdict p { margin: .3rem 0; }
.verdict .big { font-size: 1.3rem; font-weight: bold; }
.kpis { display: flex; flex-wrap: wrap; gap: .8rem; margin: .6rem 0; }
.kpi { border: 1px solid #ddd; border-radius: 6px; padding: .5rem .8rem; min-width: 9rem; }
.kpi .figure { display: block; font-size: 1.5rem; font-weight: bold; }
.kpi .label { color: #555; font-size: .85rem; }
table { border-collapse: collapse; margin: .4rem 0 1rem; min-width: 50%; }
th, td { border: 1px solid #d8d8d8; padding: .3rem .6rem; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.swatch { display: inline-block; width: .8rem; height: .8rem; margin-right: .4rem; vertical-align: -1px; }
.chart { width: 100%; height: auto; max-width: 760px; display: block; margin: .4rem 0 1rem; }
.none { color: #1b7837; font-weight: bold; }
.alert { color: #d7301f; font-weight: bold; }
code { font-family: "DejaVu Sans Mono", monospace; font-size: .9em; }
footer { margin-top: 2.5rem; color: #666; font-size: .85rem; border-top: 1px solid #e4e4e4; padding-top: .6rem; }
@page { size: A4; margin: 14mm 12mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 11pt; }
  h2 { break-after: avoid; page-break-after: avoid; }
  section { break-inside: avoid; page-break-inside: avoid; }
  section.page { break-before: page; page-break-before: always; }
  .chart { max-width: 100%; }
  .verdict, .kpi, th { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  a { color: inherit; text-decoration: none; }
}
)css";

void counts_table(Html& h, std::string_view first_column, std::string_view figure_prefix,
                  const std::map<std::string, std::int64_t>& counts, std::string_view empty_text) {
  if (counts.empty()) {
    h.raw("<p class=\"none\">").text(empty_text).raw("</p>");
    return;
  }
  h.raw("<table>").header_row({first_column, "count"}).raw("<tbody>");
  for (const auto& [name, count] : counts) {
    h.raw("<tr>").cell(name).cell_figure(std::string(figure_prefix) + name, num(count)).raw("</tr>");
  }
  h.raw("</tbody></table>");
}

}  // namespace

std::string escape_html(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') break;
        out += c;
    }
  }
  return out;
}

std::string render_html(const ComplianceReport& report) {
  Html h;
  const std::string title = "Compliance report, " + month_title(report.month) + " (" + scope_text(report) + ")";
  h.raw("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
  h.raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
  h.raw("<title>").text("Aegis " + title).raw("</title><style>").raw(kCss).raw("</style></head><body>\n");

  h.raw("<header><h1>")
      .text(title)
      .raw("</h1><p class=\"meta\">Month <span data-figure=\"month\">")
      .text(report.month.text)
      .raw("</span>: records from ")
      .text(format_rfc3339_ms(report.month.since_ms))
      .raw(" up to ")
      .text(format_rfc3339_ms(report.month.until_ms))
      .raw(" (UTC). Generated ")
      .text(format_rfc3339_ms(report.generated_at_ms))
      .raw(".</p></header>\n");

  // The verdict first: what an officer asks before anything else.
  const bool holds = report.invariant_holds();
  h.raw("<section><div class=\"verdict ").raw(holds ? "ok" : "bad").raw("\">");
  h.raw("<p class=\"big\">")
      .text(holds ? "RESTRICTED data stayed on the local network this month."
                  : "RESTRICTED data left the local network this month.")
      .raw("</p>");
  h.raw(
       "<p>The rule this gateway enforces: <strong>RESTRICTED data never leaves the local network.</strong> "
       "Violations of it are expected to be 0; this month there ")
      .raw(report.restricted.non_local == 1 ? "was " : "were ")
      .figure("restricted.non_local", num(report.restricted.non_local))
      .raw(".</p>");
  h.raw("<p>").text(chain_sentence(report.chain)).raw("</p></div></section>\n");

  h.raw(
      "<section><h2>What this report covers</h2><p class=\"explain\">Aegis is the gateway through which this "
      "organisation's applications reach AI models. Before a request leaves, Aegis reads it, classifies it by "
      "the most sensitive information it contains, masks personal details before any cloud provider sees "
      "them, and sends RESTRICTED requests only to models running on the organisation's own network. It writes "
      "one audit record per request: never the text itself, only what was found (kinds of information and how "
      "many), where the request went, what it cost and what went wrong. Every figure below is counted from "
      "those records for the month.</p>");
  h.raw("<table>").header_row({"level", "meaning"}).raw("<tbody>");
  for (const Level level : kLevels) {
    const auto i = static_cast<std::size_t>(level);
    h.raw("<tr><td><span class=\"swatch\" style=\"background:").raw(kLevelColours[i]).raw("\"></span>");
    h.text(to_string(level)).raw("</td>").cell(kLevelMeaning[i]).raw("</tr>");
  }
  h.raw("</tbody></table></section>\n");

  h.raw(
      "<section><h2>Requests by classification</h2><p class=\"explain\">How many requests of each level the "
      "gateway handled, and through which interface (surface) they came.</p>");
  h.raw("<div class=\"kpis\"><div class=\"kpi\">").figure("requests", num(report.requests));
  h.raw("<span class=\"label\">requests in total</span></div>");
  for (const Level level : kLevels) {
    h.raw("<div class=\"kpi\">")
        .figure("requests_by_level." + std::string(to_string(level)),
                num(report.requests_by_level[static_cast<std::size_t>(level)]));
    h.raw("<span class=\"label\">").text(to_string(level)).raw("</span></div>");
  }
  h.raw("</div>");
  counts_table(h, "surface", "requests_by_surface.", report.requests_by_surface, "No request this month.");
  h.raw(
      "<p class=\"explain\">Administrators' actions on record (key changes, breach register updates) are "
      "not requests and are counted apart:</p>");
  counts_table(h, "administrative action", "admin_actions.", report.admin_actions, "None this month.");
  h.raw("</section>\n");

  h.raw(
      "<section><h2>Classification mix per day</h2><p class=\"explain\">Requests per day, each bar split by "
      "level.</p>");
  std::vector<Series> levels;
  for (const Level level : kLevels) {
    const auto i = static_cast<std::size_t>(level);
    levels.push_back({std::string(to_string(level)), kLevelColours[i], [i](const DayMix& d) { return d.by_level[i]; }});
  }
  h.raw(stacked_days_svg("Requests per day by classification level", report.daily, levels));
  h.raw("</section>\n");

  h.raw(
      "<section class=\"page\"><h2>RESTRICTED requests and where they ran</h2><p class=\"explain\">Every "
      "RESTRICTED request must be answered by a provider on the local network. \"Not sent\" requests were "
      "refused or failed before any provider received them (for example a budget refusal).</p>");
  h.raw("<table>").header_row({"RESTRICTED requests", "count"}).raw("<tbody>");
  h.raw("<tr>").cell("total").cell_figure("restricted.total", num(report.restricted.total)).raw("</tr>");
  h.raw("<tr>").cell("ran on a local provider").cell_figure("restricted.local", num(report.restricted.local));
  h.raw("</tr><tr>").cell("sent off the local network (violations)");
  h.cell_figure("restricted.non_local", num(report.restricted.non_local));
  h.raw("</tr><tr>").cell("not sent").cell_figure("restricted.not_sent", num(report.restricted.not_sent));
  h.raw("</tr></tbody></table>");
  h.raw(stacked_days_svg(
      "RESTRICTED requests per day: local or not", report.daily,
      {{"local", kLocalColour, [](const DayMix& d) { return d.restricted_local; }},
       {"off the local network", kNonLocalColour, [](const DayMix& d) { return d.restricted_non_local; }}}));
  h.raw("</section>\n");

  h.raw(
      "<section><h2>Violations</h2><p class=\"explain\">RESTRICTED requests that reached a provider outside "
      "the local network. Expected: none. Each one is listed with the kinds of information it held (never the "
      "values).</p>");
  if (report.violations.empty()) {
    h.raw("<p class=\"none\">None: <span data-figure=\"violations\">0</span> violations.</p>");
  } else {
    h.raw("<p class=\"alert\"><span data-figure=\"violations\">").text(num(report.restricted.non_local));
    h.raw("</span> violations")
        .raw(report.restricted.non_local > static_cast<std::int64_t>(report.violations.size())
                 ? " (the first " + num(static_cast<std::int64_t>(report.violations.size())) + " listed)"
                 : "");
    h.raw(".</p><table>")
        .header_row({"time (UTC)", "request id", "team", "key id", "provider", "model", "information found"})
        .raw("<tbody>");
    for (const auto& v : report.violations) {
      std::string entities;
      for (const auto& [type, count] : v.entities)
        entities += (entities.empty() ? "" : ", ") + type + " ×" + num(count);
      h.raw("<tr>").cell(format_rfc3339_ms(v.time_ms)).cell(v.request_id).cell(v.team).cell(v.key_id);
      h.cell(v.provider).cell(v.model).cell(entities.empty() ? "—" : entities).raw("</tr>");
    }
    h.raw("</tbody></table>");
  }
  h.raw("</section>\n");

  h.raw(
      "<section><h2>Egress vetoes and blocked sends</h2><p class=\"explain\">A second, independent detector "
      "re-reads every request just before it would leave for a cloud provider. A <em>veto</em> means it found "
      "something the first classifier missed: the request was not sent to the cloud and ran on a local provider "
      "instead. A <em>blocked send</em> was refused outright (nothing left).</p>");
  h.raw("<div class=\"kpis\"><div class=\"kpi\">").figure("egress_vetoes", num(report.egress_vetoes));
  h.raw("<span class=\"label\">egress vetoes</span></div><div class=\"kpi\">");
  h.figure("blocked_sends", num(report.blocked_sends)).raw("<span class=\"label\">blocked sends</span></div></div>");
  counts_table(h, "veto rule", "egress_vetoes.", report.vetoes_by_rule, "No veto this month.");
  h.raw("</section>\n");

  h.raw(
      "<section><h2>Masked personal information</h2><p class=\"explain\">Personal details found in requests "
      "that went to a cloud provider were replaced by placeholders before sending, and restored in the answer. "
      "Below: the kinds of information in those requests. <em>Invented PII</em> counts answers in which a model "
      "produced personal details that the request did not contain.</p>");
  h.raw("<div class=\"kpis\"><div class=\"kpi\">").figure("masking.requests", num(report.masked_requests));
  h.raw("<span class=\"label\">requests masked</span></div><div class=\"kpi\">");
  h.figure("masking.values", num(report.masked_values)).raw("<span class=\"label\">values masked</span></div>");
  h.raw("<div class=\"kpi\">").figure("invented_pii", num(report.invented_pii));
  h.raw("<span class=\"label\">invented-PII detections</span></div></div>");
  counts_table(h, "kind of information", "masked_entities.", report.masked_entities, "Nothing was masked.");
  h.raw("</section>\n");

  h.raw(
      "<section class=\"page\"><h2>Providers</h2><p class=\"explain\">The AI providers configured, whether each "
      "runs on the local network or in the cloud, where it keeps data (residency, as declared in the gateway's "
      "configuration), and how many requests it handled.</p>");
  h.raw("<table>")
      .header_row({"provider", "type", "network", "residency", "requests", "RESTRICTED", "sent local", "sent cloud"})
      .raw("<tbody>");
  for (const auto& p : report.providers) {
    h.raw("<tr>").cell(p.name).cell(p.configured ? p.type : "not in the configuration");
    h.cell(p.locality.empty() ? "unknown" : p.locality).cell(p.residency);
    h.cell_figure("providers." + p.name + ".requests", num(p.requests));
    h.cell_figure("providers." + p.name + ".restricted", num(p.restricted));
    h.cell_figure("providers." + p.name + ".sent_local", num(p.sent_local));
    h.cell_figure("providers." + p.name + ".sent_cloud", num(p.sent_cloud)).raw("</tr>");
  }
  h.raw("</tbody></table></section>\n");

  h.raw(
      "<section><h2>Fallback and circuit-breaker incidents</h2><p class=\"explain\">When a provider fails or is "
      "temporarily switched off by its circuit breaker, the gateway tries the next one allowed for the data. "
      "Each failed or skipped attempt is counted here as provider: outcome.</p>");
  h.raw("<div class=\"kpis\"><div class=\"kpi\">").figure("incidents.requests", num(report.incident_requests));
  h.raw("<span class=\"label\">requests with an incident</span></div><div class=\"kpi\">");
  h.figure("incidents.breaker_open", num(report.breaker_open_steps));
  h.raw("<span class=\"label\">attempts skipped, breaker open</span></div></div>");
  counts_table(h, "provider: outcome", "incidents.", report.incidents, "No incident this month.");
  h.raw("</section>\n");

  h.raw(
      "<section><h2>Budgets</h2><p class=\"explain\">Each team has a monthly spending cap; a request that would "
      "exceed it is refused (HTTP 402). Spend is what the month's answered requests cost; the cap shown is the "
      "team's cap today.</p>");
  h.raw("<div class=\"kpis\"><div class=\"kpi\">").figure("budget_rejections", num(report.budget_rejections));
  h.raw("<span class=\"label\">budget refusals</span></div></div>");
  h.raw(spend_svg(report.spend));
  if (!report.spend.empty()) {
    h.raw("<table>").header_row({"team", "spent", "cap", "requests", "refused"}).raw("<tbody>");
    for (const auto& t : report.spend) {
      const auto refused = report.budget_rejections_by_team.find(t.team);
      h.raw("<tr>").cell(t.team).cell_figure("spend." + t.team + ".spent_usd", usd(t.spent));
      h.cell(t.cap ? usd(*t.cap) : "—", "num").cell_figure("spend." + t.team + ".requests", num(t.requests));
      h.cell_figure("budget_rejections." + t.team,
                    num(refused == report.budget_rejections_by_team.end() ? 0 : refused->second))
          .raw("</tr>");
    }
    h.raw("</tbody></table>");
  }
  h.raw("</section>\n");

  const ChainSection& chain = report.chain;
  h.raw(
      "<section><h2>Integrity of the audit trail</h2><p class=\"explain\">Each audit record carries a "
      "fingerprint (SHA-256) of the record before it, and the newest fingerprint is periodically sealed with the "
      "gateway's signing key in a <em>checkpoint</em>. Editing, deleting or reordering a record afterwards breaks "
      "the chain, which the verification below would report.</p>");
  h.raw("<p>Result: <strong>").figure("chain.status", chain.status).raw("</strong>. ").text(chain_sentence(chain));
  h.raw("</p><table><tbody><tr>").cell("chains verified").cell_figure("chain.chains", num(chain.chains));
  h.raw("</tr><tr>").cell("records verified").cell_figure("chain.rows", num(chain.rows));
  std::string ids;
  for (const auto id : chain.checkpoint_ids) ids += (ids.empty() ? "" : ", ") + num(id);
  h.raw("</tr><tr>")
      .cell("checkpoints covering the month")
      .cell_figure("chain.checkpoint_ids", ids.empty() ? "none" : ids);
  h.raw("</tr></tbody></table>");
  if (!chain.findings.empty()) {
    h.raw("<table>").header_row({"finding", "chain", "record", "checkpoint", "detail"}).raw("<tbody>");
    for (const auto& f : chain.findings) {
      h.raw("<tr>").cell(f.kind).cell(f.chain_id).cell(num(f.seq), "num").cell(num(f.checkpoint_id), "num");
      h.cell(f.message).raw("</tr>");
    }
    h.raw("</tbody></table>");
  }
  h.raw("</section>\n");

  h.raw(
       "<footer>Counted from the audit records whose time falls in the month (UTC): one record per request, "
       "written by the gateway as it answered. The same figures are available as JSON from "
       "<code>GET /admin/v1/reports/compliance?month=")
      .text(report.month.text)
      .raw("</code> and <code>aegis report compliance --format json</code>.</footer>\n</body></html>\n");
  return h.take();
}

// ---------------------------------------------------------------- Markdown

namespace {

// A table cell: pipes and line breaks would end the cell or the row.
std::string md_cell(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n' || c == '\r') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

void md_counts(std::ostringstream& md, std::string_view first_column, const std::map<std::string, std::int64_t>& counts,
               std::string_view empty_text) {
  if (counts.empty()) {
    md << empty_text << "\n\n";
    return;
  }
  md << "| " << first_column << " | count |\n|---|---:|\n";
  for (const auto& [name, count] : counts) md << "| " << md_cell(name) << " | " << count << " |\n";
  md << "\n";
}

}  // namespace

std::string render_markdown(const ComplianceReport& report) {
  std::ostringstream md;
  md << "# Compliance report, " << month_title(report.month) << " (" << md_cell(scope_text(report)) << ")\n\n";
  md << "Records from " << format_rfc3339_ms(report.month.since_ms) << " up to "
     << format_rfc3339_ms(report.month.until_ms) << " (UTC). Generated " << format_rfc3339_ms(report.generated_at_ms)
     << ".\n\n";
  md << "**RESTRICTED data never leaves the local network.** Violations this month: " << report.restricted.non_local
     << " (expected 0): " << (report.invariant_holds() ? "the rule held." : "**the rule was broken.**") << "\n\n";
  md << chain_sentence(report.chain) << "\n\n";

  md << "## Requests by classification\n\n| level | requests |\n|---|---:|\n";
  for (const Level level : kLevels) {
    md << "| " << to_string(level) << " | " << report.requests_by_level[static_cast<std::size_t>(level)] << " |\n";
  }
  md << "| **total** | " << report.requests << " |\n\n";
  md_counts(md, "surface", report.requests_by_surface, "No request this month.");
  md << "Administrators' actions on record (not requests):\n\n";
  md_counts(md, "administrative action", report.admin_actions, "None this month.");

  md << "## Classification mix per day\n\n| date | PUBLIC | INTERNAL | CONFIDENTIAL | RESTRICTED | RESTRICTED local "
        "| RESTRICTED off the local network |\n|---|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& day : report.daily) {
    md << "| " << day.date;
    for (const auto count : day.by_level) md << " | " << count;
    md << " | " << day.restricted_local << " | " << day.restricted_non_local << " |\n";
  }
  md << "\n## RESTRICTED requests and where they ran\n\n| RESTRICTED requests | count |\n|---|---:|\n";
  md << "| total | " << report.restricted.total << " |\n| ran on a local provider | " << report.restricted.local
     << " |\n| sent off the local network (violations) | " << report.restricted.non_local << " |\n| not sent | "
     << report.restricted.not_sent << " |\n\n";

  md << "## Violations\n\n";
  if (report.violations.empty()) {
    md << "None.\n\n";
  } else {
    md << "| time (UTC) | request id | team | key id | provider | model | information found |\n"
          "|---|---|---|---|---|---|---|\n";
    for (const auto& v : report.violations) {
      std::string entities;
      for (const auto& [type, count] : v.entities)
        entities += (entities.empty() ? "" : ", ") + type + " ×" + num(count);
      md << "| " << format_rfc3339_ms(v.time_ms) << " | " << md_cell(v.request_id) << " | " << md_cell(v.team) << " | "
         << md_cell(v.key_id) << " | " << md_cell(v.provider) << " | " << md_cell(v.model) << " | " << md_cell(entities)
         << " |\n";
    }
    md << "\n";
  }

  md << "## Egress vetoes and blocked sends\n\nEgress vetoes: " << report.egress_vetoes
     << ". Blocked sends: " << report.blocked_sends << ".\n\n";
  md_counts(md, "veto rule", report.vetoes_by_rule, "No veto this month.");

  md << "## Masked personal information\n\nRequests masked: " << report.masked_requests
     << ". Values masked: " << report.masked_values << ". Invented-PII detections: " << report.invented_pii << ".\n\n";
  md_counts(md, "kind of information", report.masked_entities, "Nothing was masked.");

  md << "## Providers\n\n| provider | type | network | residency | requests | RESTRICTED | sent local | sent cloud "
        "|\n|---|---|---|---|---:|---:|---:|---:|\n";
  for (const auto& p : report.providers) {
    md << "| " << md_cell(p.name) << " | " << md_cell(p.configured ? p.type : "not in the configuration") << " | "
       << (p.locality.empty() ? "unknown" : p.locality) << " | " << md_cell(p.residency) << " | " << p.requests << " | "
       << p.restricted << " | " << p.sent_local << " | " << p.sent_cloud << " |\n";
  }
  md << "\n## Fallback and circuit-breaker incidents\n\nRequests with an incident: " << report.incident_requests
     << ". Attempts skipped with the breaker open: " << report.breaker_open_steps << ".\n\n";
  md_counts(md, "provider: outcome", report.incidents, "No incident this month.");

  md << "## Budgets\n\nBudget refusals: " << report.budget_rejections << ".\n\n";
  if (!report.spend.empty()) {
    md << "| team | spent | cap | share of cap | requests | refused |\n|---|---:|---:|---:|---:|---:|\n";
    for (const auto& t : report.spend) {
      const auto refused = report.budget_rejections_by_team.find(t.team);
      md << "| " << md_cell(t.team) << " | " << usd(t.spent) << " | " << (t.cap ? usd(*t.cap) : "—") << " | "
         << (t.cap && t.cap->micros > 0
                 ? fixed(100.0 * static_cast<double>(t.spent.micros) / static_cast<double>(t.cap->micros), 1) + "%"
                 : "—")
         << " | " << t.requests << " | " << (refused == report.budget_rejections_by_team.end() ? 0 : refused->second)
         << " |\n";
    }
    md << "\n";
  }

  const ChainSection& chain = report.chain;
  std::string ids;
  for (const auto id : chain.checkpoint_ids) ids += (ids.empty() ? "" : ", ") + num(id);
  md << "## Integrity of the audit trail\n\nResult: **" << chain.status << "**. Chains verified: " << chain.chains
     << ". Records verified: " << chain.rows << ". Checkpoints covering the month: " << (ids.empty() ? "none" : ids)
     << ".\n\n";
  if (!chain.findings.empty()) {
    md << "| finding | chain | record | checkpoint | detail |\n|---|---|---:|---:|---|\n";
    for (const auto& f : chain.findings) {
      md << "| " << md_cell(f.kind) << " | " << md_cell(f.chain_id) << " | " << f.seq << " | " << f.checkpoint_id
         << " | " << md_cell(f.message) << " |\n";
    }
    md << "\n";
  }
  return md.str();
}

}  // namespace aegis::report
