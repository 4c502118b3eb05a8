// The egress guard (compliance/classifier_egress_guard.hpp): which peer
// addresses count as local, and which cloud-bound bodies it blocks.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "classify/classifier.hpp"
#include "compliance/classifier_egress_guard.hpp"
#include "core/classification.hpp"
#include "support/keyword_egress_detector.hpp"
#include "telemetry/metrics.hpp"

namespace aegis::compliance {
namespace {

using config::Locality;

// Counts classify() calls, so a test can tell whether the guard scanned at all.
class CountingClassifier final : public classify::Classifier {
 public:
  explicit CountingClassifier(const classify::Classifier& inner) : inner_(inner) {}
  classify::Classification classify(std::string_view text, const classify::Marking& marking) const override {
    calls.fetch_add(1);
    return inner_.classify(text, marking);
  }
  mutable std::atomic<int> calls{0};

 private:
  const classify::Classifier& inner_;
};

// A value of `series` (e.g. `aegis_pipeda_blocked_total{provider="openai"}`) in the exposition; -1 when absent.
double metric(const telemetry::Registry& registry, const std::string& series) {
  const std::string text = registry.expose();
  const std::string needle = "\n" + series + " ";
  const auto at = text.find(needle);
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + needle.size()));
}

std::string blocked_series(std::string_view provider) {
  return "aegis_pipeda_blocked_total{provider=\"" + std::string(provider) + "\"}";
}

// A chat body as the OpenAI adapter would send it.
std::string chat_body(std::string_view content_json_escaped) {
  return R"({"model":"gpt-4o","messages":[{"role":"user","content":")" + std::string(content_json_escaped) +
         R"("}],"max_tokens":64})";
}

constexpr std::string_view kSinText = "my SIN is 046 454 286, thanks";  // a valid SIN with its context word

class EgressGuardTest : public ::testing::Test {
 protected:
  ClassifierEgressGuard& guard(std::vector<std::string> local_cidrs = {},
                               const compliance::EgressDetector* detector = nullptr) {
    config::EgressConfig config;
    config.local_cidrs = std::move(local_cidrs);
    guard_ = std::make_unique<ClassifierEgressGuard>(config, counting_, detector, metrics_);
    return *guard_;
  }

  std::unique_ptr<classify::Classifier> classifier_ = classify::make_classifier({});
  CountingClassifier counting_{*classifier_};
  telemetry::Registry metrics_;
  std::unique_ptr<ClassifierEgressGuard> guard_;
};

