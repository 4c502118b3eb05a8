// Multimodal governance (src/media/): OCR latency per image size, and what a
// text-only request pays for it (one pass over its messages).
//   OMP_THREAD_LIMIT=1 build/aegis_bench --benchmark_filter=BM_Media
// (OMP_THREAD_LIMIT=1 as the gateway runs: media::limit_ocr_threads)
// Each OCR repetition is one reading of one image (no cache); p50 and p99 are
// over the repetitions. The images are tests/media/media_fixtures.py's.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <vector>

#include "media/media_inspector.hpp"
#include "media/tesseract_extractor.hpp"
#include "support/media_fixtures.hpp"

namespace {

using namespace aegis;

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  const auto at = static_cast<std::size_t>(std::lround(p * static_cast<double>(values.size() - 1)));
  return values[std::min(at, values.size() - 1)];
}

void BM_MediaOcr(benchmark::State& state, const char* name) {
  Attachment image;
  image.kind = Attachment::Kind::image;
  image.media_type = "image/png";
  image.data = test::media_fixture(name);
  const media::TesseractExtractor extractor{media::Limits{}};
  (void)extractor.extract(image, std::chrono::steady_clock::now() + std::chrono::seconds(60));  // engines started
  std::size_t words = 0;
  while (state.KeepRunning()) {
    auto read = extractor.extract(image, std::chrono::steady_clock::now() + std::chrono::seconds(60));
    words = read.words.size();
    benchmark::DoNotOptimize(read);
  }
  state.counters["words"] = static_cast<double>(words);
  state.counters["bytes"] = static_cast<double>(image.data.size());
}

const auto kStatistics = [](auto* b) {
  b->Unit(benchmark::kMillisecond)
      ->Iterations(1)
      ->Repetitions(20)
      ->ComputeStatistics("p50", [](const std::vector<double>& v) { return percentile(v, 0.5); })
      ->ComputeStatistics("p99", [](const std::vector<double>& v) { return percentile(v, 0.99); })
      ->ReportAggregatesOnly(true);
};

// 640x159 (a receipt line), 1280x477 (a screenshot), 2480x3002 (an A4 page at 300 dpi).
BENCHMARK_CAPTURE(BM_MediaOcr, small_640x159, "size_small.png")->Apply(kStatistics);
BENCHMARK_CAPTURE(BM_MediaOcr, medium_1280x477, "size_medium.png")->Apply(kStatistics);
BENCHMARK_CAPTURE(BM_MediaOcr, a4_2480x3002, "size_a4.png")->Apply([](auto* b) {
  kStatistics(b);
  b->Repetitions(8);
});

// All a text-only request pays: the check that it carries no attachment.
void BM_MediaTextOnlyCheck(benchmark::State& state) {
  ChatRequest request;
  for (int i = 0; i < 8; ++i) {
    Message m;
    m.text = "a turn of an ordinary conversation";
    request.messages.push_back(m);
  }
  while (state.KeepRunning()) benchmark::DoNotOptimize(media::has_attachments(request));
}
BENCHMARK(BM_MediaTextOnlyCheck);

}  // namespace
