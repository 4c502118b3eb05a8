// libFuzzer target: the classifier on arbitrary bytes. It must not crash (ASan
// and UBSan abort on any memory or undefined-behaviour error), and every
// finding must be a non-empty, in-range span; findings are sorted and do not
// overlap; the text's level is at least every finding's level; and when the
// input is valid UTF-8 every offset lies on a code point boundary.
#include <utf8proc.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string_view>

#include "classify/classifier.hpp"

namespace {

const aegis::classify::Classifier& classifier() {
  static const auto c = [] {
    aegis::config::ClassificationConfig cfg;
    cfg.internal_domains = {"example-corp.com"};
    aegis::config::CustomRecognizer employee;
    employee.name = "employee_id";
    employee.pattern = R"(\bEMP-\d{6}\b)";
    employee.entity_type = "EMPLOYEE_ID";
    employee.level = aegis::Level::CONFIDENTIAL;
    employee.context_words = {"badge", "employee"};
    cfg.custom_recognizers.push_back(employee);
    aegis::config::CustomRecognizer member;  // RE2-only path: (?U) is beyond Vectorscan
    member.name = "member";
    member.pattern = R"((?U)M-\d+[A-Z])";
    member.entity_type = "MEMBER";
    member.level = aegis::Level::RESTRICTED;
    member.validator = "luhn";
    cfg.custom_recognizers.push_back(member);
    return aegis::classify::make_classifier(cfg);
  }();
  return *c;
}

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    utf8proc_int32_t cp = 0;
    const auto n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(s.data() + i),
                                    static_cast<utf8proc_ssize_t>(s.size() - i), &cp);
    if (n <= 0) return false;
    i += static_cast<std::size_t>(n);
  }
  return true;
}

bool boundary(std::string_view s, std::size_t off) {
  return off == 0 || off >= s.size() || (static_cast<unsigned char>(s[off]) & 0xC0) != 0x80;
}

[[noreturn]] void fail(const char* what, std::size_t start, std::size_t end) {
  std::fprintf(stderr, "classify_fuzz: %s: [%zu, %zu)\n", what, start, end);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  aegis::classify::Marking marking;
  marking.explicit_public = size > 0 && (data[size - 1] & 1) != 0;
  const auto result = classifier().classify(text, marking);
  const bool utf8 = valid_utf8(text);
  std::size_t previous_end = 0;
  for (const auto& f : result.findings) {
    if (f.start >= f.end) fail("empty span", f.start, f.end);
    if (f.end > size) fail("span out of range", f.start, f.end);
    if (f.start < previous_end) fail("findings overlap or are unsorted", f.start, f.end);
    // A text marked public stays PUBLIC when its only findings are masked
    // anyway (external e-mail, phone, IP: INTERNAL findings); nothing else
    // may stand above the text's level.
    const bool masked_anyway_in_public = result.level == aegis::Level::PUBLIC && f.level == aegis::Level::INTERNAL &&
                                         (f.entity_type == "EMAIL_ADDRESS" || f.entity_type == "PHONE_NUMBER" ||
                                          f.entity_type == "IP_ADDRESS");
    if (f.level > result.level && !masked_anyway_in_public) fail("finding above the text level", f.start, f.end);
    if (f.entity_type.empty() || f.rule.empty()) fail("unnamed finding", f.start, f.end);
    if (utf8 && (!boundary(text, f.start) || !boundary(text, f.end))) fail("offset inside a code point", f.start, f.end);
    previous_end = f.end;
  }
  if (!marking.explicit_public && result.level == aegis::Level::PUBLIC &&
      !aegis::classify::text_marked_public(text)) {
    // PUBLIC needs a marking; the text's own marker is judged after normalisation,
    // so only flag it when normalisation cannot have produced one (pure ASCII).
    bool ascii = true;
    for (char c : text) ascii &= (static_cast<unsigned char>(c) < 0x80);
    if (ascii) fail("PUBLIC without a marking", 0, 0);
  }
  return 0;
}
