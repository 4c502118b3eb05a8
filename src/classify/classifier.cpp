#include "classify/classifier.hpp"

#include <hs/hs.h>
#include <re2/re2.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <mutex>
#include <set>
#include <stdexcept>
#include <utility>

#include "classify/detect.hpp"
#include "classify/entity_types.hpp"
#include "classify/normalize.hpp"
#include "classify/validators.hpp"

namespace aegis::classify {

namespace {

constexpr std::size_t kCustomContextWindow = 64;

struct Candidate {
  std::uint32_t id;
  std::uint32_t first_end;
  std::uint32_t last_end;
};

// A finding mapped to original offsets, during overlap resolution.
struct Mapped {
  std::size_t start, end;
  const RawFinding* f;
};

// Everything one classify call needs, pooled so that steady-state calls on
// ASCII text do not allocate beyond the result.
struct Workspace {
  hs_scratch_t* scratch = nullptr;
  std::vector<Candidate> candidates;
  std::vector<std::int32_t> last_index;  // per pattern id: its latest candidate, -1 when none
  NormalizedText norm;
  std::vector<RawFinding> raw;
  std::vector<std::pair<std::size_t, std::size_t>> windows;
  std::vector<Mapped> mapped;
  std::vector<const Mapped*> accepted;
  std::vector<const Mapped*> cluster;
  Workspace() = default;
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  ~Workspace() {
    if (scratch != nullptr) hs_free_scratch(scratch);
  }
};

struct ScanContext {
  Workspace* ws;
  const std::uint8_t* merge;
};

int on_match(unsigned int id, unsigned long long /*from*/, unsigned long long to, unsigned int /*flags*/,
             void* context) {
  auto* ctx = static_cast<ScanContext*>(context);
  auto& ws = *ctx->ws;
  const auto end = static_cast<std::uint32_t>(to);
  std::int32_t& last = ws.last_index[id];
  if (last >= 0 && ctx->merge[id]) {
    Candidate& c = ws.candidates[static_cast<std::size_t>(last)];
    if (end <= c.last_end + 2) {
      c.last_end = std::max(c.last_end, end);
      return 0;
    }
  }
  ws.candidates.push_back(Candidate{id, end, end});
  last = static_cast<std::int32_t>(ws.candidates.size() - 1);
  return 0;
}

enum class Validator { none, luhn, mod97 };

struct CustomRule {
  std::string name;
  std::string entity_type;
  std::string rule;  // "custom:<name>"
  Level level = Level::CONFIDENTIAL;
  Validator validator = Validator::none;
  std::vector<std::string> context_words;  // lower case
  std::unique_ptr<RE2> re;
  bool in_database = false;       // false: RE2 scans the whole text (pattern Vectorscan cannot compile)
  unsigned max_width = UINT_MAX;  // longest match, from Vectorscan; UINT_MAX unbounded
};

std::string lower_ascii(std::string s) {
  for (auto& c : s) c = to_lower(c);
  return s;
}

std::string trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(first, last - first + 1));
}

RE2::Options re2_options() {
  RE2::Options o;
  // Bytes, like Vectorscan without HS_FLAG_UTF8, so the prefilter and the
  // confirming match agree on what '.' and classes mean.
  o.set_encoding(RE2::Options::EncodingLatin1);
  o.set_log_errors(false);
  o.set_max_mem(8 << 20);
  return o;
}

bool wins(const Mapped& a, const Mapped& b) {
  if (a.f->level != b.f->level) return a.f->level > b.f->level;
  if (a.end - a.start != b.end - b.start) return a.end - a.start > b.end - b.start;
  if (a.f->priority != b.f->priority) return a.f->priority > b.f->priority;
  return a.start < b.start;
}

