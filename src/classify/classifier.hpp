#pragma once
// Deterministic data classification in microseconds: every pattern in one
// Vectorscan database compiled once at start-up; validators (Luhn, mod-97,
// SIN rules, entropy, context words) run only where a pattern fired.
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "classify/finding.hpp"
#include "config/config.hpp"

namespace aegis::classify {

class Classifier {
 public:
  virtual ~Classifier() = default;
  // Thread-safe; per-thread scratch space is managed inside.
  virtual Classification classify(std::string_view text, const Marking& marking = {}) const = 0;
};

// Compiles the built-in rules plus configured custom recognizers (RE2-validated).
// Throws std::runtime_error at start-up on an invalid configuration; the
// message names the recognizer ("custom recognizer 'employee_id': invalid pattern: ...").
//
// Levels (Classification::level), most restrictive wins:
//   RESTRICTED   CREDIT_CARD, CA_SIN, BANK_ACCOUNT, IBAN_CODE
//   CONFIDENTIAL API_KEY, BEARER_TOKEN, JWT, PRIVATE_KEY; EMAIL_ADDRESS at an internal domain
//   INTERNAL     the default; EMAIL_ADDRESS elsewhere, PHONE_NUMBER, US_SSN, IP_ADDRESS, CA_POSTAL_CODE
//   PUBLIC       only when the content is marked public (Marking::explicit_public, or the first
//                non-blank line is exactly "[PUBLIC]" or "classification: public", any case)
//                and every finding is either at level PUBLIC (a custom recognizer) or a value that
//                is masked anyway before a provider sees it: an external EMAIL_ADDRESS, a
//                PHONE_NUMBER, an IP_ADDRESS (PERSON is detected outside the classifier). Any
//                RESTRICTED or CONFIDENTIAL finding raises a marked text as it would an unmarked
//                one; other INTERNAL findings (US_SSN, CA_POSTAL_CODE, custom INTERNAL types) keep
//                it INTERNAL. A marking never lowers a level below what was detected otherwise.
// Custom recognizers: a match counts only if its validator passes ("luhn" over the
// match's digits, "mod97" over its letters and digits) and, when context words are
// configured, one of them stands within 64 bytes before or after the match.
std::unique_ptr<Classifier> make_classifier(const config::ClassificationConfig& config);

// Why make_classifier refuses `pattern` as a custom recognizer's pattern ("invalid
// pattern: ..." from RE2, compiled as the classifier compiles it, or "pattern
// matches the empty string"); nothing when it is usable. `aegis config check`
// and `aegis serve` apply it while loading the config (cli/config_file.hpp),
// so the problem is reported at the pattern's file:line:col.
std::optional<std::string> custom_pattern_problem(const std::string& pattern);

// The text's own marking: its first non-blank line is "[PUBLIC]" or
// "classification: public" (any case, surrounding blanks ignored, the value may be quoted).
bool text_marked_public(std::string_view text) noexcept;

}  // namespace aegis::classify
