#include "telemetry/metrics.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace aegis::telemetry {
namespace {

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(MetricsCounter, IncrementsAndIgnoresNegativeAndNaN) {
  Counter c;
  EXPECT_EQ(c.value(), 0.0);
  c.inc();
  c.inc(2.5);
  c.inc(3);
  c.inc(-1);
  c.inc(std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(c.value(), 6.5);
}

TEST(MetricsGauge, SetsAndAdds) {
  Gauge g;
  g.set(10);
  g.add(-2.5);
  g.add(0.5);
  EXPECT_EQ(g.value(), 8.0);
  g.set(-3);
  EXPECT_EQ(g.value(), -3.0);
}

TEST(MetricsHistogram, BucketsAreCumulativeAndUpperBoundsInclusive) {
  Registry r;
  auto& h = r.histogram("t_seconds", "t", {}, {1, 2, 5}).with({});
  for (double v : {0.5, 1.0, 1.5, 3.0, 100.0, std::numeric_limits<double>::quiet_NaN()}) h.observe(v);
  EXPECT_EQ(h.count(), 5u);
  EXPECT_EQ(h.sum(), 106.0);
  EXPECT_EQ(h.bucket_count(0), 2u);  // 0.5 and 1.0 (le is inclusive)
  EXPECT_EQ(h.bucket_count(1), 1u);
  EXPECT_EQ(h.bucket_count(2), 1u);
  EXPECT_EQ(h.bucket_count(3), 1u);  // +Inf
  const std::string text = r.expose();
  EXPECT_TRUE(contains(text,
                       "t_seconds_bucket{le=\"1\"} 2\n"
                       "t_seconds_bucket{le=\"2\"} 3\n"
                       "t_seconds_bucket{le=\"5\"} 4\n"
                       "t_seconds_bucket{le=\"+Inf\"} 5\n"
                       "t_seconds_sum 106\n"
                       "t_seconds_count 5\n"))
      << text;
}

TEST(MetricsHistogram, RejectsBadBoundsAndAcceptsTrailingInf) {
  EXPECT_THROW(Histogram({2, 1}), std::invalid_argument);
  EXPECT_THROW(Histogram({1, 1}), std::invalid_argument);
  EXPECT_THROW(Histogram({1, std::numeric_limits<double>::quiet_NaN()}), std::invalid_argument);
  EXPECT_THROW(Histogram({-std::numeric_limits<double>::infinity(), 1}), std::invalid_argument);
  Histogram h({1, 2, std::numeric_limits<double>::infinity()});
  EXPECT_EQ(h.upper_bounds(), (std::vector<double>{1, 2}));
  Registry r;
  EXPECT_THROW(r.histogram("h_seconds", "h", {}, {3, 2}), std::invalid_argument);
  const auto d = Registry::default_latency_buckets();
  ASSERT_FALSE(d.empty());
  EXPECT_EQ(d.front(), 0.0001);
  EXPECT_EQ(d.back(), 10.0);
  EXPECT_TRUE(std::is_sorted(d.begin(), d.end()));
}

TEST(MetricsFamily, SameLabelValuesGiveTheSameSeriesAndReferencesNeverMove) {
  Registry r;
  auto& fam = r.counter("req_total", "r", {"route", "code"});
  Counter& first = fam.with({"/a", "200"});
  first.inc(7);
  EXPECT_EQ(&fam.with({"/a", "200"}), &first);
  EXPECT_NE(&fam.with({"/a", "500"}), &first);
  // Force several table growths; the first series must neither move nor be lost.
  for (int i = 0; i < 5000; ++i) fam.with({"/grow", std::to_string(i)}).inc();
  EXPECT_EQ(&fam.with({"/a", "200"}), &first);
  EXPECT_EQ(first.value(), 7.0);
  EXPECT_EQ(fam.with({"/grow", "4999"}).value(), 1.0);
  EXPECT_EQ(fam.size(), 5002u);
  // std::string arguments work too.
  const std::string route = "/a", code = "200";
  EXPECT_EQ(&fam.with({route, code}), &first);
}

TEST(MetricsFamily, ConcurrentIncrementsAreExact) {
  Registry r;
  auto& counters = r.counter("c_total", "c", {"route", "code"});
  auto& gauges = r.gauge("g", "g", {"k"});
  auto& hists = r.histogram("h_seconds", "h", {"k"}, {0.25, 1});
  Counter& cached = counters.with({"/cached", "200"});
  constexpr int kThreads = 8;
  constexpr int kIters = 20000;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kIters; ++i) {
        cached.inc();
        // Lookups race with creation of the same and of new label sets.
        counters.with({"/shared", std::to_string(i % 64)}).inc(0.5);
        counters.with({"/own", std::to_string(t)}).inc(2);
        gauges.with({"x"}).add(1);
        gauges.with({"x"}).add(-0.5);
        hists.with({"x"}).observe(0.5);
      }
    });
  }
  for (auto& th : threads) th.join();
  constexpr double kTotal = static_cast<double>(kThreads) * kIters;
  EXPECT_EQ(cached.value(), kTotal);
  double shared = 0;
  for (int k = 0; k < 64; ++k) shared += counters.with({"/shared", std::to_string(k)}).value();
  EXPECT_EQ(shared, kTotal * 0.5);
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(counters.with({"/own", std::to_string(t)}).value(), 2.0 * kIters);
  EXPECT_EQ(counters.size(), 1u + 64u + kThreads);
  EXPECT_EQ(gauges.with({"x"}).value(), kTotal * 0.5);
  EXPECT_EQ(hists.with({"x"}).count(), static_cast<std::uint64_t>(kTotal));
  EXPECT_EQ(hists.with({"x"}).sum(), kTotal * 0.5);
  EXPECT_EQ(hists.with({"x"}).bucket_count(1), static_cast<std::uint64_t>(kTotal));
}

