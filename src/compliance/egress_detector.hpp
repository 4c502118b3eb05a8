#pragma once
// The second, independent detector of RESTRICTED data (layer 3b in
// docs/ARCHITECTURE.md). The egress guard runs it on every body bound for a
// provider outside the local network, next to its re-scan with the request
// classifier. It is written separately from classify/ and shares no code with
// it, so that one format the classifier does not know cannot pass both: it is
// deliberately broad and digits-first (separators removed, Unicode decimal
// digits of every script normalised), and may fire on values the classifier
// rightly calls harmless; such a request then runs on a local provider.
#include <cstddef>
#include <memory>
#include <optional>
#include <string_view>

namespace aegis::compliance {

// Every rule name a detector may report, so that their counters exist at 0
// from start-up (aegis_egress_vetoes_total{rule}).
inline constexpr std::string_view kEgressRules[] = {"pan.luhn", "sin.grouped", "sin.context", "iban.mod97",
                                                    "account.context"};

// aegis_egress_vetoes_total's help: the egress guard and the gateway's check
// of attachments (gateway/gateway.cpp) count into the same family.
inline constexpr std::string_view kEgressVetoesHelp =
    "Sends to a destination outside the local network that the independent egress detector vetoed (the request "
    "then ran as RESTRICTED on a local provider), by rule";

struct EgressHit {
  std::string_view rule;   // static storage: "pan.luhn", "sin.grouped", "sin.context", "iban.mod97", "account.context"
  std::size_t offset = 0;  // byte offset in the scanned text where the value starts (for tests, never logged with data)
};

class EgressDetector {
 public:
  virtual ~EgressDetector() = default;
  // The first RESTRICTED-shaped value in `text` (a raw outbound body: JSON,
  // form text, any script), or nullopt. Thread-safe and allocation-free.
  virtual std::optional<EgressHit> scan(std::string_view text) const = 0;
};

// Factory keyed by type name; "digits_first" is the built-in detector.
// nullptr for an unknown type.
std::unique_ptr<EgressDetector> make_egress_detector(std::string_view type = "digits_first");

}  // namespace aegis::compliance