// Keeps a non-overlapping subset, sorted by start: findings that overlap
// nothing pass straight through; within a cluster of overlapping findings the
// winners are chosen greedily (more restrictive, then longer, then the more
// specific rule).
void resolve_overlaps(std::vector<Mapped>& mapped, std::vector<const Mapped*>& cluster,
                      std::vector<const Mapped*>& accepted) {
  std::sort(mapped.begin(), mapped.end(),
            [](const Mapped& a, const Mapped& b) { return a.start != b.start ? a.start < b.start : a.end > b.end; });
  std::size_t i = 0;
  while (i < mapped.size()) {
    std::size_t j = i + 1;
    std::size_t cluster_end = mapped[i].end;
    while (j < mapped.size() && mapped[j].start < cluster_end) cluster_end = std::max(cluster_end, mapped[j++].end);
    if (j == i + 1) {
      accepted.push_back(&mapped[i]);
      i = j;
      continue;
    }
    cluster.clear();
    for (std::size_t k = i; k < j; ++k) cluster.push_back(&mapped[k]);
    std::sort(cluster.begin(), cluster.end(), [](const Mapped* a, const Mapped* b) { return wins(*a, *b); });
    const std::size_t first = accepted.size();
    if (cluster.size() <= 32) {
      for (const Mapped* m : cluster) {
        const bool overlaps = std::any_of(accepted.begin() + static_cast<std::ptrdiff_t>(first), accepted.end(),
                                          [&](const Mapped* a) { return a->start < m->end && m->start < a->end; });
        if (!overlaps) accepted.push_back(m);
      }
    } else {
      std::set<std::pair<std::size_t, std::size_t>> taken;
      for (const Mapped* m : cluster) {
        auto it = taken.lower_bound({m->start, 0});
        if (it != taken.end() && it->first < m->end) continue;
        if (it != taken.begin() && std::prev(it)->second > m->start) continue;
        taken.emplace(m->start, m->end);
        accepted.push_back(m);
      }
    }
    std::sort(accepted.begin() + static_cast<std::ptrdiff_t>(first), accepted.end(),
              [](const Mapped* a, const Mapped* b) { return a->start < b->start; });
    i = j;
  }
}

bool custom_validates(const CustomRule& r, std::string_view value) {
  switch (r.validator) {
    case Validator::none: return true;
    case Validator::luhn: {
      std::string digits;
      for (char c : value) {
        if (is_digit(c)) digits.push_back(c);
      }
      return digits.size() >= 2 && luhn_valid(digits);
    }
    case Validator::mod97: {
      std::string compact;
      for (char c : value) {
        if (is_alnum(c)) compact.push_back(c);
      }
      return mod97_valid(compact);
    }
  }
  return false;
}

class VectorscanClassifier final : public Classifier {
 public:
  explicit VectorscanClassifier(const config::ClassificationConfig& config);
  ~VectorscanClassifier() override;
  VectorscanClassifier(const VectorscanClassifier&) = delete;
  VectorscanClassifier& operator=(const VectorscanClassifier&) = delete;

  Classification classify(std::string_view text, const Marking& marking) const override;

 private:
  std::unique_ptr<Workspace> acquire() const;
  void release(std::unique_ptr<Workspace> ws) const;
  void run_custom(const CustomRule& rule, std::string_view text,
                  std::vector<std::pair<std::size_t, std::size_t>>& windows, std::vector<RawFinding>& out) const;

  hs_database_t* db_ = nullptr;
  hs_scratch_t* prototype_ = nullptr;
  std::vector<std::string> internal_domains_;
  std::vector<CustomRule> custom_;
  std::vector<Kind> kind_of_;            // per pattern id
  std::vector<std::uint8_t> merge_;      // per pattern id
  std::vector<std::int32_t> custom_of_;  // per pattern id: index into custom_, -1 for built-ins
  mutable std::mutex pool_mutex_;
  mutable std::vector<std::unique_ptr<Workspace>> pool_;
};

