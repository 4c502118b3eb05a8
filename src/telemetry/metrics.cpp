#include "telemetry/metrics.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>
#include <functional>
#include <limits>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace aegis::telemetry {

// ---------------------------------------------------------------------------
// Series

void Counter::inc(double v) noexcept {
  if (!(v >= 0.0)) return;  // negative or NaN: a counter never goes down
  // Whole numbers below 2^53 are exact in a double and go to the integer
  // atomic (a single lock xadd, no CAS retry loop under contention).
  if (v < 9007199254740992.0) {
    const auto whole = static_cast<std::uint64_t>(v);
    if (static_cast<double>(whole) == v) {
      whole_.fetch_add(whole, std::memory_order_relaxed);
      return;
    }
  }
  fraction_.fetch_add(v, std::memory_order_relaxed);
}

double Counter::value() const noexcept {
  return static_cast<double>(whole_.load(std::memory_order_relaxed)) + fraction_.load(std::memory_order_relaxed);
}

void Gauge::set(double v) noexcept { value_.store(v, std::memory_order_relaxed); }
void Gauge::add(double v) noexcept { value_.fetch_add(v, std::memory_order_relaxed); }
double Gauge::value() const noexcept { return value_.load(std::memory_order_relaxed); }

namespace {

std::vector<double> normalize_bounds(std::vector<double> bounds) {
  if (!bounds.empty() && bounds.back() == std::numeric_limits<double>::infinity()) bounds.pop_back();
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i])) {
      throw std::invalid_argument("histogram bucket bounds must be finite (a trailing +Inf is implicit)");
    }
    if (i > 0 && !(bounds[i - 1] < bounds[i])) {
      throw std::invalid_argument("histogram bucket bounds must be strictly increasing");
    }
  }
  return bounds;
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(normalize_bounds(std::move(upper_bounds))),
      buckets_(new std::atomic<std::uint64_t>[bounds_.size() + 1]()) {}

void Histogram::observe(double v) noexcept {
  if (std::isnan(v)) return;
  // Bucket i counts bounds_[i-1] < v <= bounds_[i]; the last one is +Inf.
  const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);
  buckets_[static_cast<std::size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

std::uint64_t Histogram::count() const noexcept {
  std::uint64_t total = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) total += buckets_[i].load(std::memory_order_relaxed);
  return total;
}

double Histogram::sum() const noexcept { return sum_.load(std::memory_order_relaxed); }

std::uint64_t Histogram::bucket_count(std::size_t i) const noexcept {
  return i <= bounds_.size() ? buckets_[i].load(std::memory_order_relaxed) : 0;
}

// ---------------------------------------------------------------------------
// Names and formatting

namespace {

bool is_alpha_(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Appends `in`, replacing each byte that does not start a well-formed UTF-8
// sequence with U+FFFD, and escaping through `escape` otherwise.
template <class Escape>
void append_utf8_escaped(std::string& out, std::string_view in, Escape escape) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  const auto* s = reinterpret_cast<const unsigned char*>(in.data());
  const std::size_t n = in.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      escape(out, static_cast<char>(c));
      ++i;
      continue;
    }
    std::size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;  // no overlong forms
      if (c == 0xED) hi = 0x9F;  // no surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;  // no overlong forms
      if (c == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
    }
    bool ok = len != 0 && i + len <= n && s[i + 1] >= lo && s[i + 1] <= hi;
    for (std::size_t k = 2; ok && k < len; ++k) ok = s[i + k] >= 0x80 && s[i + k] <= 0xBF;
    if (ok) {
      out.append(in.data() + i, len);
      i += len;
    } else {
      out += kReplacement;
      ++i;
    }
  }
}

void append_escaped_label_value(std::string& out, std::string_view v) {
  append_utf8_escaped(out, v, [](std::string& o, char c) {
    switch (c) {
      case '\\':
        o += "\\\\";
        break;
      case '"':
        o += "\\\"";
        break;
      case '\n':
        o += "\\n";
        break;
      default:
        o += c;
    }
  });
}

