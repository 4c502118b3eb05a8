#pragma once
// The egress guard (compliance/egress_guard.hpp): local destinations are
// decided by address; every other send is checked twice, by two detectors
// that share no code:
//   1. re-classified with the request classifier (so configured RESTRICTED
//      custom recognizers hold at egress too): a RESTRICTED finding blocks it,
//      500 egress_blocked;
//   2. scanned by the independent egress detector (compliance/egress_detector.hpp):
//      a hit vetoes it with egress_vetoed, carrying the detector's rule, and
//      counts aegis_egress_vetoes_total{rule}. The gateway then treats the
//      request as RESTRICTED and moves it to a local provider.
// Both run before a byte of the request is written.
//
// JSON escapes: provider bodies are JSON, and a string like "\u0030\u0034\u0036
// 454 286" is a SIN that the classifier cannot see in the raw bytes. A body
// holding a backslash is therefore classified twice: once with the escapes
// inside JSON string literals decoded (decode_json_string_escapes) and once
// raw; the most restrictive result wins, so decoding can only make the guard
// stricter. A body without a backslash has no escapes and is classified once,
// as is. Other encodings (base64 payloads, images) are not decoded.
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "classify/classifier.hpp"
#include "compliance/egress_detector.hpp"
#include "compliance/egress_guard.hpp"
#include "config/config.hpp"
#include "core/cidr.hpp"
#include "telemetry/metrics.hpp"

namespace aegis::compliance {

class ClassifierEgressGuard final : public EgressGuard {
 public:
  // Parses egress.local_cidrs once; throws std::invalid_argument on a CIDR the
  // config loader should have refused. `classifier`, `detector` and `metrics`
  // must outlive the guard; a null detector leaves only the classifier (tests).
  ClassifierEgressGuard(const config::EgressConfig& config, const classify::Classifier& classifier,
                        const compliance::EgressDetector* detector, telemetry::Registry& metrics);

  // Thread-safe.
  Result<void> check(std::string_view provider, config::Locality declared, std::string_view remote_ip,
                     std::string_view body) override;
  bool is_local_address(std::string_view remote_ip) const override;

  // Creates the provider's aegis_pipeda_blocked_total series at 0, so the
  // first block is an increase that increase()/rate() and alerts can see.
  void watch(std::string_view provider) { blocked_.with({std::string(provider)}); }

 private:
  void warn_declared_local_once(std::string_view provider, std::string_view remote_ip);

  std::vector<Cidr> networks_;
  const classify::Classifier& classifier_;
  const compliance::EgressDetector* detector_;
  telemetry::CounterFamily& blocked_;
  telemetry::CounterFamily& vetoes_;
  std::mutex warned_mutex_;
  std::set<std::string, std::less<>> warned_;  // providers already logged as declared-local-but-not-local
};

// The text with every escape inside a JSON string literal decoded (\n, \",
// \uXXXX with surrogate pairs to UTF-8; a lone surrogate becomes U+FFFD);
// everything outside string literals, and any malformed escape, is copied
// unchanged. Not a validator: it never fails, whatever the input.
std::string decode_json_string_escapes(std::string_view text);

}  // namespace aegis::compliance
