#pragma once
// Deterministic data classification in microseconds: every pattern in one
// Vectorscan database compiled once at start-up; validators (Luhn, mod-97,
// SIN rules, entropy, context words) run only where a pattern fired.
#include <memory>
#include <string_view>

#include "classify/finding.hpp"
#include "config/config.hpp"

namespace aegis::classify {

class Classifier {
 public:
  virtual ~Classifier() = default;
  // Thread-safe; per-thread scratch space is managed inside.
  virtual Classification classify(std::string_view text, const Marking& marking = {}) const = 0;
};

// Compiles the built-in rules plus configured custom recognizers (RE2-validated).
// Throws std::runtime_error at start-up on an invalid configuration.
std::unique_ptr<Classifier> make_classifier(const config::ClassificationConfig& config);

}  // namespace aegis::classify