void append_escaped_help(std::string& out, std::string_view v) {
  append_utf8_escaped(out, v, [](std::string& o, char c) {
    switch (c) {
      case '\\':
        o += "\\\\";
        break;
      case '\n':
        o += "\\n";
        break;
      default:
        o += c;
    }
  });
}

void append_value(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[400];  // enough for any fixed-notation double below 1e15
  const double a = std::fabs(v);
  std::to_chars_result r{};
  if (a < 1e15 && std::trunc(v) == v) {
    r = std::to_chars(buf, buf + sizeof buf, static_cast<long long>(v));  // -0.0 -> "0"
  } else if (a >= 1e-6 && a < 1e15) {
    r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);  // shortest round-trip
  } else {
    r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  }
  out.append(buf, r.ptr);
}

void append_uint(std::string& out, std::uint64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

std::string_view type_name(MetricType t) {
  switch (t) {
    case MetricType::counter:
      return "counter";
    case MetricType::gauge:
      return "gauge";
    case MetricType::histogram:
      return "histogram";
  }
  return "untyped";
}

std::size_t hash_values(const std::string_view* values, std::size_t n) noexcept {
  std::size_t h = 0x9e3779b97f4a7c15ull ^ n;
  for (std::size_t i = 0; i < n; ++i) {
    h ^= std::hash<std::string_view>{}(values[i]) + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  }
  return h ^ (h >> 29);
}

void append_header(std::string& out, const detail::FamilyBase& f) {
  out += "# HELP ";
  out += f.name();
  out += ' ';
  append_escaped_help(out, f.help());
  out += "\n# TYPE ";
  out += f.name();
  out += ' ';
  out += type_name(f.type());
  out += '\n';
}

// `labels` is the pre-rendered `a="x",b="y"` (possibly empty); `le` is an
// extra last label for histogram buckets (empty for none).
void append_sample_name(std::string& out, std::string_view name, std::string_view suffix, std::string_view labels,
                        std::string_view le) {
  out += name;
  out += suffix;
  if (labels.empty() && le.empty()) {
    out += ' ';
    return;
  }
  out += '{';
  out += labels;
  if (!le.empty()) {
    if (!labels.empty()) out += ',';
    out += "le=\"";
    out += le;
    out += '"';
  }
  out += "} ";
}

}  // namespace

bool is_valid_metric_name(std::string_view name) noexcept {
  if (name.empty() || !(is_alpha_(name[0]) || name[0] == ':')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return is_alpha_(c) || is_digit(c) || c == ':'; });
}

bool is_valid_label_name(std::string_view name) noexcept {
  if (name.empty() || !is_alpha_(name[0]) || name.starts_with("__")) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return is_alpha_(c) || is_digit(c); });
}

std::string format_value(double v) {
  std::string out;
  append_value(out, v);
  return out;
}

std::string escape_label_value(std::string_view v) {
  std::string out;
  append_escaped_label_value(out, v);
  return out;
}

std::string escape_help(std::string_view v) {
  std::string out;
  append_escaped_help(out, v);
  return out;
}

// ---------------------------------------------------------------------------
// Family

template <class Series>
struct Family<Series>::Entry {
  template <class... Args>
  Entry(std::size_t h, std::vector<std::string> v, Args&&... args)
      : hash(h), values(std::move(v)), series(std::forward<Args>(args)...) {}
  const std::size_t hash;
  const std::vector<std::string> values;
  Series series;
};

// Open addressing with linear probing; slots are written once (null -> entry)
// and never cleared, so readers need no lock. Kept at most half full; a full
// table is replaced by a bigger copy and the old one stays alive (readers may
// still be probing it) until the family dies.
template <class Series>
struct Family<Series>::Table {
  explicit Table(std::size_t capacity) : mask(capacity - 1), slots(new std::atomic<Entry*>[capacity]()) {}
  std::size_t capacity() const noexcept { return mask + 1; }
  void place(Entry* e) noexcept {
    for (std::size_t i = e->hash & mask;; i = (i + 1) & mask) {
      if (slots[i].load(std::memory_order_relaxed) == nullptr) {
        slots[i].store(e, std::memory_order_release);
        return;
      }
    }
  }
  const std::size_t mask;
  const std::unique_ptr<std::atomic<Entry*>[]> slots;
};

