// audit.export: the SIEM sink's keys, and the ones each type requires.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "config/loader.hpp"
#include "support/config_issues.hpp"

namespace aegis::config {
namespace {

using ::testing::HasSubstr;

const char* env(const char* name) {
  static const std::map<std::string, std::string> values = {{"HEC_TOKEN", "token-value"}};
  const auto it = values.find(name);
  return it == values.end() ? nullptr : it->second.c_str();
}

std::string one_issue(const std::string& yaml) { return test_support::one_config_issue(yaml, &env); }

TEST(AuditExportConfig, UnsetByDefault) {
  const Config c = parse_config("", "t.yaml", &env);
  EXPECT_EQ(c.audit.export_to.type, "");
  EXPECT_EQ(c.audit.export_to.batch_rows, 500);
  EXPECT_EQ(c.audit.export_to.max_backoff, std::chrono::seconds(60));
}

TEST(AuditExportConfig, ReadsEachTypesKeys) {
  const Config jsonl = parse_config(
      "audit:\n  export:\n    type: jsonl\n    path: /var/log/aegis/audit.jsonl\n    rotate_bytes: 1048576\n"
      "    keep_files: 3\n    batch_rows: 100\n    max_backoff_s: 30\n    cursor_file: /var/lib/aegis/cursor\n",
      "t.yaml", &env);
  EXPECT_EQ(jsonl.audit.export_to.type, "jsonl");
  EXPECT_EQ(jsonl.audit.export_to.path, "/var/log/aegis/audit.jsonl");
  EXPECT_EQ(jsonl.audit.export_to.rotate_bytes, 1048576);
  EXPECT_EQ(jsonl.audit.export_to.keep_files, 3);
  EXPECT_EQ(jsonl.audit.export_to.batch_rows, 100);
  EXPECT_EQ(jsonl.audit.export_to.max_backoff, std::chrono::seconds(30));
  EXPECT_EQ(jsonl.audit.export_to.cursor_file, "/var/lib/aegis/cursor");

  const Config syslog = parse_config(
      "audit:\n  export:\n    type: syslog\n    host: siem.example\n    port: 6514\n    tls: true\n"
      "    ca_file: /etc/aegis/siem-ca.pem\n    app_name: aegis-prod\n    facility: 16\n",
      "t.yaml", &env);
  EXPECT_EQ(syslog.audit.export_to.host, "siem.example");
  EXPECT_EQ(syslog.audit.export_to.port, 6514);
  EXPECT_TRUE(syslog.audit.export_to.tls);
  EXPECT_EQ(syslog.audit.export_to.facility, 16);
  EXPECT_EQ(syslog.audit.export_to.app_name, "aegis-prod");

  const Config http = parse_config(
      "audit:\n  export:\n    type: http\n    url: https://splunk:8088/services/collector/event\n"
      "    token_env: HEC_TOKEN\n    timeout_ms: 2000\n",
      "t.yaml", &env);
  EXPECT_EQ(http.audit.export_to.url, "https://splunk:8088/services/collector/event");
  EXPECT_EQ(http.audit.export_to.token_env, "HEC_TOKEN");
  EXPECT_EQ(http.audit.export_to.timeout, std::chrono::milliseconds(2000));
}

TEST(AuditExportConfig, EachTypeNamesTheKeysItNeeds) {
  EXPECT_THAT(one_issue("audit:\n  export:\n    type: jsonl\n"),
              HasSubstr("audit.export.path: required for type \"jsonl\""));
  EXPECT_THAT(one_issue("audit:\n  export:\n    type: syslog\n    host: siem\n"),
              HasSubstr("audit.export.port: required for type \"syslog\""));
  EXPECT_THAT(one_issue("audit:\n  export:\n    type: http\n    token_env: HEC_TOKEN\n"),
              HasSubstr("audit.export.url: required for type \"http\""));
  EXPECT_THAT(one_issue("audit:\n  export:\n    type: http\n    url: http://x/\n    token_env: UNSET_TOKEN\n"),
              HasSubstr("audit.export.token_env: environment variable UNSET_TOKEN is not set"));
  EXPECT_THAT(one_issue("audit:\n  export:\n    type: splunk\n"),
              HasSubstr("audit.export.type: expected one of jsonl, syslog, http"));
  EXPECT_THAT(one_issue("audit:\n  export:\n    path: /tmp/x\n"), HasSubstr("audit.export.type: required when"));
  EXPECT_THAT(one_issue("audit:\n  export:\n    type: jsonl\n    path: x\n    batch_rows: 0\n"),
              HasSubstr("audit.export.batch_rows: expected an integer in 1..100000"));
  EXPECT_THAT(one_issue("audit:\n  export:\n    type: http\n    url: splunk:8088\n    token_env: HEC_TOKEN\n"),
              HasSubstr("audit.export.url: expected an http:// or https:// URL"));
}

}  // namespace
}  // namespace aegis::config
