#pragma once
// Invented PII: PII in a model's answer that was not in the request. The
// restored answer is scanned (classifier + PERSON rules); a value counts as
// known when the vault holds it (compared ignoring case and punctuation, so
// "046-454-286" matches "046 454 286"; a PERSON also when each of its words
// belongs to a known name: "John" after "John Doe"), or when it appears in the
// request text verbatim. Everything else is invented: counted per entity type
// (the gateway increments aegis_pii_hallucinations_total{entity} for each
// entry of types_counted()) and, under the `redact` policy, replaced by
// [REDACTED_TYPE]. Values are never part of the report.
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "classify/classifier.hpp"
#include "classify/finding.hpp"
#include "config/config.hpp"
#include "privacy/vault.hpp"

namespace aegis::privacy {

struct InventedPii {
  std::string type;  // entity type
  std::size_t start = 0;  // in the scanned answer
  std::size_t end = 0;
};

struct InventedPiiReport {
  std::vector<InventedPii> entities;  // in text order
  // The answer to return: under `redact` every invented value is replaced by
  // "[REDACTED_<TYPE>]"; under `alert` the answer unchanged.
  std::string text;
  bool redacted = false;

  bool empty() const noexcept { return entities.empty(); }
  // One entry per invented value, in text order: the metric's increments.
  std::vector<std::string> types_counted() const;
  // Distinct types, sorted: for the audit row.
  std::vector<std::string> types() const;
};

// `findings`: the classifier's findings on `answer`; `persons`: detect_persons(answer, findings).
// `request_text`: the original (unmasked) request, or empty.
InventedPiiReport find_invented_pii(std::string_view answer, const std::vector<classify::Finding>& findings,
                                    const std::vector<classify::Finding>& persons, const Vault& vault,
                                    config::InventedPiiPolicy policy, std::string_view request_text = {});

// The same, detecting with `classifier` and the PERSON rules.
InventedPiiReport find_invented_pii(std::string_view answer, const classify::Classifier& classifier, const Vault& vault,
                                    config::InventedPiiPolicy policy, std::string_view request_text = {});

}  // namespace aegis::privacy