TEST_F(EgressGuardTest, AddressClasses) {
  auto& g = guard();
  // clang-format off
  const std::vector<std::pair<std::string, bool>> cases = {
      // loopback 127/8 and ::1
      {"127.0.0.1", true}, {"127.255.255.254", true}, {"::1", true}, {"::2", false},
      // RFC 1918
      {"10.0.0.1", true}, {"10.255.255.255", true}, {"9.255.255.255", false}, {"11.0.0.0", false},
      {"172.16.0.1", true}, {"172.31.255.255", true}, {"172.15.255.255", false}, {"172.32.0.0", false},
      {"192.168.0.1", true}, {"192.168.255.255", true}, {"192.167.255.255", false}, {"192.169.0.0", false},
      // RFC 4193 fc00::/7 (fc.. and fd..), but not fe80::/10 link-local or global unicast
      {"fc00::1", true}, {"fd12:3456:789a::1", true}, {"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true},
      {"fbff:ffff::1", false}, {"fe00::1", false}, {"fe80::1", false}, {"2001:4860:4860::8888", false},
      // IPv4-mapped IPv6 forms follow the IPv4 address
      {"::ffff:10.1.2.3", true}, {"::ffff:127.0.0.1", true}, {"::ffff:172.16.5.4", true},
      {"::ffff:192.168.1.1", true}, {"::ffff:8.8.8.8", false}, {"::ffff:172.32.0.1", false},
      {"::ffff:a01:203", true},  // ::ffff:10.1.2.3 written in hex
      // public IPv4 and the unspecified addresses
      {"8.8.8.8", false}, {"1.1.1.1", false}, {"0.0.0.0", false}, {"::", false}, {"100.64.0.1", false},
      // unparseable: never local
      {"", false}, {"localhost", false}, {"10.0.0", false}, {"999.1.1.1", false}, {"10.0.0.1/8", false},
      {" 10.0.0.1", false}, {"10.0.0.1 ", false}, {"not an ip", false}, {"[::1]", false}, {"127.0.0.1:80", false},
  };
  // clang-format on
  for (const auto& [ip, local] : cases) EXPECT_EQ(g.is_local_address(ip), local) << "'" << ip << "'";
}

TEST_F(EgressGuardTest, ConfiguredCidrsAreLocalToo) {
  auto& g = guard({"100.64.0.0/10", "2001:db8:1::/48", "203.0.113.7/32"});
  EXPECT_TRUE(g.is_local_address("100.64.0.1"));
  EXPECT_TRUE(g.is_local_address("100.127.255.255"));  // /10 ends mid-byte
  EXPECT_FALSE(g.is_local_address("100.128.0.0"));
  EXPECT_FALSE(g.is_local_address("100.63.255.255"));
  EXPECT_TRUE(g.is_local_address("::ffff:100.64.0.1"));
  EXPECT_TRUE(g.is_local_address("2001:db8:1:ffff::1"));
  EXPECT_FALSE(g.is_local_address("2001:db8:2::1"));
  EXPECT_TRUE(g.is_local_address("203.0.113.7"));
  EXPECT_FALSE(g.is_local_address("203.0.113.8"));
  // The built-in networks stay local.
  EXPECT_TRUE(g.is_local_address("192.168.1.1"));
  EXPECT_FALSE(g.is_local_address("8.8.8.8"));

  // Those same CIDRs make a declared-local provider there local: no scan.
  EXPECT_TRUE(g.check("vllm", Locality::local, "100.64.3.4", chat_body(kSinText)).ok());
  EXPECT_EQ(counting_.calls.load(), 0);
}

TEST_F(EgressGuardTest, ZeroPrefixCidrMakesEverythingLocal) {
  auto& g = guard({"0.0.0.0/0"});
  EXPECT_TRUE(g.is_local_address("8.8.8.8"));
  EXPECT_TRUE(g.is_local_address("::ffff:8.8.8.8"));
  EXPECT_FALSE(g.is_local_address("2001:4860:4860::8888"));  // an IPv4 block never covers native IPv6
}

TEST_F(EgressGuardTest, InvalidCidrIsRefusedAtConstruction) {
  for (const std::string cidr : {"10.0.0.0/33", "::/129", "10.0.0.0", "nonsense/8", "10.0.0.0/x", "10.0.0.0/"}) {
    config::EgressConfig config;
    config.local_cidrs = {cidr};
    EXPECT_THROW(ClassifierEgressGuard(config, counting_, nullptr, metrics_), std::invalid_argument) << cidr;
  }
}

TEST_F(EgressGuardTest, LocalProviderAtLocalAddressIsAllowedWithoutAScan) {
  auto& g = guard();
  for (const std::string ip : {"127.0.0.1", "10.1.2.3", "::1", "fd00::5", "::ffff:192.168.0.9"}) {
    EXPECT_TRUE(g.check("ollama", Locality::local, ip, chat_body(kSinText)).ok()) << ip;
  }
  EXPECT_EQ(counting_.calls.load(), 0) << "a local send must not pay for a scan";
  EXPECT_EQ(metric(metrics_, blocked_series("ollama")), -1);
}

TEST_F(EgressGuardTest, RestrictedBodyToCloudIsBlockedAndCounted) {
  auto& g = guard();
  const std::string body = chat_body(kSinText);
  ASSERT_EQ(classifier_->classify(body).level, Level::RESTRICTED);

  // A cloud provider is cloud-bound whatever address it connects to (even loopback, e.g. a local proxy).
  for (const std::string ip : {"203.0.113.10", "127.0.0.1"}) {
    auto result = g.check("openai", Locality::cloud, ip, body);
    ASSERT_FALSE(result.ok()) << ip;
    EXPECT_EQ(result.error().code, ErrorCode::egress_blocked);
    EXPECT_EQ(http_status(result.error().code), 500);
    const std::string& message = result.error().message;
    EXPECT_NE(message.find("'openai'"), std::string::npos) << message;
    EXPECT_NE(message.find("CA_SIN"), std::string::npos) << message;
    // Types only, never the values or the content.
    EXPECT_EQ(message.find("046"), std::string::npos) << message;
    EXPECT_EQ(message.find("286"), std::string::npos) << message;
    EXPECT_EQ(message.find("thanks"), std::string::npos) << message;
  }
  EXPECT_EQ(metric(metrics_, blocked_series("openai")), 2);

  // Every RESTRICTED type is named, each once, in a stable order.
  auto both = g.check("anthropic", Locality::cloud, "203.0.113.10",
                      chat_body("card 4111 1111 1111 1111, SIN 046 454 286, SIN 130 692 544"));
  ASSERT_FALSE(both.ok());
  EXPECT_NE(both.error().message.find("(CA_SIN, CREDIT_CARD)"), std::string::npos) << both.error().message;
  EXPECT_EQ(metric(metrics_, blocked_series("anthropic")), 1);
  EXPECT_EQ(metric(metrics_, blocked_series("openai")), 2);
}

TEST_F(EgressGuardTest, ConfidentialAndMaskedBodiesMayGoToCloud) {
  auto& g = guard();
  const std::string confidential =
      chat_body("use key sk-proj-Xq7Lm2Rt9Vb4Nw8Kz1Pc6Hd3Fg5Js0Ty2Ue7Io4Ap9Sl1Mn6Bv3 please");
  ASSERT_EQ(classifier_->classify(confidential).level, Level::CONFIDENTIAL);
  EXPECT_TRUE(g.check("openai", Locality::cloud, "203.0.113.10", confidential).ok());

  // What the masking stage sends instead of the SIN: a typed placeholder.
  const std::string masked = chat_body("my SIN is CA_SIN_0, thanks");
  EXPECT_TRUE(g.check("openai", Locality::cloud, "203.0.113.10", masked).ok());
  EXPECT_TRUE(g.check("openai", Locality::cloud, "203.0.113.10", chat_body("hello there")).ok());
  EXPECT_EQ(counting_.calls.load(), 3) << "every cloud-bound body is scanned";
  EXPECT_EQ(metric(metrics_, blocked_series("openai")), -1);
}

TEST_F(EgressGuardTest, EmptyBodyNeedsNoScan) {
  auto& g = guard();
  EXPECT_TRUE(g.check("openai", Locality::cloud, "203.0.113.10", "").ok());  // health checks (GET)
  EXPECT_EQ(counting_.calls.load(), 0);
}

TEST_F(EgressGuardTest, DeclaredLocalButPublicAddressIsTreatedAsCloud) {
  auto& g = guard();
  const std::string restricted = chat_body(kSinText);
  for (int i = 0; i < 2; ++i) {  // the warning is logged once; the check applies every time
    auto result = g.check("vllm", Locality::local, "8.8.8.8", restricted);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().code, ErrorCode::egress_blocked);
    EXPECT_NE(result.error().message.find("'vllm'"), std::string::npos);
  }
  EXPECT_EQ(metric(metrics_, blocked_series("vllm")), 2);
  // Not RESTRICTED: it may go, but only after a scan.
  const int before = counting_.calls.load();
  EXPECT_TRUE(g.check("vllm", Locality::local, "::ffff:8.8.8.8", chat_body("hello")).ok());
  EXPECT_GT(counting_.calls.load(), before);
}