template <class Series>
Family<Series>::Family(MetricType type, std::string name, std::string help, std::vector<std::string> label_names,
                       std::vector<double> bounds, std::size_t max_series, Counter* dropped)
    : FamilyBase(type, std::move(name), std::move(help), std::move(label_names)),
      bounds_(std::move(bounds)),
      max_series_(std::max<std::size_t>(max_series, 1)),
      dropped_(dropped) {
  tables_.push_back(std::make_unique<Table>(8));
  table_.store(tables_.back().get(), std::memory_order_release);
  if (this->label_names().empty()) {
    // The one series of an unlabelled family exists from the start (it is
    // exposed as 0) and is also its overflow series.
    overflow_.store(&insert_locked(hash_values(nullptr, 0), nullptr).series, std::memory_order_release);
  }
}

template <class Series>
Family<Series>::~Family() = default;

template <class Series>
typename Family<Series>::Entry* Family<Series>::find(const Table* table, std::size_t hash,
                                                     const std::string_view* values) const noexcept {
  const std::size_t n = label_names().size();
  for (std::size_t i = hash & table->mask;; i = (i + 1) & table->mask) {
    Entry* e = table->slots[i].load(std::memory_order_acquire);
    if (e == nullptr) return nullptr;
    if (e->hash != hash) continue;
    bool same = true;
    for (std::size_t k = 0; k < n && same; ++k) same = e->values[k] == values[k];
    if (same) return e;
  }
}

template <class Series>
Series& Family<Series>::with(std::initializer_list<std::string_view> label_values) {
  const std::size_t n = label_names().size();
  if (label_values.size() != n) [[unlikely]] {
    assert(label_values.size() == n && "Family::with(): number of label values differs from label names");
    note_dropped("a call with the wrong number of label values");
    return overflow();
  }
  const std::string_view* values = label_values.begin();
  const std::size_t hash = hash_values(values, n);
  if (Entry* e = find(table_.load(std::memory_order_acquire), hash, values)) return e->series;
  return create_or_overflow(hash, values);
}

template <class Series>
Series& Family<Series>::create_or_overflow(std::size_t hash, const std::string_view* values) {
  if (full_.load(std::memory_order_acquire)) {
    // The series may have been created between the caller's lookup and the
    // cap being reached; every series made before full_ was set is visible now.
    if (Entry* e = find(table_.load(std::memory_order_acquire), hash, values)) return e->series;
    note_dropped("the series cap");
    return *overflow_.load(std::memory_order_acquire);
  }
  {
    std::lock_guard lock(mu_);
    if (Entry* e = find(table_.load(std::memory_order_relaxed), hash, values)) return e->series;
    if (entries_.size() < max_series_) return insert_locked(hash, values).series;
  }
  Series& o = overflow();
  full_.store(true, std::memory_order_release);  // after overflow_ is published
  note_dropped("the series cap");
  return o;
}

template <class Series>
Series& Family<Series>::overflow() {
  if (Series* o = overflow_.load(std::memory_order_acquire)) return *o;
  std::lock_guard lock(mu_);
  if (Series* o = overflow_.load(std::memory_order_relaxed)) return *o;
  // Stored in the table like any series, so a caller passing "__overflow__"
  // values gets the same series and exposition never shows a duplicate.
  const std::vector<std::string_view> values(label_names().size(), Registry::kOverflowLabelValue);
  const std::size_t hash = hash_values(values.data(), values.size());
  Entry* e = find(table_.load(std::memory_order_relaxed), hash, values.data());
  if (e == nullptr) e = &insert_locked(hash, values.data());  // may exceed the cap by this one series
  overflow_.store(&e->series, std::memory_order_release);
  return e->series;
}

