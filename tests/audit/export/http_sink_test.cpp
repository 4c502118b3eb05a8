#include "audit/export/http_sink.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <thread>

#include "audit/export/loopback_server.hpp"

namespace aegis::audit::siem {
namespace {

using namespace std::chrono_literals;

ExportEvent row(std::int64_t seq) {
  return ExportEvent{ExportEvent::Kind::row, "gw-1/2026-12", seq, 1'796'601'600'005,
                     "{\"type\":\"audit_row\",\"seq\":" + std::to_string(seq) + "}"};
}

// Answers each complete request (headers and Content-Length body) with the
// next status of the script (the last one repeats).
test::LoopbackServer::Answer scripted(const std::vector<int>& statuses) {
  auto next = std::make_shared<std::size_t>(0);
  return [statuses, next](std::string& pending) -> std::optional<std::string> {
    const auto end = pending.find("\r\n\r\n");
    if (end == std::string::npos) return std::nullopt;
    const auto length_at = pending.find("Content-Length: ");
    const std::size_t length = length_at == std::string::npos ? 0 : std::stoul(pending.substr(length_at + 16));
    if (pending.size() < end + 4 + length) return std::nullopt;
    pending.erase(0, end + 4 + length);
    const int status = statuses[std::min(*next, statuses.size() - 1)];
    ++*next;
    const std::string body = status == 200 ? "{\"text\":\"Success\",\"code\":0}" : "{\"text\":\"Server is busy\"}";
    return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\nContent-Type: application/json\r\n\r\n" + body;
  };
}

TEST(HecEnvelope, WrapsTheEventWithTimeHostSourceAndSourcetype) {
  const auto envelope = boost::json::parse(hec_envelope(row(3), "gw-1")).as_object();
  EXPECT_DOUBLE_EQ(envelope.at("time").as_double(), 1'796'601'600.005);
  EXPECT_EQ(envelope.at("host").as_string(), "gw-1");
  EXPECT_EQ(envelope.at("source").as_string(), "aegis");
  EXPECT_EQ(envelope.at("sourcetype").as_string(), "aegis:audit");
  EXPECT_EQ(envelope.at("event").at("seq").as_int64(), 3);
  ExportEvent checkpoint{ExportEvent::Kind::checkpoint, "c", 1, 0, "{}"};
  EXPECT_EQ(boost::json::parse(hec_envelope(checkpoint, "h")).at("sourcetype").as_string(), "aegis:checkpoint");
}

TEST(HttpSink, PostsTheBatchWithTheTokenAndTakesOnlyA2xxAsTheAck) {
  test::LoopbackServer collector(scripted({503, 200}));
  auto sink = make_http_sink(
      HttpSinkOptions{"http://127.0.0.1:" + std::to_string(collector.port()) + "/services/collector/event",
                      "s3cret-token", "", "gw-1", 2s});
  ASSERT_TRUE(sink.ok()) << sink.error().message;
  auto refused = (*sink)->send({row(1), row(2)});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("503"), std::string::npos);
  EXPECT_EQ(refused.error().message.find("s3cret-token"), std::string::npos);
  ASSERT_TRUE((*sink)->send({row(1), row(2)}).ok());
  const std::string received = collector.received();
  EXPECT_NE(received.find("POST /services/collector/event HTTP/1.1\r\n"), std::string::npos);
  EXPECT_NE(received.find("Authorization: Splunk s3cret-token\r\n"), std::string::npos);
  // Two requests, each with both events, one envelope a line.
  std::size_t envelopes = 0;
  for (auto at = received.find("{\"time\":"); at != std::string::npos; at = received.find("{\"time\":", at + 1))
    ++envelopes;
  EXPECT_EQ(envelopes, 4u);
}

TEST(HttpSink, NoAnswerWithinTheTimeoutFailsTheBatch) {
  test::LoopbackServer silent([](std::string&) -> std::optional<std::string> { return std::nullopt; });
  auto sink = make_http_sink(
      HttpSinkOptions{"http://127.0.0.1:" + std::to_string(silent.port()) + "/", "t", "", "gw-1", 200ms});
  ASSERT_TRUE(sink.ok());
  const auto started = std::chrono::steady_clock::now();
  auto sent = (*sink)->send({row(1)});
  ASSERT_FALSE(sent.ok());
  EXPECT_EQ(sent.error().code, ErrorCode::upstream_timeout);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
}

TEST(HttpSink, RefusesAUrlThatIsNotHttp) {
  EXPECT_FALSE(make_http_sink(HttpSinkOptions{"ftp://x/", "t", "", "h", 1s}).ok());
}

}  // namespace
}  // namespace aegis::audit::siem