TEST_F(EgressGuardTest, UnparseableAddressIsNotLocal) {
  auto& g = guard();
  for (const std::string ip : {"", "localhost", "garbage"}) {
    auto result = g.check("ollama", Locality::local, ip, chat_body(kSinText));
    ASSERT_FALSE(result.ok()) << "'" << ip << "'";
    EXPECT_EQ(result.error().code, ErrorCode::egress_blocked);
  }
}

TEST_F(EgressGuardTest, JsonEscapedSinIsStillBlocked) {
  auto& g = guard();
  // "046 454 286" with its digits written as JSON \u escapes, the way any JSON
  // encoder may legally write them: the raw bytes show no SIN at all.
  const std::string escaped_digits = chat_body(R"(my SIN is \u0030\u0034\u0036 \u0034\u0035\u0034 \u0032\u0038\u0036)");
  ASSERT_NE(classifier_->classify(escaped_digits).level, Level::RESTRICTED) << "the test needs a hidden SIN";
  auto result = g.check("openai", Locality::cloud, "203.0.113.10", escaped_digits);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message.find("CA_SIN"), std::string::npos) << result.error().message;

  // The context word escaped, the separators escaped (\u00a0 no-break space, \t), upper-case hex.
  for (const std::string content : {R"(my \u0053\u0049\u004E is 046 454 286)", R"(SIN\u00A0046\u00a0454\u00a0286)",
                                    R"(card\t\u0034111 1111 1111 1111)"}) {
    auto blocked = g.check("openai", Locality::cloud, "203.0.113.10", chat_body(content));
    EXPECT_FALSE(blocked.ok()) << content;
  }
  EXPECT_EQ(metric(metrics_, blocked_series("openai")), 4);

  // A raw SIN next to unrelated escapes is still seen.
  EXPECT_FALSE(
      g.check("openai", Locality::cloud, "203.0.113.10", chat_body(R"(line one\nmy SIN is 046 454 286)")).ok());
}

std::string veto_series(std::string_view rule) {
  return "aegis_egress_vetoes_total{rule=\"" + std::string(rule) + "\"}";
}