VectorscanClassifier::VectorscanClassifier(const config::ClassificationConfig& config) {
  for (const auto& d : config.internal_domains) {
    std::string domain = lower_ascii(trim(d));
    while (!domain.empty() && domain.front() == '.') domain.erase(domain.begin());
    while (!domain.empty() && domain.back() == '.') domain.pop_back();
    if (!domain.empty()) internal_domains_.push_back(std::move(domain));
  }

  std::vector<std::string> expressions;
  std::vector<unsigned> flags;
  for (const auto& p : builtin_patterns()) {
    expressions.emplace_back(p.expression);
    flags.push_back(p.flags);
    kind_of_.push_back(p.kind);
    merge_.push_back(p.merge ? 1 : 0);
    custom_of_.push_back(-1);
  }

  for (const auto& rc : config.custom_recognizers) {
    const std::string where = "custom recognizer '" + rc.name + "'";
    if (rc.name.empty()) throw std::runtime_error("classification: a custom recognizer has no name");
    if (rc.entity_type.empty()) throw std::runtime_error(where + ": entity_type is empty");
    if (rc.pattern.empty()) throw std::runtime_error(where + ": pattern is empty");
    CustomRule rule;
    rule.name = rc.name;
    rule.entity_type = rc.entity_type;
    rule.rule = "custom:" + rc.name;
    rule.level = rc.level;
    if (rc.validator.empty())
      rule.validator = Validator::none;
    else if (lower_ascii(rc.validator) == "luhn")
      rule.validator = Validator::luhn;
    else if (lower_ascii(rc.validator) == "mod97")
      rule.validator = Validator::mod97;
    else
      throw std::runtime_error(where + ": unknown validator '" + rc.validator + "' (expected luhn or mod97)");
    for (const auto& w : rc.context_words) {
      std::string word = lower_ascii(trim(w));
      if (!word.empty()) rule.context_words.push_back(std::move(word));
    }
    if (const auto problem = custom_pattern_problem(rc.pattern)) throw std::runtime_error(where + ": " + *problem);
    rule.re = std::make_unique<RE2>(rc.pattern, re2_options());

    // Prefer the shared Vectorscan database; prefilter mode when the exact
    // pattern is beyond Vectorscan; RE2 alone when even that fails.
    for (unsigned extra : {0u, static_cast<unsigned>(HS_FLAG_PREFILTER)}) {
      hs_database_t* probe = nullptr;
      hs_compile_error_t* err = nullptr;
      const unsigned f = extra;
      if (hs_compile(rc.pattern.c_str(), f, HS_MODE_BLOCK, nullptr, &probe, &err) == HS_SUCCESS) {
        hs_free_database(probe);
        hs_expr_info_t* info = nullptr;
        hs_compile_error_t* info_err = nullptr;
        if (hs_expression_info(rc.pattern.c_str(), f, &info, &info_err) == HS_SUCCESS && info != nullptr) {
          rule.max_width = info->max_width;
          std::free(info);
        } else if (info_err != nullptr) {
          hs_free_compile_error(info_err);
        }
        rule.in_database = true;
        expressions.push_back(rc.pattern);
        flags.push_back(f);
        kind_of_.push_back(Kind::custom);
        merge_.push_back(1);
        custom_of_.push_back(static_cast<std::int32_t>(custom_.size()));
        break;
      }
      if (err != nullptr) hs_free_compile_error(err);
    }
    custom_.push_back(std::move(rule));
  }

  std::vector<const char*> exprs;
  std::vector<unsigned> ids;
  for (std::size_t i = 0; i < expressions.size(); ++i) {
    exprs.push_back(expressions[i].c_str());
    ids.push_back(static_cast<unsigned>(i));
  }
  hs_compile_error_t* err = nullptr;
  if (hs_compile_multi(exprs.data(), flags.data(), ids.data(), static_cast<unsigned>(exprs.size()), HS_MODE_BLOCK,
                       nullptr, &db_, &err) != HS_SUCCESS) {
    std::string message = err != nullptr && err->message != nullptr ? err->message : "unknown error";
    int which = err != nullptr ? err->expression : -1;
    if (err != nullptr) hs_free_compile_error(err);
    if (which >= 0 && static_cast<std::size_t>(which) < custom_of_.size() && custom_of_[which] >= 0) {
      throw std::runtime_error("custom recognizer '" + custom_[static_cast<std::size_t>(custom_of_[which])].name +
                               "': " + message);
    }
    throw std::runtime_error("classifier: cannot compile the pattern database: " + message);
  }
  if (hs_alloc_scratch(db_, &prototype_) != HS_SUCCESS) {
    hs_free_database(db_);
    throw std::runtime_error("classifier: cannot allocate Vectorscan scratch space");
  }
}

