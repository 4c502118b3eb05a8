// Classifier throughput on realistic mixed text: English prose (support
// tickets, code review notes, logs) with a few entities per kilobyte.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "classify/classifier.hpp"

namespace {

const std::vector<std::string>& paragraphs() {
  static const std::vector<std::string> p = {
      "Thanks for reaching out about the delayed shipment. I checked with the warehouse team this morning and "
      "the package left our facility on Tuesday; the carrier expects to deliver it by Friday afternoon. ",
      "Please review the attached pull request before the release meeting. The retry logic in the HTTP client "
      "now backs off exponentially, and the integration tests cover the timeout paths we discussed last week. ",
      "Customer Jane Smith (jane.smith@example.com) called from 416-555-0199 asking why her card ending 1111 "
      "was charged twice; the full number she gave was 4111 1111 1111 1111, please refund the duplicate. ",
      "2024-05-14T09:21:33Z INFO request_id=7f3a2c1e service=billing latency_ms=184 status=200 path=/v1/invoices "
      "user_agent=\"python-requests/2.31\" bytes=5120 upstream=10.0.3.17:8443 retries=0 ",
      "Our quarterly planning doc lists the priorities: reduce p99 latency below 200 ms, migrate the last two "
      "services to the new queue, and finish the accessibility audit of the settings pages before the summer. ",
      "The onboarding form collected her SIN 046 454 286 and mailing address in Ottawa, ON K1A 0B1; remember "
      "that this record must stay in the restricted store and never be exported to the analytics warehouse. ",
      "When you have a moment, could you summarise the main arguments of the essay? I found the section about "
      "urban planning convincing, but the economic analysis in chapter four seemed thin to me. ",
      "Deploy notes: bumped the base image to debian 12.5, rotated the staging credentials, and moved the "
      "feature flag for the new checkout flow to 25 percent of traffic in the canary region. ",
  };
  return p;
}

std::string make_text(std::size_t size) {
  std::string text;
  std::size_t i = 0;
  while (text.size() < size) text += paragraphs()[i++ % paragraphs().size()];
  text.resize(size);
  return text;
}

const aegis::classify::Classifier& classifier() {
  static const auto c = [] {
    aegis::config::ClassificationConfig cfg;
    cfg.internal_domains = {"example-corp.com"};
    return aegis::classify::make_classifier(cfg);
  }();
  return *c;
}

void BM_Classify(benchmark::State& state) {
  const std::string text = make_text(static_cast<std::size_t>(state.range(0)));
  const auto& c = classifier();
  std::size_t findings = 0;
  for (auto _ : state) {
    auto result = c.classify(text);
    findings = result.findings.size();
    benchmark::DoNotOptimize(result);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
  state.counters["findings"] = static_cast<double>(findings);
}
BENCHMARK(BM_Classify)->Arg(1 << 10)->Arg(4 << 10)->Arg(64 << 10)->Arg(1 << 20)->Unit(benchmark::kMicrosecond);

// The same 4 KB with a few non-ASCII characters: the normalising path.
void BM_ClassifyUnicode4K(benchmark::State& state) {
  std::string text = make_text(4 << 10);
  text.replace(100, 3, "caf\xc3\xa9");
  text.replace(2000, 3, "\xef\xbc\x94\xe2\x80\x8b");
  text.resize(4 << 10);
  const auto& c = classifier();
  for (auto _ : state) {
    auto result = c.classify(text);
    benchmark::DoNotOptimize(result);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(text.size()));
}
BENCHMARK(BM_ClassifyUnicode4K)->Unit(benchmark::kMicrosecond);

std::string repeat_to(const std::string& unit, std::size_t size) {
  std::string text;
  while (text.size() < size) text += unit;
  // Cut on a UTF-8 boundary.
  std::size_t cut = size;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  text.resize(cut);
  return text;
}

// Accented prose with typographic quotes and dashes (every paragraph goes
// through NFKC and the offset map), and CJK text (every character non-ASCII).
void BM_ClassifyFrench4K(benchmark::State& state) {
  const std::string text = repeat_to(
      "Bonjour — j’ai vérifié votre dossier ce matin : le numéro d’assurance sociale 046 454 286 est bien "
      "enregistré, et la facture sera envoyée à « marie.tremblay@example.ca » d’ici vendredi. Pour toute "
      "question, appelez le 514-555-0176. Merci de votre patience. ",
      4 << 10);
  const auto& c = classifier();
  for (auto _ : state) {
    auto result = c.classify(text);
    benchmark::DoNotOptimize(result);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(text.size()));
}
BENCHMARK(BM_ClassifyFrench4K)->Unit(benchmark::kMicrosecond);

void BM_ClassifyCjk4K(benchmark::State& state) {
  const std::string text = repeat_to("東京の天気は晴れです。会議は午後三時です。", 4 << 10);
  const auto& c = classifier();
  for (auto _ : state) {
    auto result = c.classify(text);
    benchmark::DoNotOptimize(result);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(text.size()));
}
BENCHMARK(BM_ClassifyCjk4K)->Unit(benchmark::kMicrosecond);

// 4 KB of prose with no entity at all: the floor (scan cost only).
void BM_ClassifyCleanProse4K(benchmark::State& state) {
  std::string text;
  for (int i = 0; text.size() < (4u << 10); ++i) text += paragraphs()[(i % 2 == 0) ? 0 : 6];
  text.resize(4 << 10);
  const auto& c = classifier();
  for (auto _ : state) {
    auto result = c.classify(text);
    benchmark::DoNotOptimize(result);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(text.size()));
}
BENCHMARK(BM_ClassifyCleanProse4K)->Unit(benchmark::kMicrosecond);

}  // namespace
