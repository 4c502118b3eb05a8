#include "audit/export/syslog_sink.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "audit/export/loopback_server.hpp"

namespace aegis::audit::siem {
namespace {

using namespace std::chrono_literals;

ExportEvent row(std::int64_t seq) {
  return ExportEvent{ExportEvent::Kind::row, "gw-1/2026-12", seq, 1'796'601'600'123,
                     "{\"type\":\"audit_row\",\"seq\":" + std::to_string(seq) + "}"};
}

SyslogSinkOptions options_for(int port) {
  SyslogSinkOptions o;
  o.endpoint = NetEndpoint{"127.0.0.1", std::to_string(port), false, "", 2s};
  o.hostname = "gw-1";
  o.process_id = 42;
  return o;
}

// Splits octet-counted frames ("LEN SP MSG"); fails the test on a bad one.
std::vector<std::string> frames_of(const std::string& stream) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at < stream.size()) {
    const auto space = stream.find(' ', at);
    if (space == std::string::npos) {
      ADD_FAILURE() << "no length at " << at;
      break;
    }
    const auto length = std::stoul(stream.substr(at, space - at));
    out.push_back(stream.substr(space + 1, length));
    at = space + 1 + length;
  }
  return out;
}

TEST(SyslogFrame, IsAnOctetCountedRfc5424MessageWithTheEventAsItsMsg) {
  SyslogSinkOptions o;
  o.app_name = "aegis";
  o.facility = 13;
  o.hostname = "gw-1";
  o.process_id = 42;
  const std::string frame = syslog_frame(row(7), o);
  const std::string message =
      "<110>1 2026-12-07T00:00:00.123Z gw-1 aegis 42 audit [aegis@32473 chain_id=\"gw-1/2026-12\" seq=\"7\"] "
      "{\"type\":\"audit_row\",\"seq\":7}";
  EXPECT_EQ(frame, std::to_string(message.size()) + " " + message);

  ExportEvent checkpoint{ExportEvent::Kind::checkpoint, "a\"b]c", 3, 0, "{}"};
  o.hostname = "";
  const std::string sealed = syslog_frame(checkpoint, o);
  EXPECT_NE(sealed.find("<109>1 1970-01-01T00:00:00.000Z - aegis 42 checkpoint "), std::string::npos) << sealed;
  EXPECT_NE(sealed.find("chain_id=\"a\\\"b\\]c\""), std::string::npos) << sealed;
}

TEST(SyslogSink, DeliversEveryFrameAndReconnectsAfterTheReceiverDropsTheConnection) {
  test::LoopbackServer receiver;
  auto sink = make_syslog_sink(options_for(receiver.port()));
  ASSERT_TRUE(sink->send({row(1), row(2)}).ok());
  // Acknowledged means the receiver's TCP has the bytes: no waiting needed.
  for (int i = 0; i < 1000 && frames_of(receiver.received()).size() < 2; ++i) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(frames_of(receiver.received()).size(), 2u);
  receiver.drop_connections();
  std::this_thread::sleep_for(20ms);  // the FIN arrives
  ASSERT_TRUE(sink->send({row(3)}).ok());
  for (int i = 0; i < 1000 && frames_of(receiver.received()).size() < 3; ++i) std::this_thread::sleep_for(1ms);
  const auto frames = frames_of(receiver.received());
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_NE(frames[2].find("seq=\"3\""), std::string::npos);
  EXPECT_EQ(receiver.connections(), 2);
}

TEST(SyslogSink, ARefusedConnectionFailsTheBatch) {
  int port = 0;
  {
    test::LoopbackServer gone;
    port = gone.port();
  }
  auto sink = make_syslog_sink(options_for(port));
  auto sent = sink->send({row(1)});
  ASSERT_FALSE(sent.ok());
  EXPECT_NE(sent.error().message.find("cannot connect"), std::string::npos) << sent.error().message;
}

TEST(SyslogSink, TlsToAServerThatIsNotTlsFailsWithinTheTimeout) {
  test::LoopbackServer plain;
  auto o = options_for(plain.port());
  o.endpoint.tls = true;
  o.endpoint.host = "localhost";
  o.endpoint.timeout = 300ms;
  auto sink = make_syslog_sink(o);
  const auto started = std::chrono::steady_clock::now();
  EXPECT_FALSE(sink->send({row(1)}).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
}

}  // namespace
}  // namespace aegis::audit::siem
