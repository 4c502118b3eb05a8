#pragma once
// The compliance report for people: one self-contained HTML file (inline CSS
// and SVG charts, no external resource, print CSS) and Markdown with the same
// figures as tables. Every string from the rows or the configuration is
// escaped. Each figure in the HTML carries data-figure="<name>" so a test (or
// an auditor's script) can read the printed numbers back.
#include <string>

#include "report/compliance_report.hpp"

namespace aegis::report {

std::string render_html(const ComplianceReport& report);
std::string render_markdown(const ComplianceReport& report);

// For the renderers and their tests: HTML text and attribute escaping of
// & < > " ' (and NUL and other C0 controls but tab and newline, dropped).
std::string escape_html(std::string_view text);

}  // namespace aegis::report
