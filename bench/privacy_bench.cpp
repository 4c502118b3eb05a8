// Masking pipeline on a 4 KB prompt with 10 entities (target: detect + mask +
// restore <= 25 us median on one core). Prose, a log line and a signature;
// the entities: 3 persons, an e-mail, a phone number, a card, a SIN, an IBAN,
// an IP address and a GitHub token.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "classify/classifier.hpp"
#include "privacy/mask.hpp"
#include "privacy/person.hpp"
#include "privacy/restore.hpp"
#include "privacy/vault.hpp"

namespace {

using aegis::privacy::Vault;

std::string make_prompt() {
  const std::string filler =
      "Please review the attached pull request before the release meeting. The retry logic in the HTTP client "
      "now backs off exponentially, and the integration tests cover the timeout paths we discussed last week. "
      "Our quarterly planning doc lists the priorities: reduce p99 latency below 200 ms, migrate the last two "
      "services to the new queue, and finish the accessibility audit of the settings pages before the summer. ";
  std::string text =
      "Hi team,\n\nCustomer Jane Smith (jane.smith@example.com) called from 416-555-0199 asking why her card "
      "4111 1111 1111 1111 was charged twice. ";
  text += filler;
  text += "The onboarding form collected her SIN 046 454 286 and the refund goes to IBAN GB82 WEST 1234 5698 7654 32. ";
  text += filler;
  text += "2024-05-14T09:21:33Z INFO request_id=7f3a2c1e service=billing status=200 upstream=10.0.3.17 retries=0\n";
  text += "Escalated by Michael Johnson after the on-call handover. ";
  text += filler;
  text += "The deploy key ghp_16C7e42F292c6912E7710c838347Ae178B4aX9 was rotated. ";
  while (text.size() < 4096 - 64) text += filler.substr(0, std::min(filler.size(), 4096 - 64 - text.size()));
  text += "\n\nBest regards,\nPriya Raman\n";
  return text;
}

const std::string& prompt() {
  static const std::string p = make_prompt();
  return p;
}

const aegis::classify::Classifier& classifier() {
  static const auto c = aegis::classify::make_classifier(aegis::config::ClassificationConfig{});
  return *c;
}

// The whole round trip of one request: classify + PERSON rules, mask into a
// fresh vault, restore an answer of the same size that echoes the placeholders.
void BM_PrivacyDetectMaskRestore4K(benchmark::State& state) {
  const std::string& text = prompt();
  const auto& c = classifier();
  std::size_t entities = 0;
  for (auto _ : state) {
    Vault vault;
    const auto classification = c.classify(text);
    const auto persons = aegis::privacy::detect_persons(text, classification.findings);
    auto masked = aegis::privacy::mask(text, classification.findings, persons, vault);
    auto restored = aegis::privacy::restore(masked.masked, vault);
    entities = masked.entities.size();
    benchmark::DoNotOptimize(restored);
  }
  state.counters["entities"] = static_cast<double>(entities);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_PrivacyDetectMaskRestore4K);

// The same without the classifier (PERSON rules + mask + restore), with the
// classifier's findings computed once outside the loop.
void BM_PrivacyPersonMaskRestore4K(benchmark::State& state) {
  const std::string& text = prompt();
  const auto findings = classifier().classify(text).findings;
  for (auto _ : state) {
    Vault vault;
    const auto persons = aegis::privacy::detect_persons(text, findings);
    auto masked = aegis::privacy::mask(text, findings, persons, vault);
    auto restored = aegis::privacy::restore(masked.masked, vault);
    benchmark::DoNotOptimize(restored);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_PrivacyPersonMaskRestore4K);

void BM_PrivacyClassify4K(benchmark::State& state) {
  const std::string& text = prompt();
  for (auto _ : state) benchmark::DoNotOptimize(classifier().classify(text));
}
BENCHMARK(BM_PrivacyClassify4K);

void BM_PrivacyPersons4K(benchmark::State& state) {
  const std::string& text = prompt();
  std::size_t found = 0;
  for (auto _ : state) {
    auto persons = aegis::privacy::detect_persons(text);
    found = persons.size();
    benchmark::DoNotOptimize(persons);
  }
  state.counters["persons"] = static_cast<double>(found);
}
BENCHMARK(BM_PrivacyPersons4K);

void BM_PrivacyMask4K(benchmark::State& state) {
  const std::string& text = prompt();
  const auto findings = classifier().classify(text).findings;
  const auto persons = aegis::privacy::detect_persons(text, findings);
  for (auto _ : state) {
    Vault vault;
    benchmark::DoNotOptimize(aegis::privacy::mask(text, findings, persons, vault));
  }
}
BENCHMARK(BM_PrivacyMask4K);

void BM_PrivacyRestore4K(benchmark::State& state) {
  const std::string& text = prompt();
  const auto findings = classifier().classify(text).findings;
  Vault vault;
  const auto masked = aegis::privacy::mask(text, findings, aegis::privacy::detect_persons(text, findings), vault);
  for (auto _ : state) benchmark::DoNotOptimize(aegis::privacy::restore(masked.masked, vault));
}
BENCHMARK(BM_PrivacyRestore4K);

// A streamed answer in 16-byte chunks (about 4 tokens each).
void BM_PrivacyStreamingRestore4K(benchmark::State& state) {
  const std::string& text = prompt();
  const auto findings = classifier().classify(text).findings;
  Vault vault;
  const auto masked = aegis::privacy::mask(text, findings, aegis::privacy::detect_persons(text, findings), vault);
  const std::string_view answer = masked.masked;
  for (auto _ : state) {
    aegis::privacy::StreamingRestorer restorer(vault);
    std::size_t out = 0;
    for (std::size_t pos = 0; pos < answer.size(); pos += 16) out += restorer.feed(answer.substr(pos, 16)).size();
    out += restorer.finish().size();
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_PrivacyStreamingRestore4K);

}  // namespace