VectorscanClassifier::~VectorscanClassifier() {
  pool_.clear();
  if (prototype_ != nullptr) hs_free_scratch(prototype_);
  if (db_ != nullptr) hs_free_database(db_);
}

std::unique_ptr<Workspace> VectorscanClassifier::acquire() const {
  std::lock_guard lock(pool_mutex_);
  if (!pool_.empty()) {
    auto ws = std::move(pool_.back());
    pool_.pop_back();
    return ws;
  }
  auto ws = std::make_unique<Workspace>();
  if (hs_clone_scratch(prototype_, &ws->scratch) != HS_SUCCESS) {
    throw std::runtime_error("classifier: cannot clone Vectorscan scratch space");
  }
  ws->last_index.assign(kind_of_.size(), -1);
  return ws;
}

void VectorscanClassifier::release(std::unique_ptr<Workspace> ws) const {
  // Do not keep the memory of one huge request around.
  if (ws->candidates.capacity() > (1u << 16)) ws->candidates = {};
  if (ws->raw.capacity() > (1u << 14)) {
    ws->raw = {};
    ws->mapped = {};
    ws->accepted = {};
  }
  std::lock_guard lock(pool_mutex_);
  pool_.push_back(std::move(ws));
}

void VectorscanClassifier::run_custom(const CustomRule& rule, std::string_view text,
                                      std::vector<std::pair<std::size_t, std::size_t>>& windows,
                                      std::vector<RawFinding>& out) const {
  // Merge overlapping windows, then let RE2 find the exact spans inside them.
  std::sort(windows.begin(), windows.end());
  std::size_t accepted_end = 0;
  std::size_t w = 0;
  while (w < windows.size()) {
    std::size_t from = windows[w].first;
    std::size_t to = windows[w].second;
    ++w;
    while (w < windows.size() && windows[w].first <= to) to = std::max(to, windows[w++].second);
    from = std::max(from, accepted_end);
    std::size_t pos = from;
    while (pos < to) {
      re2::StringPiece match;
      if (!rule.re->Match(re2::StringPiece(text.data(), text.size()), pos, to, RE2::UNANCHORED, &match, 1)) break;
      const auto ms = static_cast<std::size_t>(match.data() - text.data());
      const auto me = ms + match.size();
      pos = me > ms ? me : ms + 1;
      if (me == ms || ms < accepted_end) continue;
      if (!custom_validates(rule, text.substr(ms, me - ms))) continue;
      if (!rule.context_words.empty() && !has_context_before(text, ms, kCustomContextWindow, rule.context_words) &&
          !has_context_after(text, me, kCustomContextWindow, rule.context_words)) {
        continue;
      }
      accepted_end = me;
      out.push_back(RawFinding{static_cast<std::uint32_t>(ms), static_cast<std::uint32_t>(me), rule.level,
                               priority::custom, rule.entity_type, rule.rule});
    }
  }
}