TEST(MetricsFamily, ConcurrentCreationExpositionAndOverflowLoseNothing) {
  Registry r(100);
  auto& fam = r.counter("race_total", "r", {"id"});
  constexpr int kThreads = 4;
  constexpr int kIds = 300;
  std::atomic<bool> done{false};
  std::thread scraper([&] {
    while (!done.load()) {
      const std::string text = r.expose();
      ASSERT_TRUE(text.ends_with("\n"));
    }
  });
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kIds; ++i) fam.with({std::to_string((i * 7 + t * 13) % kIds)}).inc();
    });
  }
  for (auto& th : threads) th.join();
  done = true;
  scraper.join();
  EXPECT_EQ(fam.size(), 101u);  // the cap plus the overflow series
  double total = 0;
  std::set<const Counter*> distinct;
  for (int i = 0; i < kIds; ++i) distinct.insert(&fam.with({std::to_string(i)}));
  for (const Counter* c : distinct) total += c->value();
  EXPECT_EQ(distinct.size(), 101u);
  EXPECT_EQ(total, static_cast<double>(kThreads) * kIds);
  const Counter& overflow = fam.with({"__overflow__"});
  EXPECT_EQ(overflow.value(), static_cast<double>(kThreads) * (kIds - 100));
}

TEST(MetricsFamily, CardinalityCapMapsNewLabelSetsToOneOverflowSeries) {
  Registry r(3);
  auto& fam = r.counter("capped_total", "c", {"user", "code"});
  Counter& a = fam.with({"a", "1"});
  fam.with({"b", "1"});
  fam.with({"c", "1"});
  Counter& d = fam.with({"d", "1"});
  Counter& e = fam.with({"e", "2"});
  EXPECT_EQ(&d, &e);
  EXPECT_NE(&d, &a);
  EXPECT_EQ(&fam.with({"__overflow__", "__overflow__"}), &d);
  EXPECT_EQ(&fam.with({"a", "1"}), &a);  // existing series are unaffected
  d.inc();
  e.inc();
  EXPECT_EQ(fam.size(), 4u);  // three series plus the overflow series
  const std::string text = r.expose();
  EXPECT_TRUE(contains(text, "capped_total{user=\"__overflow__\",code=\"__overflow__\"} 2\n")) << text;
  EXPECT_TRUE(contains(text, "aegis_metrics_series_dropped_total 2\n")) << text;
  EXPECT_FALSE(contains(text, "user=\"d\"")) << text;
  // Other families have their own budget.
  auto& other = r.gauge("other", "o", {"k"});
  EXPECT_NE(&other.with({"x"}), &other.with({"y"}));
}

TEST(MetricsFamily, WrongNumberOfLabelValuesNeverIsUB) {
  Registry r;
  auto& fam = r.counter("mismatch_total", "m", {"a", "b"});
#ifdef NDEBUG
  Counter& o = fam.with({"only-one"});
  EXPECT_EQ(&o, &fam.with({"__overflow__", "__overflow__"}));
  EXPECT_EQ(&o, &fam.with({"x", "y", "z"}));
  EXPECT_TRUE(contains(r.expose(), "aegis_metrics_series_dropped_total 2\n"));
#else
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(fam.with({"only-one"}), "number of label values");
#endif
}

