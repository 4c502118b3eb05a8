// libFuzzer target: the egress detector (compliance/egress_detector.hpp) on
// arbitrary bytes. It decodes UTF-8 and normalises digits itself, so any byte
// sequence must be scanned without a crash, a hit must point inside the
// input at a digit-bearing position, and a scan is deterministic.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string_view>

#include "compliance/egress_detector.hpp"

namespace {

const aegis::compliance::EgressDetector& detector() {
  static const auto d = aegis::compliance::make_egress_detector("digits_first");
  return *d;
}

[[noreturn]] void fail(const char* what, std::size_t size) {
  std::fprintf(stderr, "egress_fuzz: %s (input %zu bytes)\n", what, size);
  std::abort();
}

bool known_rule(std::string_view rule) {
  for (std::string_view r : aegis::compliance::kEgressRules) {
    if (r == rule) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto hit = detector().scan(text);
  const auto again = detector().scan(text);
  if (hit.has_value() != again.has_value()) fail("two scans disagree", size);
  if (!hit) return 0;
  if (hit->offset >= size) fail("hit offset outside the input", size);
  if (!known_rule(hit->rule)) fail("rule not in kEgressRules", size);
  if (again->offset != hit->offset || again->rule != hit->rule) fail("two scans disagree", size);
  return 0;
}