template <class Series>
typename Family<Series>::Entry& Family<Series>::insert_locked(std::size_t hash, const std::string_view* values) {
  const std::size_t n = label_names().size();
  Table* table = tables_.back().get();  // the current generation
  if ((entries_.size() + 1) * 2 > table->capacity()) {
    auto bigger = std::make_unique<Table>(table->capacity() * 2);
    for (const auto& e : entries_) bigger->place(e.get());
    table = bigger.get();
    tables_.push_back(std::move(bigger));
    table_.store(table, std::memory_order_release);
  }
  std::vector<std::string> owned(values, values + n);
  std::unique_ptr<Entry> entry;
  if constexpr (std::is_same_v<Series, Histogram>) {
    entry = std::make_unique<Entry>(hash, std::move(owned), bounds_);
  } else {
    entry = std::make_unique<Entry>(hash, std::move(owned));
  }
  Entry* raw = entry.get();
  entries_.push_back(std::move(entry));
  table->place(raw);  // publish last: the entry is complete
  return *raw;
}

template <class Series>
void Family<Series>::note_dropped(const char* reason) noexcept {
  if (dropped_ != nullptr) dropped_->inc();
  if (!warned_.load(std::memory_order_relaxed) && !warned_.exchange(true)) {
    try {
      spdlog::warn("metrics: family {} sent a label set to its {} series because of {} (cap {} series)", name(),
                   Registry::kOverflowLabelValue, reason, max_series_);
    } catch (...) {
    }
  }
}

template <class Series>
std::size_t Family<Series>::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

template <class Series>
void Family<Series>::expose_into(std::string& out) const {
  std::vector<const Entry*> snapshot;
  {
    std::lock_guard lock(mu_);
    snapshot.reserve(entries_.size());
    for (const auto& e : entries_) snapshot.push_back(e.get());
  }
  if (snapshot.empty()) return;
  std::sort(snapshot.begin(), snapshot.end(), [](const Entry* a, const Entry* b) { return a->values < b->values; });

  append_header(out, *this);
  const auto& names = label_names();
  std::string labels;
  std::string le;
  for (const Entry* e : snapshot) {
    labels.clear();
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (i > 0) labels += ',';
      labels += names[i];
      labels += "=\"";
      append_escaped_label_value(labels, e->values[i]);
      labels += '"';
    }
    if constexpr (std::is_same_v<Series, Histogram>) {
      const Histogram& h = e->series;
      const auto& bounds = h.upper_bounds();
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i <= bounds.size(); ++i) {
        cumulative += h.bucket_count(i);
        le.clear();
        if (i < bounds.size()) {
          append_value(le, bounds[i]);
        } else {
          le = "+Inf";
        }
        append_sample_name(out, name(), "_bucket", labels, le);
        append_uint(out, cumulative);
        out += '\n';
      }
      // _count is the +Inf bucket, so the two always agree even while other
      // threads observe.
      append_sample_name(out, name(), "_sum", labels, {});
      append_value(out, h.sum());
      out += '\n';
      append_sample_name(out, name(), "_count", labels, {});
      append_uint(out, cumulative);
      out += '\n';
    } else {
      append_sample_name(out, name(), {}, labels, {});
      append_value(out, e->series.value());
      out += '\n';
    }
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

// ---------------------------------------------------------------------------
// Registry

Registry::Registry(std::size_t max_series_per_family) : max_series_(std::max<std::size_t>(max_series_per_family, 1)) {
  dropped_ = &counter(std::string(kDroppedMetricName),
                      "Calls to Family::with() that were mapped to the __overflow__ series because the family reached "
                      "its series cap or got the wrong number of label values.")
                  .with({});
}

Registry::~Registry() = default;

namespace {

constexpr std::string_view kHistogramSuffixes[] = {"_bucket", "_sum", "_count"};

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

}  // namespace