TEST(MetricsFamily, UnlabelledFamilyIsExposedAtZeroAndEmptyLabelledFamilyIsOmitted) {
  Registry r;
  r.counter("plain_total", "p");
  r.counter("labelled_total", "l", {"k"});
  const std::string text = r.expose();
  EXPECT_TRUE(contains(text, "plain_total 0\n")) << text;
  EXPECT_FALSE(contains(text, "labelled_total")) << text;
}

TEST(MetricsNames, FollowThePrometheusGrammar) {
  for (const char* ok : {"a", "_a", "a:b", "Aegis_1_total", ":x"}) EXPECT_TRUE(is_valid_metric_name(ok)) << ok;
  for (const char* bad : {"", "1a", "a-b", "a b", "a.b", "caf\xC3\xA9", "a{"}) {
    EXPECT_FALSE(is_valid_metric_name(bad)) << bad;
  }
  for (const char* ok : {"a", "_a", "route", "Code2"}) EXPECT_TRUE(is_valid_label_name(ok)) << ok;
  for (const char* bad : {"", "1a", "a:b", "__name__", "__x", "a-b"}) EXPECT_FALSE(is_valid_label_name(bad)) << bad;

  Registry r;
  EXPECT_THROW(r.counter("bad-name_total", "x"), std::invalid_argument);
  EXPECT_THROW(r.counter("x_total", "x", {"__reserved"}), std::invalid_argument);
  EXPECT_THROW(r.counter("x_total", "x", {"a", "a"}), std::invalid_argument);
  EXPECT_THROW(r.gauge("x", "x", {"bad label"}), std::invalid_argument);
  EXPECT_THROW(r.histogram("x_seconds", "x", {"le"}, {1}), std::invalid_argument);
  EXPECT_NO_THROW(r.gauge("le_ok", "x", {"le"}));  // only histograms reserve le
}

TEST(MetricsRegistry, ReRegistrationReturnsTheSameFamilyOrThrowsOnConflict) {
  Registry r;
  auto& c = r.counter("hits_total", "Hits.", {"route"});
  EXPECT_EQ(&r.counter("hits_total", "Hits.", {"route"}), &c);
  EXPECT_THROW(r.gauge("hits_total", "Hits.", {"route"}), std::invalid_argument);
  EXPECT_THROW(r.counter("hits_total", "Hits.", {"code"}), std::invalid_argument);
  EXPECT_THROW(r.counter("hits_total", "Hits.", {}), std::invalid_argument);
  EXPECT_THROW(r.counter("hits_total", "Other help.", {"route"}), std::invalid_argument);

  auto& h = r.histogram("lat_seconds", "L.", {"route"}, {0.1, 1});
  EXPECT_EQ(&r.histogram("lat_seconds", "L.", {"route"}, {0.1, 1}), &h);
  EXPECT_EQ(&r.histogram("lat_seconds", "L.", {"route"}, {0.1, 1, std::numeric_limits<double>::infinity()}), &h);
  EXPECT_THROW(r.histogram("lat_seconds", "L.", {"route"}, {0.1, 2}), std::invalid_argument);
  // A histogram owns name_bucket, name_sum and name_count.
  EXPECT_THROW(r.counter("lat_seconds_count", "x"), std::invalid_argument);
  EXPECT_THROW(r.gauge("lat_seconds_sum", "x"), std::invalid_argument);
  r.gauge("size_bytes_bucket", "x");
  EXPECT_THROW(r.histogram("size_bytes", "x", {}, {1}), std::invalid_argument);
  // The self-metric is an ordinary counter family.
  EXPECT_THROW(r.gauge(std::string(Registry::kDroppedMetricName), "x"), std::invalid_argument);
}

TEST(MetricsFormat, NumbersArePromtoolFriendly) {
  EXPECT_EQ(format_value(0), "0");
  EXPECT_EQ(format_value(-0.0), "0");
  EXPECT_EQ(format_value(42), "42");
  EXPECT_EQ(format_value(-7), "-7");
  EXPECT_EQ(format_value(123456789012345.0), "123456789012345");
  EXPECT_EQ(format_value(0.25), "0.25");
  EXPECT_EQ(format_value(0.0001), "0.0001");
  EXPECT_EQ(format_value(0.1), "0.1");
  EXPECT_EQ(format_value(2.5), "2.5");
  EXPECT_EQ(format_value(1e-9), "1e-09");
  EXPECT_EQ(format_value(1.5e20), "1.5e+20");
  EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_value(std::numeric_limits<double>::quiet_NaN()), "NaN");
  // Shortest representation that reads back to the same double.
  for (double v : {0.1 + 0.2, 1.0 / 3.0, 6.02214076e23, 1e-300, 12345.678}) {
    EXPECT_EQ(std::stod(format_value(v)), v) << format_value(v);
  }
}