TEST_F(EgressGuardTest, DetectorVetoesWhatTheClassifierLetsThroughAndNamesItsRule) {
  test_support::KeywordEgressDetector detector("ZQ6759", "pan.luhn");
  auto& g = guard({}, &detector);
  // Every rule's series exists at 0 from the start, so the first veto is an increase an alert sees.
  for (std::string_view rule : compliance::kEgressRules) EXPECT_EQ(metric(metrics_, veto_series(rule)), 0) << rule;

  const std::string body = chat_body("Charge reference ZQ6759 for the renewal");
  ASSERT_NE(classifier_->classify(body).level, Level::RESTRICTED) << "the test needs a value only the detector sees";
  auto result = g.check("anthropic", Locality::cloud, "203.0.113.10", body);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::egress_vetoed);
  EXPECT_EQ(result.error().rule, "pan.luhn");
  // The rule and the provider, never the value or the content.
  EXPECT_NE(result.error().message.find("'anthropic'"), std::string::npos) << result.error().message;
  EXPECT_EQ(result.error().message.find("6759"), std::string::npos) << result.error().message;
  EXPECT_EQ(result.error().message.find("renewal"), std::string::npos) << result.error().message;
  EXPECT_EQ(metric(metrics_, veto_series("pan.luhn")), 1);
  EXPECT_EQ(metric(metrics_, blocked_series("anthropic")), -1) << "a veto is not a classifier block";

  // A body without the value goes.
  EXPECT_TRUE(g.check("anthropic", Locality::cloud, "203.0.113.10", chat_body("hello")).ok());
}

TEST_F(EgressGuardTest, ClassifierBlockComesFirstAndLocalSendsAreNotScanned) {
  test_support::KeywordEgressDetector detector("046", "sin.grouped");
  auto& g = guard({}, &detector);
  auto blocked = g.check("openai", Locality::cloud, "203.0.113.10", chat_body(kSinText));
  ASSERT_FALSE(blocked.ok());
  EXPECT_EQ(blocked.error().code, ErrorCode::egress_blocked);
  EXPECT_EQ(metric(metrics_, veto_series("sin.grouped")), 0);

  const int scans = detector.scans.load();
  EXPECT_TRUE(g.check("ollama", Locality::local, "127.0.0.1", chat_body(kSinText)).ok());
  EXPECT_EQ(detector.scans.load(), scans) << "a local send must not pay for a scan";

  // Declared local at a public address: cloud-bound, so both detectors look.
  auto vetoed = g.check("vllm", Locality::local, "8.8.8.8", chat_body("ref 046"));
  ASSERT_FALSE(vetoed.ok());
  EXPECT_EQ(vetoed.error().code, ErrorCode::egress_vetoed);
}

TEST_F(EgressGuardTest, DetectorSeesThroughJsonEscapes) {
  // "6759" spelled with \u escapes: only the decoded body holds it.
  test_support::KeywordEgressDetector detector("6759");
  auto& g = guard({}, &detector);
  auto result = g.check("openai", Locality::cloud, "203.0.113.10", chat_body(R"(card \u0036\u0037\u0035\u0039 6498)"));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::egress_vetoed);
}

TEST_F(EgressGuardTest, WithoutADetectorOnlyTheClassifierDecides) {
  auto& g = guard();
  EXPECT_TRUE(g.check("openai", Locality::cloud, "203.0.113.10", chat_body("ref 6759")).ok());
  EXPECT_EQ(metric(metrics_, veto_series("pan.luhn")), -1) << "no detector, no veto series";
}

TEST(DecodeJsonStringEscapes, DecodesEscapesInsideStringsOnly) {
  EXPECT_EQ(decode_json_string_escapes(R"({"a":"x\ny\t\"q\" \\ \/"})"), "{\"a\":\"x\ny\t\"q\" \\ /\"}");
  EXPECT_EQ(decode_json_string_escapes(R"("\u0041\u00e9\u20AC")"), "\"A\xc3\xa9\xe2\x82\xac\"");
  EXPECT_EQ(decode_json_string_escapes(R"("\ud83d\ude00")"), "\"\xf0\x9f\x98\x80\"");  // surrogate pair
  EXPECT_EQ(decode_json_string_escapes(R"("\ud83d x")"), "\"\xef\xbf\xbd x\"");        // lone high surrogate
  EXPECT_EQ(decode_json_string_escapes(R"("\ude00")"), "\"\xef\xbf\xbd\"");            // lone low surrogate
  // Malformed escapes are kept as they are.
  EXPECT_EQ(decode_json_string_escapes(R"("\x \u12 \u12g4 \)"), R"("\x \u12 \u12g4 \)");
  // Outside a string literal nothing is decoded; an escaped quote does not end the string.
  EXPECT_EQ(decode_json_string_escapes(R"(\u0031 "a\"b \u0032" \u0033)"), R"(\u0031 "a"b 2" \u0033)");
  EXPECT_EQ(decode_json_string_escapes(""), "");
  EXPECT_EQ(decode_json_string_escapes("no escapes at all"), "no escapes at all");
}

}  // namespace
}  // namespace aegis::compliance
