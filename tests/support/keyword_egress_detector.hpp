#pragma once
// An egress detector for tests of the layers around it (the guard, the
// gateway's veto): it fires, with a chosen rule, wherever a keyword occurs, so
// a test decides exactly which bodies are vetoed, independently of what the
// real digits-first detector or the classifier would say.
#include <atomic>
#include <optional>
#include <string>
#include <string_view>

#include "compliance/egress_detector.hpp"

namespace aegis::test_support {

class KeywordEgressDetector final : public compliance::EgressDetector {
 public:
  explicit KeywordEgressDetector(std::string keyword, std::string_view rule = "pan.luhn")
      : keyword_(std::move(keyword)), rule_(rule) {}
  std::optional<compliance::EgressHit> scan(std::string_view text) const override {
    scans.fetch_add(1);
    const auto at = text.find(keyword_);
    if (at == std::string_view::npos) return std::nullopt;
    return compliance::EgressHit{rule_, at};
  }
  mutable std::atomic<int> scans{0};

 private:
  std::string keyword_;
  std::string_view rule_;
};

}  // namespace aegis::test_support