template <class Series>
Family<Series>& Registry::get_or_add(MetricType type, std::string name, std::string help,
                                     std::vector<std::string> label_names, std::vector<double> bounds) {
  if (!is_valid_metric_name(name)) {
    throw std::invalid_argument("invalid metric name " + quoted(name) + " (expected [a-zA-Z_:][a-zA-Z0-9_:]*)");
  }
  for (std::size_t i = 0; i < label_names.size(); ++i) {
    const auto& l = label_names[i];
    if (!is_valid_label_name(l)) {
      throw std::invalid_argument("metric " + quoted(name) + ": invalid label name " + quoted(l) +
                                  " (expected [a-zA-Z_][a-zA-Z0-9_]*, not starting with __)");
    }
    if (type == MetricType::histogram && l == "le") {
      throw std::invalid_argument("histogram " + quoted(name) + ": the label name \"le\" is reserved");
    }
    if (std::find(label_names.begin(), label_names.begin() + static_cast<std::ptrdiff_t>(i), l) !=
        label_names.begin() + static_cast<std::ptrdiff_t>(i)) {
      throw std::invalid_argument("metric " + quoted(name) + ": duplicate label name " + quoted(l));
    }
  }
  if (type == MetricType::histogram) bounds = normalize_bounds(std::move(bounds));

  std::lock_guard lock(mu_);
  if (auto it = families_.find(name); it != families_.end()) {
    detail::FamilyBase& existing = *it->second;
    if (existing.type() != type) {
      throw std::invalid_argument("metric " + quoted(name) + " is already registered as a " +
                                  std::string(type_name(existing.type())));
    }
    if (existing.label_names() != label_names) {
      throw std::invalid_argument("metric " + quoted(name) + " is already registered with other label names");
    }
    if (existing.help() != help) {
      throw std::invalid_argument("metric " + quoted(name) + " is already registered with another help text");
    }
    auto& family = static_cast<Family<Series>&>(existing);
    if (family.upper_bounds() != bounds) {
      throw std::invalid_argument("histogram " + quoted(name) + " is already registered with other buckets");
    }
    return family;
  }
  // A histogram also writes name_bucket, name_sum and name_count.
  for (std::string_view suffix : kHistogramSuffixes) {
    if (type == MetricType::histogram && families_.contains(name + std::string(suffix))) {
      throw std::invalid_argument("histogram " + quoted(name) + " would collide with metric " +
                                  quoted(name + std::string(suffix)));
    }
    if (name.ends_with(suffix)) {
      auto base = families_.find(std::string_view(name).substr(0, name.size() - suffix.size()));
      if (base != families_.end() && base->second->type() == MetricType::histogram) {
        throw std::invalid_argument("metric " + quoted(name) + " collides with the series of histogram " +
                                    quoted(base->first));
      }
    }
  }
  std::unique_ptr<Family<Series>> family(new Family<Series>(type, name, std::move(help), std::move(label_names),
                                                            std::move(bounds), max_series_, dropped_));
  Family<Series>& ref = *family;
  families_.emplace(std::move(name), std::move(family));
  return ref;
}

CounterFamily& Registry::counter(std::string name, std::string help, std::vector<std::string> label_names) {
  return get_or_add<Counter>(MetricType::counter, std::move(name), std::move(help), std::move(label_names), {});
}

GaugeFamily& Registry::gauge(std::string name, std::string help, std::vector<std::string> label_names) {
  return get_or_add<Gauge>(MetricType::gauge, std::move(name), std::move(help), std::move(label_names), {});
}

HistogramFamily& Registry::histogram(std::string name, std::string help, std::vector<std::string> label_names,
                                     std::vector<double> upper_bounds) {
  return get_or_add<Histogram>(MetricType::histogram, std::move(name), std::move(help), std::move(label_names),
                               std::move(upper_bounds));
}

std::string Registry::expose() const {
  std::string out;
  std::lock_guard lock(mu_);
  out.reserve(4096);
  for (const auto& [name, family] : families_) family->expose_into(out);
  return out;
}

std::vector<double> Registry::default_latency_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

}  // namespace aegis::telemetry
