#include "privacy/invented.hpp"

#include <algorithm>

#include "privacy/mask.hpp"
#include "privacy/person.hpp"

namespace aegis::privacy {

namespace {

// Lower-case letters and digits only: "046-454-286" == "046 454 286", "John@X.com" == "john@x.com".
std::string normalise(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c >= 'A' && c <= 'Z') {
      out.push_back(static_cast<char>(c - 'A' + 'a'));
    } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || static_cast<unsigned char>(c) >= 0x80) {
      out.push_back(c);
    }
  }
  return out;
}

std::vector<std::string> words(std::string_view value) {
  std::vector<std::string> out;
  std::string current;
  for (char c : value) {
    const bool word = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || static_cast<unsigned char>(c) >= 0x80 ||
                      c == '\'' || c == '-';
    if (word) {
      current.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
    } else if (!current.empty()) {
      out.push_back(std::move(current));
      current.clear();
    }
  }
  if (!current.empty()) out.push_back(std::move(current));
  return out;
}

class Known {
 public:
  Known(const Vault& vault, std::string_view request) : request_(request) {
    for (const auto& e : vault.entries()) {
      if (e.type == kLiteralType) continue;
      values_.push_back(normalise(e.value));
      for (auto& w : words(e.value)) name_words_.push_back(std::move(w));
    }
    std::sort(name_words_.begin(), name_words_.end());
  }

  bool contains(std::string_view type, std::string_view value) const {
    if (!request_.empty() && request_.find(value) != std::string_view::npos) return true;
    const std::string n = normalise(value);
    if (!n.empty() && std::find(values_.begin(), values_.end(), n) != values_.end()) return true;
    if (type == kPersonType) {
      const auto ws = words(value);
      return !ws.empty() && std::all_of(ws.begin(), ws.end(), [&](const std::string& w) {
        return std::binary_search(name_words_.begin(), name_words_.end(), w);
      });
    }
    return false;
  }

 private:
  std::string_view request_;
  std::vector<std::string> values_;
  std::vector<std::string> name_words_;
};

}  // namespace

std::vector<std::string> InventedPiiReport::types_counted() const {
  std::vector<std::string> out;
  out.reserve(entities.size());
  for (const auto& e : entities) out.push_back(e.type);
  return out;
}

std::vector<std::string> InventedPiiReport::types() const {
  auto out = types_counted();
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

InventedPiiReport find_invented_pii(std::string_view answer, const std::vector<classify::Finding>& findings,
                                    const std::vector<classify::Finding>& persons, const Vault& vault,
                                    config::InventedPiiPolicy policy, std::string_view request_text) {
  InventedPiiReport report;
  const Known known(vault, request_text);
  std::vector<const classify::Finding*> all;
  all.reserve(findings.size() + persons.size());
  for (const auto& f : findings) all.push_back(&f);
  for (const auto& p : persons) {
    const bool overlaps = std::any_of(findings.begin(), findings.end(),
                                      [&](const classify::Finding& f) { return f.start < p.end && p.start < f.end; });
    if (!overlaps) all.push_back(&p);
  }
  std::sort(all.begin(), all.end(), [](const auto* a, const auto* b) { return a->start < b->start; });
  std::size_t last_end = 0;
  for (const auto* f : all) {
    if (f->start >= f->end || f->end > answer.size() || f->start < last_end) continue;
    if (known.contains(f->entity_type, answer.substr(f->start, f->end - f->start))) continue;
    report.entities.push_back({f->entity_type, f->start, f->end});
    last_end = f->end;
  }
  if (policy == config::InventedPiiPolicy::redact && !report.entities.empty()) {
    report.redacted = true;
    report.text.reserve(answer.size());
    std::size_t pos = 0;
    for (const auto& e : report.entities) {
      report.text.append(answer.substr(pos, e.start - pos));
      report.text.append("[REDACTED_").append(placeholder_prefix(e.type)).append("]");
      pos = e.end;
    }
    report.text.append(answer.substr(pos));
  } else {
    report.text = std::string(answer);
  }
  return report;
}

InventedPiiReport find_invented_pii(std::string_view answer, const classify::Classifier& classifier, const Vault& vault,
                                    config::InventedPiiPolicy policy, std::string_view request_text) {
  const auto classification = classifier.classify(answer);
  const auto persons = detect_persons(answer, classification.findings);
  return find_invented_pii(answer, classification.findings, persons, vault, policy, request_text);
}

}  // namespace aegis::privacy