Classification VectorscanClassifier::classify(std::string_view text, const Marking& marking) const {
  auto ws = acquire();
  struct Return {
    const VectorscanClassifier* self;
    std::unique_ptr<Workspace>& ws;
    ~Return() {
      if (ws) self->release(std::move(ws));
    }
  } give_back{this, ws};

  ws->norm.reset(text);
  const std::string_view t = ws->norm.text();
  ws->candidates.clear();
  ws->raw.clear();

  if (!t.empty()) {
    ScanContext ctx{ws.get(), merge_.data()};
    const hs_error_t rc = hs_scan(db_, t.data(), static_cast<unsigned>(t.size()), 0, ws->scratch, on_match, &ctx);
    std::fill(ws->last_index.begin(), ws->last_index.end(), -1);
    if (rc != HS_SUCCESS && rc != HS_SCAN_TERMINATED) {
      throw std::runtime_error("classifier: Vectorscan scan failed (" + std::to_string(rc) + ")");
    }
  }
  std::sort(ws->candidates.begin(), ws->candidates.end(), [](const Candidate& a, const Candidate& b) {
    return a.first_end != b.first_end ? a.first_end < b.first_end : a.id < b.id;
  });

  Detector detector(t, internal_domains_, ws->raw);
  bool any_custom = false;
  for (const auto& c : ws->candidates) {
    if (custom_of_[c.id] >= 0) {
      any_custom = true;
      continue;
    }
    detector.on_candidate(kind_of_[c.id], c.first_end, c.last_end);
  }
  for (std::size_t r = 0; r < custom_.size(); ++r) {
    const auto& rule = custom_[r];
    ws->windows.clear();
    if (!rule.in_database) {
      if (!t.empty()) ws->windows.emplace_back(0, t.size());
    } else if (any_custom) {
      for (const auto& c : ws->candidates) {
        if (custom_of_[c.id] != static_cast<std::int32_t>(r)) continue;
        const std::size_t from = rule.max_width >= c.first_end ? 0 : c.first_end - rule.max_width;
        ws->windows.emplace_back(from, c.last_end);
      }
    }
    if (!ws->windows.empty()) run_custom(rule, t, ws->windows, ws->raw);
  }

  // Map to original offsets, then resolve overlaps: the more restrictive
  // finding wins, then the longer, then the more specific rule.
  auto& mapped = ws->mapped;
  auto& accepted = ws->accepted;
  mapped.clear();
  accepted.clear();
  for (const auto& f : ws->raw) {
    const auto [s, e] = ws->norm.to_original(f.start, f.end);
    if (e > s) mapped.push_back(Mapped{s, e, &f});
  }
  resolve_overlaps(mapped, ws->cluster, accepted);

  Classification result;
  const bool marked_public = marking.explicit_public || text_marked_public(t);
  result.level = marked_public ? Level::PUBLIC : Level::INTERNAL;
  result.findings.reserve(accepted.size());
  for (const Mapped* m : accepted) {
    // In a text marked public, values that are masked before any provider
    // sees them anyway (an external e-mail address, a phone number, an IP
    // address) do not make it INTERNAL; every other finding raises the level.
    const bool masked_anyway =
        m->f->level == Level::INTERNAL &&
        (m->f->rule == "email" || m->f->type == entity::kPhone || m->f->type == entity::kIpAddress);
    if (!(marked_public && masked_anyway)) result.level = std::max(result.level, m->f->level);
    result.findings.push_back(Finding{std::string(m->f->type), m->f->level, m->start, m->end, std::string(m->f->rule)});
  }
  return result;
}

bool public_marker(std::string_view line) noexcept {
  auto eq = [](std::string_view a, std::string_view lower) {
    if (a.size() != lower.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (to_lower(a[i]) != lower[i]) return false;
    }
    return true;
  };
  if (eq(line, "[public]")) return true;
  constexpr std::string_view kKey = "classification";
  if (line.size() < kKey.size() || !eq(line.substr(0, kKey.size()), kKey)) return false;
  std::size_t p = kKey.size();
  auto skip_ws = [&] {
    while (p < line.size() && (line[p] == ' ' || line[p] == '\t')) ++p;
  };
  skip_ws();
  if (p >= line.size() || line[p] != ':') return false;
  ++p;
  skip_ws();
  std::string_view value = line.substr(p);
  if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front()) {
    value = value.substr(1, value.size() - 2);
  }
  return eq(value, "public");
}

}  // namespace

bool text_marked_public(std::string_view text) noexcept {
  std::size_t p = 0;
  while (p <= text.size()) {
    std::size_t eol = text.find('\n', p);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(p, eol - p);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t' || line.front() == '\r' ||
                             line.front() == '\f' || line.front() == '\v')) {
      line.remove_prefix(1);
    }
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r' || line.back() == '\f' ||
                             line.back() == '\v')) {
      line.remove_suffix(1);
    }
    if (!line.empty()) return public_marker(line);
    if (eol == text.size()) break;
    p = eol + 1;
  }
  return false;
}

std::optional<std::string> custom_pattern_problem(const std::string& pattern) {
  const RE2 re(pattern, re2_options());
  if (!re.ok()) return "invalid pattern: " + re.error();
  if (RE2::FullMatch("", re)) return "pattern matches the empty string";
  return std::nullopt;
}

std::unique_ptr<Classifier> make_classifier(const config::ClassificationConfig& config) {
  return std::make_unique<VectorscanClassifier>(config);
}

}  // namespace aegis::classify
