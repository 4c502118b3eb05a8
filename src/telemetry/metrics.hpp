#pragma once
// A small Prometheus metrics library: counters, gauges and histograms with
// labels, and the text exposition format 0.0.4.
//
// Hot path: Family::with() for a label set that already exists and
// Counter::inc / Gauge::set / Gauge::add / Histogram::observe are lock-free
// (atomics only). Creating a new series takes the family's mutex. A series
// is allocated once and never moves, so a reference returned by with() stays
// valid for the life of the Registry; cache it where you can.
//
// Cardinality guard: a family holds at most max_series_per_family series.
// Beyond that, a new label set (and, in release builds, a call with the wrong
// number of label values) maps to one overflow series whose label values are
// all "__overflow__", and the registry's self-metric
// aegis_metrics_series_dropped_total counts each such call.
//
// Registration (Registry::counter/gauge/histogram) validates names against the
// Prometheus grammar and throws std::invalid_argument on a bad name or a
// conflicting re-registration; call it at start-up and keep the reference.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace aegis::telemetry {

// Monotonic counter. inc() ignores negative and NaN increments (a counter never
// goes down). Whole-number increments use an integer atomic add, so concurrent
// inc() of integers is exact and never retries.
class Counter {
 public:
  Counter() = default;
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  void inc(double v = 1.0) noexcept;
  double value() const noexcept;

 private:
  std::atomic<std::uint64_t> whole_{0};
  std::atomic<double> fraction_{0.0};
};

class Gauge {
 public:
  Gauge() = default;
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  void set(double v) noexcept;
  void add(double v) noexcept;
  double value() const noexcept;

 private:
  std::atomic<double> value_{0.0};
};

// Cumulative histogram with fixed upper bounds (an implicit +Inf bucket is
// always last). observe() ignores NaN. count() is the sum of the buckets.
class Histogram {
 public:
  // upper_bounds must be finite and strictly increasing; a trailing +Inf is
  // allowed and dropped. Throws std::invalid_argument otherwise.
  explicit Histogram(std::vector<double> upper_bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  void observe(double v) noexcept;
  std::uint64_t count() const noexcept;
  double sum() const noexcept;

  // Finite upper bounds, without +Inf.
  const std::vector<double>& upper_bounds() const noexcept { return bounds_; }
  // Non-cumulative count of bucket i, i in [0, upper_bounds().size()]; the
  // last index is the +Inf bucket.
  std::uint64_t bucket_count(std::size_t i) const noexcept;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // bounds_.size() + 1
  std::atomic<double> sum_{0.0};
};

enum class MetricType { counter, gauge, histogram };

class Registry;

namespace detail {
// Type-erased view of a family, used by Registry for exposition.
class FamilyBase {
 public:
  virtual ~FamilyBase() = default;
  virtual void expose_into(std::string& out) const = 0;

  const std::string& name() const noexcept { return name_; }
  const std::string& help() const noexcept { return help_; }
  const std::vector<std::string>& label_names() const noexcept { return label_names_; }
  MetricType type() const noexcept { return type_; }

 protected:
  FamilyBase(MetricType type, std::string name, std::string help, std::vector<std::string> label_names)
      : type_(type), name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {}

 private:
  MetricType type_;
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
};
}  // namespace detail

template <class Series>
class Family final : public detail::FamilyBase {
 public:
  ~Family() override;
  Family(const Family&) = delete;
  Family& operator=(const Family&) = delete;

  // Returns the series for these label values (in label_names() order),
  // creating it on first use. Lock-free when the series exists. The reference
  // stays valid for the life of the Registry.
  Series& with(std::initializer_list<std::string_view> label_values);

  // Number of series currently held (overflow series included).
  std::size_t size() const;

  // Histogram families: the bucket upper bounds; empty for other types.
  const std::vector<double>& upper_bounds() const noexcept { return bounds_; }

  void expose_into(std::string& out) const override;

 private:
  friend class Registry;
  struct Entry;
  struct Table;

  Family(MetricType type, std::string name, std::string help, std::vector<std::string> label_names,
         std::vector<double> bounds, std::size_t max_series, Counter* dropped);

  Entry* find(const Table* table, std::size_t hash, const std::string_view* values) const noexcept;
  Series& create_or_overflow(std::size_t hash, const std::string_view* values);
  Series& overflow();
  Entry& insert_locked(std::size_t hash, const std::string_view* values);
  void note_dropped(const char* reason) noexcept;

  std::vector<double> bounds_;
  std::size_t max_series_;
  Counter* dropped_;  // self-metric; null for the self-metric's own family

  std::atomic<const Table*> table_{nullptr};
  std::atomic<bool> full_{false};  // cap reached: new label sets go to overflow_
  std::atomic<Series*> overflow_{nullptr};
  std::atomic<bool> warned_{false};

  mutable std::mutex mu_;                        // guards everything below
  std::vector<std::unique_ptr<Table>> tables_;   // every generation; old ones stay readable
  std::vector<std::unique_ptr<Entry>> entries_;  // owns the series, never moved
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;

class Registry {
 public:
  static constexpr std::size_t kDefaultMaxSeriesPerFamily = 10'000;
  static constexpr std::string_view kOverflowLabelValue = "__overflow__";
  static constexpr std::string_view kDroppedMetricName = "aegis_metrics_series_dropped_total";

  Registry() : Registry(kDefaultMaxSeriesPerFamily) {}
  explicit Registry(std::size_t max_series_per_family);
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Same name with the same type, help, label names (and bounds) returns the
  // same family; anything else under an existing name, an invalid metric or
  // label name, or a name that collides with a histogram's _bucket/_sum/_count
  // series throws std::invalid_argument. Counter names should end in _total
  // (the caller names them; nothing is appended).
  CounterFamily& counter(std::string name, std::string help, std::vector<std::string> label_names = {});
  GaugeFamily& gauge(std::string name, std::string help, std::vector<std::string> label_names = {});
  HistogramFamily& histogram(std::string name, std::string help, std::vector<std::string> label_names,
                             std::vector<double> upper_bounds);

  // Prometheus text exposition format 0.0.4 (Content-Type
  // "text/plain; version=0.0.4; charset=utf-8"). Families sorted by name,
  // series by label values; families with no series are omitted.
  std::string expose() const;

  // Seconds: 0.0001 (100 µs) .. 10.
  static std::vector<double> default_latency_buckets();

  std::size_t max_series_per_family() const noexcept { return max_series_; }

 private:
  template <class Series>
  Family<Series>& get_or_add(MetricType type, std::string name, std::string help, std::vector<std::string> label_names,
                             std::vector<double> bounds);

  std::size_t max_series_;
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<detail::FamilyBase>, std::less<>> families_;
  Counter* dropped_ = nullptr;
};

inline constexpr std::string_view kExpositionContentType = "text/plain; version=0.0.4; charset=utf-8";

// Grammar checks, exposed for callers and tests.
bool is_valid_metric_name(std::string_view name) noexcept;  // [a-zA-Z_:][a-zA-Z0-9_:]*
bool is_valid_label_name(std::string_view name) noexcept;   // [a-zA-Z_][a-zA-Z0-9_]*, not "__" prefixed

// Formatting helpers used by expose(), exposed for tests.
std::string format_value(double v);                  // "42", "0.25", "+Inf", "-Inf", "NaN", "1e+20"
std::string escape_label_value(std::string_view v);  // \\ \" \n; invalid UTF-8 -> U+FFFD
std::string escape_help(std::string_view v);         // \\ \n; invalid UTF-8 -> U+FFFD

}  // namespace aegis::telemetry
