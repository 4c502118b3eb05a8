// Hot-path costs of the metrics library (src/telemetry/metrics.hpp).
#include <benchmark/benchmark.h>

#include <string>

#include "telemetry/metrics.hpp"

namespace {

using aegis::telemetry::Registry;

void BM_CounterIncCached(benchmark::State& state) {
  Registry r;
  auto& c = r.counter("bench_requests_total", "b", {"route"}).with({"/v1/chat"});
  for (auto _ : state) c.inc();
  benchmark::DoNotOptimize(c.value());
}
BENCHMARK(BM_CounterIncCached)->ThreadRange(1, 2);

void BM_FamilyWithExisting2Labels(benchmark::State& state) {
  Registry r;
  auto& fam = r.counter("bench_requests_total", "b", {"route", "code"});
  // A realistic family: a few dozen series, the looked-up one among them.
  for (const char* route : {"/v1/chat/completions", "/v1/messages", "/v1/jobs", "/v1/embeddings", "/healthz"}) {
    for (const char* code : {"200", "400", "401", "404", "429", "500", "503"}) fam.with({route, code});
  }
  const std::string route = "/v1/chat/completions";
  const std::string code = "200";
  for (auto _ : state) benchmark::DoNotOptimize(&fam.with({route, code}));
}
BENCHMARK(BM_FamilyWithExisting2Labels)->ThreadRange(1, 2);

void BM_HistogramObserve(benchmark::State& state) {
  Registry r;
  auto& h = r.histogram("bench_duration_seconds", "b", {}, Registry::default_latency_buckets()).with({});
  double v = 0.0;
  for (auto _ : state) {
    h.observe(v);
    v = v < 12.0 ? v + 0.0137 : 0.0;  // walk across every bucket
  }
  benchmark::DoNotOptimize(h.count());
}
BENCHMARK(BM_HistogramObserve)->ThreadRange(1, 2);

void BM_Expose100Series(benchmark::State& state) {
  Registry r;
  auto& req = r.counter("bench_http_requests_total", "Requests.", {"route", "code"});
  auto& lat =
      r.histogram("bench_http_request_duration_seconds", "Latency.", {"route"}, Registry::default_latency_buckets());
  auto& inflight = r.gauge("bench_inflight_requests", "In flight.", {"route"});
  int series = 0;
  for (int route = 0; route < 10; ++route) {
    const std::string name = "/v1/route" + std::to_string(route);
    for (const char* code : {"200", "400", "401", "404", "429", "500", "503", "504"}) {
      req.with({name, code}).inc(route * 17 + 3);
      ++series;
    }
    lat.with({name}).observe(0.01 * route);
    inflight.with({name}).set(route);
    series += 2;
  }
  state.counters["series"] = series;
  std::size_t bytes = 0;
  for (auto _ : state) {
    std::string text = r.expose();
    bytes = text.size();
    benchmark::DoNotOptimize(text.data());
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_Expose100Series);

}  // namespace
