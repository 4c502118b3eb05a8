#include <gtest/gtest.h>

#include "providers/error_text.hpp"

namespace aegis::providers {
namespace {

TEST(ErrorText, RedactsAddressesUrlsAndPaths) {
  EXPECT_EQ(redact_locations("reading response body from 127.0.0.1:46547: stream truncated"),
            "reading response body from <address>: stream truncated");
  EXPECT_EQ(redact_locations("connect to 10.0.0.12 failed"), "connect to <address> failed");
  EXPECT_EQ(redact_locations("see https://api.example.com/v1/x?key=1 (docs)"), "see <url> (docs)");
  EXPECT_EQ(redact_locations("upstream [::1]:8080 and [fe80::1%eth0] down"), "upstream <address> and <address> down");
  EXPECT_EQ(redact_locations("localhost:11434 refused; LOCALHOST too"), "<address> refused; <address> too");
  EXPECT_EQ(redact_locations("api.anthropic.com:443 reset"), "<address> reset");
  EXPECT_EQ(redact_locations("cannot open '/etc/aegis/ca.pem'"), "cannot open '<path>'");
  EXPECT_EQ(redact_locations("Invalid URL (POST /openai/deployments/x/chat)"), "Invalid URL (POST <path>)");
}

TEST(ErrorText, LeavesOrdinaryMessagesAlone) {
  for (const char* text : {"provider unavailable (HTTP 503)", "the upstream sent no data for 30000 ms (idle timeout)",
                           "messages[0].content: must be a string", "temperature must be between 0 and 2.0",
                           "version 1.2.3 and a/b, ratio 3:2", "stop_sequences: at most 4"}) {
    EXPECT_EQ(redact_locations(text), text);
  }
}

TEST(ErrorText, NamesTheProviderOnce) {
  auto e = attribute_error(make_error(ErrorCode::unavailable, "provider unavailable (HTTP 503)"), "azure");
  EXPECT_EQ(e.message, "provider 'azure' unavailable (HTTP 503)");
  EXPECT_EQ(e.code, ErrorCode::unavailable);
  e = attribute_error(make_error(ErrorCode::upstream_error, "reading the response body: stream truncated"), "ollama");
  EXPECT_EQ(e.message, "provider 'ollama': reading the response body: stream truncated");
  Error limited = make_error(ErrorCode::rate_limited, "provider 'anthropic' is at its max_concurrency (4)");
  limited.retry_after_seconds = 1;
  e = attribute_error(limited, "anthropic");
  EXPECT_EQ(e.message, limited.message);
  EXPECT_EQ(e.retry_after_seconds, 1);
  e = attribute_error(make_error(ErrorCode::invalid_request, "provider rejected the request: bad url http://10.1.1.1/x"),
                      "vllm");
  EXPECT_EQ(e.message, "provider 'vllm' rejected the request: bad url <url>");
}

}  // namespace
}  // namespace aegis::providers