TEST(MetricsFormat, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(escape_label_value("plain"), "plain");
  EXPECT_EQ(escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  EXPECT_EQ(escape_help("a\\b\"c\nd"), "a\\\\b\"c\\nd");  // quotes stay in help
  EXPECT_EQ(escape_label_value("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"),
            "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
  // Invalid UTF-8 (stray byte, truncated sequence, overlong, surrogate) becomes U+FFFD.
  EXPECT_EQ(escape_label_value("a\xFFz"), "a\xEF\xBF\xBDz");
  EXPECT_EQ(escape_label_value("\xE2\x82"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(escape_label_value("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(escape_label_value("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");

  Registry r;
  r.counter("esc_total", "Line one\nback\\slash", {"v"}).with({"say \"hi\"\\\n"}).inc();
  EXPECT_TRUE(contains(r.expose(),
                       "# HELP esc_total Line one\\nback\\\\slash\n"
                       "# TYPE esc_total counter\n"
                       "esc_total{v=\"say \\\"hi\\\"\\\\\\n\"} 1\n"))
      << r.expose();
}

TEST(MetricsRegistry, ExposesAFixedRegistryExactly) {
  Registry r;
  auto& req = r.counter("aegis_http_requests_total", "HTTP requests by route and status code.", {"route", "code"});
  req.with({"/v1/chat", "200"}).inc(3);
  req.with({"/healthz", "200"}).inc();
  req.with({"/v1/chat", "500"}).inc();
  r.gauge("aegis_build_info", "Build information.", {"version"}).with({"0.1.0"}).set(1);
  r.gauge("aegis_inflight_requests", "Requests in flight.").with({}).add(2);
  auto& lat = r.histogram("aegis_http_request_duration_seconds", "Request latency.", {"route"}, {0.005, 0.1, 1});
  lat.with({"/v1/chat"}).observe(0.0625);
  lat.with({"/v1/chat"}).observe(0.5);
  lat.with({"/v1/chat"}).observe(2);
  const std::string expected =
      "# HELP aegis_build_info Build information.\n"
      "# TYPE aegis_build_info gauge\n"
      "aegis_build_info{version=\"0.1.0\"} 1\n"
      "# HELP aegis_http_request_duration_seconds Request latency.\n"
      "# TYPE aegis_http_request_duration_seconds histogram\n"
      "aegis_http_request_duration_seconds_bucket{route=\"/v1/chat\",le=\"0.005\"} 0\n"
      "aegis_http_request_duration_seconds_bucket{route=\"/v1/chat\",le=\"0.1\"} 1\n"
      "aegis_http_request_duration_seconds_bucket{route=\"/v1/chat\",le=\"1\"} 2\n"
      "aegis_http_request_duration_seconds_bucket{route=\"/v1/chat\",le=\"+Inf\"} 3\n"
      "aegis_http_request_duration_seconds_sum{route=\"/v1/chat\"} 2.5625\n"
      "aegis_http_request_duration_seconds_count{route=\"/v1/chat\"} 3\n"
      "# HELP aegis_http_requests_total HTTP requests by route and status code.\n"
      "# TYPE aegis_http_requests_total counter\n"
      "aegis_http_requests_total{route=\"/healthz\",code=\"200\"} 1\n"
      "aegis_http_requests_total{route=\"/v1/chat\",code=\"200\"} 3\n"
      "aegis_http_requests_total{route=\"/v1/chat\",code=\"500\"} 1\n"
      "# HELP aegis_inflight_requests Requests in flight.\n"
      "# TYPE aegis_inflight_requests gauge\n"
      "aegis_inflight_requests 2\n"
      "# HELP aegis_metrics_series_dropped_total Calls to Family::with() that were mapped to the __overflow__ series "
      "because the family reached its series cap or got the wrong number of label values.\n"
      "# TYPE aegis_metrics_series_dropped_total counter\n"
      "aegis_metrics_series_dropped_total 0\n";
  EXPECT_EQ(r.expose(), expected);
  EXPECT_EQ(r.expose(), r.expose());  // deterministic
}

std::string find_promtool() {
  if (::access("/usr/bin/promtool", X_OK) == 0) return "/usr/bin/promtool";
  if (FILE* p = ::popen("command -v promtool 2>/dev/null", "r")) {
    std::array<char, 512> buf{};
    std::string path;
    while (std::fgets(buf.data(), buf.size(), p) != nullptr) path += buf.data();
    ::pclose(p);
    while (!path.empty() && (path.back() == '\n' || path.back() == ' ')) path.pop_back();
    if (!path.empty()) return path;
  }
  return {};
}

// Runs `promtool check metrics < file`; returns {exit status, combined output}.
std::pair<int, std::string> promtool_check(const std::string& promtool, const std::string& text) {
  const auto dir = std::filesystem::temp_directory_path();
  const auto file = dir / ("aegis_metrics_" + std::to_string(::getpid()) + "_" +
                           std::to_string(std::hash<std::thread::id>{}(std::this_thread::get_id())) + ".prom");
  {
    std::ofstream out(file, std::ios::binary);
    out << text;
  }
  const std::string cmd = "'" + promtool + "' check metrics < '" + file.string() + "' 2>&1";
  std::string output;
  int status = -1;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    std::array<char, 4096> buf{};
    std::size_t n = 0;
    while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) output.append(buf.data(), n);
    status = ::pclose(p);
  }
  std::filesystem::remove(file);
  const int code = (status != -1 && WIFEXITED(status)) ? WEXITSTATUS(status) : -1;
  return {code, output};
}

TEST(MetricsPromtool, AcceptsTheExpositionWithoutLintComplaints) {
  const std::string promtool = find_promtool();
  ASSERT_FALSE(promtool.empty()) << "promtool not found: install the Debian package 'prometheus' (CI does)";

  Registry r(4);
  auto& req = r.counter("aegis_test_requests_total", "Requests \"served\"\nby route\\code.", {"route", "code"});
  req.with({"/v1/chat/completions", "200"}).inc(41);
  req.with({"/v1/chat/completions", "200"}).inc(0.5);
  req.with({"quote\"back\\slash\nnewline", "500"}).inc();
  req.with({"caf\xC3\xA9 \xF0\x9F\x98\x80", "404"}).inc();
  req.with({"bad utf8 \xFF\xFE", "400"}).inc();
  req.with({"over", "the cap"}).inc();  // overflow series
  r.counter("aegis_test_events_total", "Unlabelled counter.").with({}).inc(1e20);
  auto& g = r.gauge("aegis_test_queue_length", "Gauge with odd values.", {"queue"});
  g.with({"neg"}).set(-12.75);
  g.with({"nan"}).set(std::numeric_limits<double>::quiet_NaN());
  g.with({"inf"}).set(std::numeric_limits<double>::infinity());
  g.with({"tiny"}).set(1e-12);
  auto& lat = r.histogram("aegis_test_request_duration_seconds", "Latency.", {"route", "provider"},
                          Registry::default_latency_buckets());
  for (double v : {0.00005, 0.0003, 0.004, 0.2, 3.0, 60.0}) lat.with({"/v1/chat", "ollama"}).observe(v);
  lat.with({"/v1/jobs", "anthropic"}).observe(0.01);
  r.histogram("aegis_test_payload_bytes", "Unlabelled histogram.", {}, {256, 1024, 65536}).with({}).observe(700);
  r.histogram("aegis_test_empty_seconds", "Histogram never observed.", {}, {1}).with({});

  const std::string text = r.expose();
  const auto [code, output] = promtool_check(promtool, text);
  EXPECT_EQ(code, 0) << output << "\n--- exposition ---\n" << text;
  EXPECT_EQ(output, "") << "--- exposition ---\n" << text;
  EXPECT_TRUE(contains(text, "aegis_metrics_series_dropped_total 1\n")) << text;
}

TEST(MetricsPromtool, RejectsBrokenExposition) {
  // Proves the check above can fail: promtool must reject what we never emit.
  const std::string promtool = find_promtool();
  ASSERT_FALSE(promtool.empty()) << "promtool not found: install the Debian package 'prometheus' (CI does)";
  const auto [code, output] = promtool_check(promtool, "# TYPE x_total counter\nx_total{a=\"\xFF\"} 1\n");
  EXPECT_NE(code, 0) << output;
}

}  // namespace
}  // namespace aegis::telemetry
