// jobs.keep_requests and jobs.encryption (job content at rest).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "config/loader.hpp"
#include "support/config_issues.hpp"

namespace aegis::config {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string kHexKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const std::string kB64Key = "ABEiM0RVZneImaq7zN3u/wARIjNEVWZ3iJmqu8zd7v8=";  // the same 32 bytes

const char* env(const char* name) {
  static const std::map<std::string, std::string> values = {
      {"AEGIS_JOBS_KEY_K2", kHexKey},
      {"AEGIS_JOBS_KEY_B64", kB64Key},
      {"AEGIS_JOBS_KEY_SHORT", "00112233"},
      {"AEGIS_JOBS_KEY_WORDS", "this is not a key but a secret sentence"},
  };
  const auto it = values.find(name);
  return it == values.end() ? nullptr : it->second.c_str();
}

std::string one_issue(const std::string& yaml) { return test_support::one_config_issue(yaml, &env); }

class KeyFile {
 public:
  explicit KeyFile(const std::string& text) {
    path_ = std::filesystem::temp_directory_path() / ("aegis-key-" + std::to_string(::getpid()) + "-" +
                                                     std::to_string(counter_++));
    std::ofstream(path_) << text;
  }
  ~KeyFile() { std::filesystem::remove(path_); }
  std::string path() const { return path_.string(); }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

TEST(JobsContentConfig, DefaultsEncryptWithAGeneratedKeyAndDropRequests) {
  const Config c = parse_config("", "t.yaml", &env);
  EXPECT_TRUE(c.jobs.encryption.keys.empty());
  EXPECT_EQ(c.jobs.encryption.active, "");
  EXPECT_FALSE(c.jobs.keep_requests);
  EXPECT_TRUE(c.jobs.keep_requests_teams.empty());
}

TEST(JobsContentConfig, KeysFromTheEnvironmentAndFilesHexOrBase64) {
  KeyFile file(kB64Key + "\n");
  const Config c = parse_config("jobs:\n"
                                "  encryption:\n"
                                "    active: k2\n"
                                "    keys:\n"
                                "      - {id: k2, env: AEGIS_JOBS_KEY_K2}\n"
                                "      - {id: k1, file: " + file.path() + "}\n"
                                "      - {id: old.b64, env: AEGIS_JOBS_KEY_B64}\n",
                                "t.yaml", &env);
  const auto& enc = c.jobs.encryption;
  EXPECT_EQ(enc.active, "k2");
  ASSERT_EQ(enc.keys.size(), 3u);
  EXPECT_EQ(enc.keys[0].id, "k2");
  EXPECT_EQ(enc.keys[0].source, "env AEGIS_JOBS_KEY_K2");
  EXPECT_EQ(enc.keys[0].bytes[0], 0x00);
  EXPECT_EQ(enc.keys[0].bytes[1], 0x11);
  EXPECT_EQ(enc.keys[0].bytes[31], 0xff);
  EXPECT_EQ(enc.keys[1].id, "k1");
  EXPECT_EQ(enc.keys[1].source, "file " + file.path());
  EXPECT_EQ(enc.keys[1].bytes, enc.keys[0].bytes);
  EXPECT_EQ(enc.keys[2].bytes, enc.keys[0].bytes);
}

TEST(JobsContentConfig, KeepRequestsIsABoolOrAPerTeamMapping) {
  EXPECT_TRUE(parse_config("jobs:\n  keep_requests: true\n", "t.yaml", &env).jobs.keep_requests);
  const Config c =
      parse_config("jobs:\n  keep_requests: {default: false, research: true, ops: false}\n", "t.yaml", &env);
  EXPECT_FALSE(c.jobs.keep_requests);
  EXPECT_EQ(c.jobs.keep_requests_teams, (std::map<std::string, bool>{{"research", true}, {"ops", false}}));
  EXPECT_EQ(one_issue("jobs:\n  keep_requests: sometimes\n"),
            "t.yaml:2:18: jobs.keep_requests: expected true or false, got \"sometimes\"");
  EXPECT_EQ(one_issue("jobs:\n  keep_requests: {research: 1}\n"),
            "t.yaml:2:29: jobs.keep_requests.research: expected true or false, got \"1\"");
}

TEST(JobsContentConfig, AMissingEnvironmentVariableIsPositioned) {
  EXPECT_EQ(one_issue("jobs:\n"
                      "  encryption:\n"
                      "    active: k3\n"
                      "    keys:\n"
                      "      - id: k3\n"
                      "        env: AEGIS_JOBS_KEY_K3\n"),
            "t.yaml:6:14: jobs.encryption.keys[0].env: environment variable AEGIS_JOBS_KEY_K3 is not set");
}

TEST(JobsContentConfig, AWrongKeyLengthNamesTheSourceButNeverTheValue) {
  const std::string issue = one_issue("jobs:\n"
                                      "  encryption:\n"
                                      "    active: k2\n"
                                      "    keys:\n"
                                      "      - id: k2\n"
                                      "        env: AEGIS_JOBS_KEY_SHORT\n");
  EXPECT_EQ(issue,
            "t.yaml:6:14: jobs.encryption.keys[0].env: environment variable AEGIS_JOBS_KEY_SHORT does not hold a "
            "256-bit key: 64 hex digits or base64 of 32 bytes");
  const std::string words = one_issue("jobs:\n  encryption:\n    active: k2\n    keys:\n"
                                      "      - {id: k2, env: AEGIS_JOBS_KEY_WORDS}\n");
  EXPECT_THAT(words, Not(HasSubstr("secret sentence")));
  KeyFile file("0011\n");
  const std::string from_file = one_issue("jobs:\n  encryption:\n    active: k1\n    keys:\n"
                                          "      - {id: k1, file: " + file.path() + "}\n");
  EXPECT_THAT(from_file, HasSubstr("jobs.encryption.keys[0].file: key file \"" + file.path() +
                                   "\" does not hold a 256-bit key"));
  EXPECT_THAT(from_file, Not(HasSubstr("0011")));
  EXPECT_THAT(one_issue("jobs:\n  encryption:\n    active: k1\n    keys:\n"
                        "      - {id: k1, file: /nonexistent/aegis/k1}\n"),
              HasSubstr("t.yaml:5:24: jobs.encryption.keys[0].file: cannot read key file \"/nonexistent/aegis/k1\""));
}

TEST(JobsContentConfig, TheActiveIdMustBeListedAndIsRequiredWithKeys) {
  EXPECT_EQ(one_issue("jobs:\n  encryption:\n    active: k9\n    keys:\n      - {id: k2, env: AEGIS_JOBS_KEY_K2}\n"),
            "t.yaml:3:13: jobs.encryption.active: unknown key id \"k9\"; expected one of the ids in "
            "jobs.encryption.keys");
  EXPECT_THAT(one_issue("jobs:\n  encryption:\n    active: k9\n"), HasSubstr("(none are listed)"));
  EXPECT_EQ(one_issue("jobs:\n  encryption:\n    keys:\n      - {id: k2, env: AEGIS_JOBS_KEY_K2}\n"),
            "t.yaml:3:5: jobs.encryption.active: required when keys are listed (the id new job content is "
            "encrypted with)");
}

TEST(JobsContentConfig, KeyEntriesAreValidated) {
  EXPECT_THAT(one_issue("jobs:\n  encryption:\n    active: k2\n    keys:\n"
                        "      - {id: k2, env: AEGIS_JOBS_KEY_K2, file: /x}\n"),
              HasSubstr("jobs.encryption.keys[0]: expected exactly one of env"));
  EXPECT_THAT(one_issue("jobs:\n  encryption:\n    active: k2\n    keys:\n      - {id: k2}\n"),
              HasSubstr("jobs.encryption.keys[0]: expected exactly one of env"));
  EXPECT_THAT(one_issue("jobs:\n  encryption:\n    active: k2\n    keys:\n      - {env: AEGIS_JOBS_KEY_K2}\n"),
              HasSubstr("jobs.encryption.keys[0].id: required key is missing"));
  EXPECT_THAT(one_issue("jobs:\n  encryption:\n    active: k2\n    keys:\n"
                        "      - {id: k2, env: AEGIS_JOBS_KEY_K2}\n      - {id: k2, env: AEGIS_JOBS_KEY_B64}\n"),
              HasSubstr("t.yaml:6:14: jobs.encryption.keys[1].id: key id \"k2\" is listed twice"));
  EXPECT_THAT(one_issue("jobs:\n  encryption:\n    active: k2\n    keys:\n      - {id: \"k 2\", env: AEGIS_JOBS_KEY_K2}\n"),
              HasSubstr("jobs.encryption.keys[0].id: expected a key id of 1..64 characters"));
  EXPECT_THAT(one_issue("jobs:\n  encryption:\n    active: k2\n    keys:\n      - {id: k2, env: \"${X}\"}\n"),
              HasSubstr("environment variable X is not set"));
  EXPECT_THAT(one_issue("jobs:\n  encryption:\n    keys: k2\n"),
              HasSubstr("jobs.encryption.keys: expected a list of {id, env | file} mappings"));
  EXPECT_THAT(one_issue("jobs:\n  encryption:\n    actve: k2\n"), HasSubstr("did you mean \"active\"?"));
}

}  // namespace
}  // namespace aegis::config
