// libFuzzer target: restore(mask(x)) == x for any input. Three turns share
// one vault, as a conversation does: the real detection (classifier + PERSON
// rules), the same text again (its placeholder-like text is now partly known
// to the vault and must be escaped), and findings at arbitrary offsets chosen
// by the input's bytes (glued, adjacent, overlapping, out of range). Each
// turn also checks that a streamed restore (chunk sizes from the input)
// equals restore(), and that the vault survives a JSON round trip.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "classify/classifier.hpp"
#include "privacy/mask.hpp"
#include "privacy/person.hpp"
#include "privacy/restore.hpp"
#include "privacy/vault.hpp"

namespace {

using aegis::classify::Finding;
using aegis::privacy::Vault;

const aegis::classify::Classifier& classifier() {
  static const auto c = aegis::classify::make_classifier(aegis::config::ClassificationConfig{});
  return *c;
}

[[noreturn]] void fail(const char* what, std::string_view text) {
  std::fprintf(stderr, "mask_fuzz: %s (input %zu bytes)\n", what, text.size());
  std::abort();
}

void check_round_trip(std::string_view text, const std::vector<Finding>& findings, const std::vector<Finding>& persons,
                      Vault& vault, std::string_view chunking) {
  const auto result = aegis::privacy::mask(text, findings, persons, vault);
  const std::string restored = aegis::privacy::restore(result.masked, vault);
  if (restored != text) fail("restore(mask(x)) != x", text);
  for (const auto& e : result.entities) {
    if (e.start >= e.end || e.end > text.size() || text.substr(e.start, e.end - e.start) != e.value) {
      fail("entity offsets do not match its value", text);
    }
    const std::string* value = vault.value_of(e.placeholder);
    if (value == nullptr || *value != e.value) fail("entity not in the vault", text);
  }

  // Streaming: any chunking gives restore(whole).
  aegis::privacy::StreamingRestorer streaming(vault);
  std::string streamed;
  std::size_t pos = 0;
  std::size_t k = 0;
  const std::string_view answer = result.masked;
  while (pos < answer.size()) {
    const std::size_t len = chunking.empty() ? 1 : 1 + static_cast<unsigned char>(chunking[k++ % chunking.size()]) % 8;
    streamed += streaming.feed(answer.substr(pos, len));
    pos += len;
  }
  streamed += streaming.finish();
  if (streamed != restored) fail("streamed restore != restore", text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Vault vault;

  // Turn 1: what the gateway does.
  const auto classification = classifier().classify(text);
  const auto persons = aegis::privacy::detect_persons(text, classification.findings);
  check_round_trip(text, classification.findings, persons, vault, text);

  // Turn 2: the same text, with a vault that now knows its placeholders.
  check_round_trip(text, classification.findings, persons, vault, text.substr(size / 2));

  // Turn 3: findings anywhere, from the bytes themselves.
  std::vector<Finding> arbitrary;
  static const char* const kTypes[] = {"PERSON", "CA_SIN", "SIN", "LITERAL", "CREDIT_CARD", "custom:x-1", ""};
  for (std::size_t i = 0; i + 1 < size; i += 2) {
    const auto a = static_cast<std::size_t>(data[i]);
    const auto b = static_cast<std::size_t>(data[i + 1]);
    if (a % 3 != 0) continue;
    const std::size_t start = (a * 31 + i) % (size + 2);
    arbitrary.push_back(Finding{kTypes[b % 7], aegis::Level::INTERNAL, start, start + b % 17, "fuzz"});
  }
  check_round_trip(text, arbitrary, persons, vault, text.substr(size / 3));

  // The vault's JSON form restores the same way.
  auto copy = Vault::from_json(vault.to_json());
  if (!copy.ok()) fail("vault JSON does not parse back", text);
  if (copy->to_json() != vault.to_json()) fail("vault JSON round trip differs", text);
  return 0;
}
