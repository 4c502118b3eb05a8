#include "config/loader.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "support/config_issues.hpp"

namespace aegis::config {
namespace {

using ::testing::HasSubstr;

const char* fake_env(const char* name) {
  static const std::map<std::string, std::string> env = {
      {"ANTHROPIC_API_KEY", "sk-ant-test"},
      {"AZURE_OPENAI_API_KEY", "az-test"},
      {"AZURE_OPENAI_ENDPOINT", "https://unit.openai.azure.com"},
      {"THREADS", "12"},
      {"EMPTY", ""},
  };
  const auto it = env.find(name);
  return it == env.end() ? nullptr : it->second.c_str();
}

const char* no_env(const char*) { return nullptr; }

std::vector<ConfigIssue> issues_of(const std::string& yaml, EnvLookup env = &fake_env) {
  return test_support::config_issues(yaml, env);
}
std::string one_issue(const std::string& yaml, EnvLookup env = &fake_env) {
  return test_support::one_config_issue(yaml, env);
}

// A provider block that is valid on its own, to build bigger documents from.
std::string provider(const std::string& name, const std::string& type = "sim") {
  return "  - name: " + name + "\n    type: " + type + "\n    models: {haiku: m1}\n";
}

// ---------------------------------------------------------------------------

TEST(ConfigDefaults, BuiltInDefaultsMatchTheContract) {
  const Config c = default_config();
  EXPECT_EQ(c.source, "<built-in>");
  EXPECT_EQ(c.server.host, "127.0.0.1");
  EXPECT_EQ(c.server.port, 8080);
  EXPECT_EQ(c.server.threads, 0u);
  EXPECT_EQ(c.storage.sqlite_path, "./data/aegis.db");
  EXPECT_TRUE(c.providers.empty());
  EXPECT_TRUE(c.routing.fallback_chain.empty());
  EXPECT_EQ(c.routing.task_tiers.size(), 10u);
  EXPECT_EQ(c.routing.task_tiers.at("commit_summary"), Tier::haiku);
  EXPECT_EQ(c.routing.task_tiers.at("extraction"), Tier::haiku);
  EXPECT_EQ(c.routing.task_tiers.at("chat"), Tier::sonnet);
  EXPECT_EQ(c.routing.task_tiers.at("rag"), Tier::sonnet);
  EXPECT_EQ(c.routing.task_tiers.at("security_audit"), Tier::opus);
  EXPECT_EQ(c.routing.task_tiers.at("architecture_review"), Tier::opus);
  EXPECT_EQ(c.routing.downgrade_opus_below, Money::from_dollars(1));
  EXPECT_FALSE(c.routing.downgrade_sonnet_below.has_value());
  EXPECT_EQ(c.logging.level, "info");
}

TEST(ConfigDefaults, EmptyOrCommentOnlyFileGivesDefaults) {
  for (const char* text : {"", "# nothing here\n", "---\n", "server:\n"}) {
    const Config c = parse_config(text, "empty.yaml", &no_env);
    EXPECT_EQ(c.source, "empty.yaml");
    EXPECT_EQ(c.server.port, 8080) << text;
    EXPECT_EQ(c.storage.sqlite_path, "./data/aegis.db") << text;
    EXPECT_EQ(c.routing.task_tiers.size(), 10u) << text;
  }
}

TEST(ConfigDefaults, PartialFileKeepsDefaultsForTheRest) {
  const Config c = parse_config("server:\n  listen: \"0.0.0.0:9000\"\nlimits:\n  max_tools: 9\n", "p.yaml", &no_env);
  EXPECT_EQ(c.server.host, "0.0.0.0");
  EXPECT_EQ(c.server.port, 9000);
  EXPECT_EQ(c.server.max_body_bytes, 4u * 1024 * 1024);
  EXPECT_EQ(c.server.read_timeout, std::chrono::milliseconds(30'000));
  EXPECT_EQ(c.limits.max_tools, 9u);
  EXPECT_EQ(c.limits.max_messages, 2048u);
  EXPECT_EQ(c.budgets.timezone, "UTC");
  EXPECT_EQ(c.budgets.reservation_ttl, std::chrono::seconds(900));
}

TEST(ConfigLoader, ExampleFileLoadsIntoTheRightValues) {
  const std::string path = std::string(AEGIS_SOURCE_DIR) + "/examples/aegis.yaml";
  const Config c = load_config_file(path, &fake_env);
  EXPECT_EQ(c.source, path);
  EXPECT_EQ(c.server.host, "127.0.0.1");
  EXPECT_EQ(c.server.port, 8080);
  EXPECT_EQ(c.server.max_body_bytes, 4194304u);
  EXPECT_EQ(c.server.max_header_bytes, 16384u);
  EXPECT_EQ(c.server.drain_timeout, std::chrono::milliseconds(10'000));

  ASSERT_EQ(c.providers.size(), 3u);
  const ProviderConfig& a = c.providers[0];
  EXPECT_EQ(a.name, "anthropic");
  EXPECT_EQ(a.type, "anthropic");
  EXPECT_EQ(a.api_key, "sk-ant-test");
  EXPECT_EQ(a.locality, Locality::cloud);
  EXPECT_EQ(a.models.at(Tier::sonnet), "claude-sonnet-4-5");
  EXPECT_EQ(a.prices.at("claude-sonnet-4-5").input_per_mtok.micros, 3'000'000);
  EXPECT_EQ(a.prices.at("claude-sonnet-4-5").output_per_mtok.micros, 15'000'000);
  EXPECT_EQ(a.max_concurrency, 64u);
  EXPECT_TRUE(a.vision);
  EXPECT_TRUE(a.documents);

  const ProviderConfig& z = c.providers[1];
  EXPECT_EQ(z.name, "azure");
  EXPECT_EQ(z.type, "azure_openai");
  EXPECT_EQ(z.base_url, "https://unit.openai.azure.com");
  EXPECT_EQ(z.api_key, "az-test");
  EXPECT_EQ(z.api_version, "2024-06-01");
  EXPECT_EQ(z.prices.at("gpt-4o-mini").input_per_mtok.micros, 150'000);
  EXPECT_EQ(z.prices.at("gpt-4o-mini").output_per_mtok.micros, 600'000);
  EXPECT_TRUE(z.vision);
  EXPECT_FALSE(z.documents);

  const ProviderConfig& o = c.providers[2];
  EXPECT_EQ(o.type, "ollama");
  EXPECT_EQ(o.locality, Locality::local);
  EXPECT_TRUE(o.api_key.empty());
  EXPECT_EQ(o.models.at(Tier::haiku), "llama3.2:3b");
  EXPECT_EQ(o.prices.at("llama3.3:70b").output_per_mtok.micros, 0);
  EXPECT_EQ(o.first_byte_timeout, std::chrono::milliseconds(120'000));
  EXPECT_FALSE(o.vision);
  EXPECT_FALSE(o.documents);

  EXPECT_EQ(c.routing.fallback_chain, (std::vector<std::string>{"anthropic", "azure", "ollama"}));
  EXPECT_EQ(c.routing.confidential, ConfidentialPolicy::cloud_masked);
  EXPECT_EQ(c.routing.downgrade_opus_below.micros, 1'000'000);
  ASSERT_TRUE(c.routing.downgrade_sonnet_below.has_value());
  EXPECT_EQ(c.routing.downgrade_sonnet_below->micros, 100'000);
  EXPECT_EQ(c.routing.task_tiers.at("security_audit"), Tier::opus);

  EXPECT_EQ(c.classification.internal_domains, (std::vector<std::string>{"corp.example.com", "example.internal"}));
  ASSERT_EQ(c.classification.custom_recognizers.size(), 2u);
  EXPECT_EQ(c.classification.custom_recognizers[0].pattern, "EMP-[0-9]{6}");
  EXPECT_EQ(c.classification.custom_recognizers[0].validator, "");
  EXPECT_EQ(c.classification.custom_recognizers[1].level, Level::RESTRICTED);
  EXPECT_EQ(c.classification.custom_recognizers[1].validator, "mod97");
  EXPECT_EQ(c.classification.custom_recognizers[1].context_words.size(), 3u);

  EXPECT_EQ(c.pii.invented_pii, InventedPiiPolicy::alert);
  EXPECT_EQ(c.pii.block_entities, std::vector<std::string>{"CA_SIN"});
  EXPECT_EQ(c.pii.team_block_entities.at("finance"), (std::vector<std::string>{"CREDIT_CARD", "BANK_ACCOUNT"}));
  EXPECT_EQ(c.budgets.timezone, "America/Toronto");
  EXPECT_TRUE(c.logging.access_log);
  EXPECT_FALSE(c.media.fetch_urls);
  EXPECT_EQ(c.media.max_pdf_pages, 20);
  EXPECT_EQ(c.media.languages, "eng+fra");
}

TEST(ConfigLoader, ExampleFileNeedsItsSecretsFromTheEnvironment) {
  const std::string path = std::string(AEGIS_SOURCE_DIR) + "/examples/aegis.yaml";
  try {
    load_config_file(path, &no_env);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    ASSERT_EQ(e.issues().size(), 3u) << e.what();
    EXPECT_THAT(e.issues()[0].message, HasSubstr("environment variable ANTHROPIC_API_KEY is not set"));
    EXPECT_THAT(e.issues()[1].message, HasSubstr("environment variable AZURE_OPENAI_ENDPOINT is not set"));
    EXPECT_THAT(e.issues()[2].message, HasSubstr("environment variable AZURE_OPENAI_API_KEY is not set"));
  }
}

TEST(ConfigLoader, FallbackChainDefaultsToEveryProviderLocalLast) {
  const Config c = parse_config("providers:\n" + provider("box", "ollama") + provider("cloud1", "openai_compat") +
                                    "    base_url: https://api.example.com/v1/\n",
                                "t.yaml", &no_env);
  EXPECT_EQ(c.routing.fallback_chain, (std::vector<std::string>{"cloud1", "box"}));
  EXPECT_EQ(c.providers[0].locality, Locality::local);
  EXPECT_EQ(c.providers[0].base_url, "http://127.0.0.1:11434");
  EXPECT_EQ(c.providers[1].locality, Locality::cloud);
  EXPECT_EQ(c.providers[1].base_url, "https://api.example.com/v1");  // trailing slash dropped
}

TEST(ConfigLoader, ResidencyIsDeclaredPerProviderAndUnsetByDefault) {
  const Config c = parse_config("providers:\n" + provider("box", "ollama") + "    residency: CA-QC\n" +
                                    provider("cloud1", "openai_compat") + "    base_url: https://api.example.com/v1\n",
                                "t.yaml", &no_env);
  EXPECT_EQ(c.providers[0].residency, "CA-QC");
  EXPECT_EQ(c.providers[1].residency, "");
}

TEST(ConfigErrors, ResidencyIsARegionCode) {
  EXPECT_EQ(one_issue("providers:\n" + provider("p") + "    residency: \"Canada, mostly\"\n"),
            "t.yaml:5:16: providers[0].residency: expected a region code of 1..32 letters, digits or '-', e.g. "
            "\"CA\", got \"Canada, mostly\"");
  EXPECT_EQ(one_issue("providers:\n" + provider("p") + "    residency: \"\"\n"),
            "t.yaml:5:16: providers[0].residency: expected a region code of 1..32 letters, digits or '-', e.g. "
            "\"CA\", got \"\"");
}

TEST(ConfigLoader, TaskTiersMergeOverDefaults) {
  const Config c = parse_config("routing:\n  task_tiers:\n    chat: opus\n    translate: haiku\n", "t.yaml", &no_env);
  EXPECT_EQ(c.routing.task_tiers.at("chat"), Tier::opus);
  EXPECT_EQ(c.routing.task_tiers.at("translate"), Tier::haiku);
  EXPECT_EQ(c.routing.task_tiers.at("security_audit"), Tier::opus);
}

TEST(ConfigLoader, ListenAcceptsIpv6InBrackets) {
  const Config c = parse_config("server:\n  listen: \"[::1]:8443\"\n", "t.yaml", &no_env);
  EXPECT_EQ(c.server.host, "::1");
  EXPECT_EQ(c.server.port, 8443);
}

TEST(ConfigLoader, MetricsTokenAndListener) {
  const Config none = parse_config("server:\n  listen: \"0.0.0.0:9000\"\n", "t.yaml", &no_env);
  EXPECT_TRUE(none.server.metrics_token.empty());
  EXPECT_FALSE(none.server.metrics_listen.has_value());
  const Config c = parse_config("server:\n  metrics_token: \"${THREADS}-token\"\n  metrics_listen: \"10.0.0.5:9464\"\n",
                                "t.yaml", &fake_env);
  EXPECT_EQ(c.server.metrics_token, "12-token");
  ASSERT_TRUE(c.server.metrics_listen.has_value());
  EXPECT_EQ(c.server.metrics_listen->host, "10.0.0.5");
  EXPECT_EQ(c.server.metrics_listen->port, 9464);
  EXPECT_THAT(one_issue("server:\n  metrics_listen: \"127.0.0.1:0\"\n"),
              HasSubstr("t.yaml:2:19: server.metrics_listen: expected \"HOST:PORT\""));
  EXPECT_THAT(one_issue("server:\n  metrics_token: \"${EMPTY}\"\n"),
              HasSubstr("t.yaml:2:18: server.metrics_token: expected a non-empty string"));
}

// --------------------------------------------------------------------------- money

TEST(ConfigMoney, AmountsAreParsedExactlyFromTheText) {
  const Config c =
      parse_config("providers:\n" + provider("p") +
                       "    prices:\n      m1: {input_per_mtok_usd: 0.1, output_per_mtok_usd: 0.000001}\n"
                       "routing:\n  downgrade_opus_below_usd: 0.3\n  downgrade_sonnet_below_usd: \"0.29\"\n",
                   "t.yaml", &no_env);
  EXPECT_EQ(c.providers[0].prices.at("m1").input_per_mtok.micros, 100'000);
  EXPECT_EQ(c.providers[0].prices.at("m1").output_per_mtok.micros, 1);
  EXPECT_EQ(c.routing.downgrade_opus_below.micros, 300'000);
  EXPECT_EQ(c.routing.downgrade_sonnet_below->micros, 290'000);
}

TEST(ConfigMoney, RejectsWhatIsNotAnExactAmount) {
  EXPECT_EQ(one_issue("routing:\n  downgrade_opus_below_usd: 1.0000001\n"),
            "t.yaml:2:29: routing.downgrade_opus_below_usd: expected a USD amount such as 3 or 0.25 "
            "(at most 6 decimals, no sign), got \"1.0000001\"");
  EXPECT_THAT(one_issue("routing:\n  downgrade_opus_below_usd: 1e3\n"), HasSubstr("t.yaml:2:29:"));
  EXPECT_THAT(one_issue("routing:\n  downgrade_opus_below_usd: -1\n"), HasSubstr("got \"-1\""));
  EXPECT_EQ(one_issue("routing:\n  downgrade_opus_below_usd: 0.5\n  downgrade_sonnet_below_usd: 0.6\n"),
            "t.yaml:3:31: routing.downgrade_sonnet_below_usd: expected at most routing.downgrade_opus_below_usd "
            "(0.5), got 0.6");
}

// --------------------------------------------------------------------------- error classes

TEST(ConfigErrors, YamlSyntaxErrorIsPositioned) {
  EXPECT_EQ(one_issue("server:\n  listen: [1,\nstorage: {}\n"),
            "t.yaml:4:1: YAML syntax error: end of sequence flow not found");  // noticed at the end
  EXPECT_EQ(one_issue("server:\n  threads: 1\n   bad: 2\n"), "t.yaml:3:7: YAML syntax error: illegal map value");
}

// yaml-cpp 0.7's LoadAll loops forever, filling memory, on a stray ',' where a
// document should start (found by fuzz/config_fuzz.cpp).
TEST(ConfigErrors, StrayCommaIsASyntaxErrorNotAHang) {
  EXPECT_EQ(one_issue(","), "t.yaml:1:1: YAML syntax error: unexpected ','");
  EXPECT_EQ(one_issue("- a\n,\n"), "t.yaml:2:1: YAML syntax error: unexpected ','");
  EXPECT_EQ(one_issue("server: {}\n---\n,"), "t.yaml:3:1: YAML syntax error: unexpected ','");
}

TEST(ConfigErrors, UnknownKeySuggestsTheClosestKey) {
  EXPECT_EQ(one_issue("server:\n  listn: \"127.0.0.1:1\"\n"),
            "t.yaml:2:3: server.listn: unknown key; did you mean \"listen\"?");
  EXPECT_EQ(one_issue("providrs: []\n"), "t.yaml:1:1: providrs: unknown key; did you mean \"providers\"?");
  EXPECT_EQ(one_issue("\nlogging:\n  zzz: 1\n"),
            "t.yaml:3:3: logging.zzz: unknown key; expected one of: level, access_log");
  EXPECT_EQ(one_issue("server:\n  port: 80\n"),
            "t.yaml:2:3: server.port: unknown key; use server.listen: \"HOST:PORT\"");
}

TEST(ConfigErrors, WrongTypes) {
  EXPECT_EQ(one_issue("server:\n  threads: abc\n"),
            "t.yaml:2:12: server.threads: expected an integer in 0..256, got \"abc\"");
  EXPECT_EQ(one_issue("server: 5\n"), "t.yaml:1:9: server: expected a mapping, got \"5\"");
  EXPECT_EQ(one_issue("logging:\n  access_log: maybe\n"),
            "t.yaml:2:15: logging.access_log: expected true or false, got \"maybe\"");
  EXPECT_EQ(one_issue("providers:\n  name: x\n"), "t.yaml:2:3: providers: expected a list of providers, got a mapping");
  EXPECT_EQ(one_issue("pii:\n  block_entities: SIN\n"),
            "t.yaml:2:19: pii.block_entities: expected a list of entity type in UPPER_SNAKE_CASE such as "
            "\"CREDIT_CARD\"s, got \"SIN\"");
  EXPECT_EQ(one_issue("storage:\n  sqlite_path: [a]\n"),
            "t.yaml:2:16: storage.sqlite_path: expected a string, got a list");
  EXPECT_EQ(one_issue("storage:\n  sqlite_path:\n"),
            "t.yaml:2:3: storage.sqlite_path: expected a string, got nothing (null)");
  EXPECT_EQ(one_issue("- a\n"), "t.yaml:1:1: top level: expected a mapping, got a list");
}

TEST(ConfigErrors, OutOfRangeNumbers) {
  EXPECT_EQ(one_issue("server:\n  listen: \"127.0.0.1:70000\"\n"),
            "t.yaml:2:11: server.listen: expected \"HOST:PORT\" with a port in 1..65535 (IPv6 as \"[::1]:8080\"), "
            "got \"127.0.0.1:70000\"");
  EXPECT_THAT(one_issue("server:\n  listen: \"127.0.0.1:0\"\n"), HasSubstr("t.yaml:2:11: server.listen: expected"));
  EXPECT_THAT(one_issue("server:\n  listen: localhost\n"), HasSubstr("t.yaml:2:11:"));
  EXPECT_EQ(one_issue("server:\n  threads: 257\n"),
            "t.yaml:2:12: server.threads: expected an integer in 0..256, got \"257\"");
  EXPECT_EQ(one_issue("server:\n  max_body_bytes: 1023\n"),
            "t.yaml:2:19: server.max_body_bytes: expected an integer in 1024..1073741824, got \"1023\"");
  EXPECT_EQ(one_issue("server:\n  max_header_bytes: 1048577\n"),
            "t.yaml:2:21: server.max_header_bytes: expected an integer in 1024..1048576, got \"1048577\"");
  EXPECT_EQ(one_issue("server:\n  idle_timeout_ms: 0\n"),
            "t.yaml:2:20: server.idle_timeout_ms: expected an integer in 1..86400000, got \"0\"");
  EXPECT_EQ(one_issue("providers:\n" + provider("p") + "    total_timeout_ms: -5\n"),
            "t.yaml:5:23: providers[0].total_timeout_ms: expected an integer in 1..86400000, got \"-5\"");
}

TEST(ConfigErrors, BadEnumsListTheAllowedValues) {
  EXPECT_EQ(one_issue("routing:\n  confidential: local\n"),
            "t.yaml:2:17: routing.confidential: expected one of cloud_masked, local_only, got \"local\"; "
            "did you mean \"local_only\"?");
  EXPECT_EQ(one_issue("logging:\n  level: warning\n"),
            "t.yaml:2:10: logging.level: expected one of trace, debug, info, warn, error, off, got \"warning\"; "
            "did you mean \"warn\"?");
  EXPECT_EQ(one_issue("pii:\n  invented_pii: block\n"),
            "t.yaml:2:17: pii.invented_pii: expected one of alert, redact, got \"block\"");
}

TEST(ConfigErrors, DuplicateProviderName) {
  EXPECT_EQ(one_issue("providers:\n" + provider("p") + provider("p")),
            "t.yaml:5:11: providers[1].name: duplicate provider name \"p\" (first defined at line 2)");
}

TEST(ConfigErrors, UnknownProviderType) {
  EXPECT_EQ(one_issue("providers:\n  - name: p\n    type: openai\n    models: {haiku: m}\n"),
            "t.yaml:3:11: providers[0].type: expected one of anthropic, azure_openai, openai_compat, ollama, sim, "
            "got \"openai\"; did you mean \"openai_compat\"?");
  EXPECT_EQ(one_issue("providers:\n  - {name: p, type: bedrock, models: {haiku: m}}\n"),
            "t.yaml:2:21: providers[0].type: expected one of anthropic, azure_openai, openai_compat, ollama, sim, "
            "got \"bedrock\"");
}

TEST(ConfigErrors, ProviderRequiredKeys) {
  const auto issues = issues_of("providers:\n  - type: azure_openai\n    models: {sonnet: gpt}\n");
  ASSERT_EQ(issues.size(), 4u);
  for (const auto& i : issues) {
    EXPECT_EQ(i.line, 2);
    EXPECT_EQ(i.column, 5);
  }
  EXPECT_EQ(issues[0].message, "providers[0].name: required key is missing");
  EXPECT_THAT(issues[1].message, HasSubstr("providers[0].base_url: required for type azure_openai"));
  EXPECT_THAT(issues[2].message, HasSubstr("providers[0].api_key: required for type azure_openai"));
  EXPECT_THAT(issues[3].message, HasSubstr("providers[0].api_version: required for type azure_openai"));
  EXPECT_EQ(one_issue("providers:\n  - name: p\n    type: sim\n"),
            "t.yaml:2:5: providers[0].models: required key is missing; expected a mapping of at least one tier "
            "(haiku, sonnet, opus) to a model id");
}

TEST(ConfigErrors, FallbackChainNamesAMissingProvider) {
  EXPECT_EQ(one_issue("providers:\n" + provider("azure") + provider("ollama") +
                      "routing:\n  fallback_chain: [azure, olama]\n"),
            "t.yaml:9:27: routing.fallback_chain[1]: unknown provider \"olama\"; did you mean \"ollama\"?");
  EXPECT_EQ(one_issue("routing:\n  fallback_chain:\n    - local\n"),
            "t.yaml:3:7: routing.fallback_chain[0]: unknown provider \"local\"; no providers are configured");
}

TEST(ConfigErrors, InvalidTierNames) {
  EXPECT_EQ(one_issue("routing:\n  task_tiers:\n    chat: sonet\n"),
            "t.yaml:3:11: routing.task_tiers.chat: expected one of haiku, sonnet, opus, got \"sonet\"; "
            "did you mean \"sonnet\"?");
  EXPECT_EQ(one_issue("providers:\n  - name: p\n    type: sim\n    models:\n      haiku: a\n      large: b\n"),
            "t.yaml:6:7: providers[0].models.large: expected a tier name (one of haiku, sonnet, opus), got \"large\"");
}

TEST(ConfigErrors, InvalidLevelNamesAndEmptyPatterns) {
  const std::string yaml =
      "classification:\n"
      "  custom_recognizers:\n"
      "    - name: emp\n"
      "      pattern: \"\"\n"
      "      entity_type: EMPLOYEE_ID\n"
      "      level: SECRET\n";
  const auto issues = issues_of(yaml);
  ASSERT_EQ(issues.size(), 2u);
  EXPECT_EQ(issues[0].to_string(),
            "t.yaml:4:16: classification.custom_recognizers[0].pattern: expected a non-empty string, got \"\"");
  EXPECT_EQ(issues[1].to_string(),
            "t.yaml:6:14: classification.custom_recognizers[0].level: expected a level (one of PUBLIC, INTERNAL, "
            "CONFIDENTIAL, RESTRICTED), got \"SECRET\"");
  // Level names are case-insensitive.
  const Config c = parse_config(
      "classification:\n  custom_recognizers:\n    - {name: a, pattern: x, entity_type: A, level: restricted}\n",
      "t.yaml", &no_env);
  EXPECT_EQ(c.classification.custom_recognizers.at(0).level, Level::RESTRICTED);
}

TEST(ConfigErrors, RecognizerPatternsGoThroughTheGivenCheck) {
  const std::string yaml =
      "classification:\n"
      "  custom_recognizers:\n"
      "    - {name: ok, pattern: 'A[0-9]+', entity_type: A}\n"
      "    - name: bad\n"
      "      pattern: 'B(['\n"
      "      entity_type: B\n";
  ValueChecks checks;
  checks.recognizer_pattern = [](const std::string& pattern) -> std::optional<std::string> {
    if (pattern == "B([") return "invalid pattern: refused by the test";
    return std::nullopt;
  };
  try {
    parse_config(yaml, "t.yaml", &no_env, checks);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    ASSERT_EQ(e.issues().size(), 1u) << e.what();
    EXPECT_EQ(e.issues()[0].to_string(),
              "t.yaml:5:16: classification.custom_recognizers[1].pattern: invalid pattern: refused by the test");
  }
  // Without checks (config/ alone has no regex engine) the pattern is only required to be non-empty.
  EXPECT_EQ(parse_config(yaml, "t.yaml", &no_env).classification.custom_recognizers.size(), 2u);
}

TEST(ConfigErrors, DuplicateYamlKeys) {
  EXPECT_EQ(one_issue("server:\n  threads: 2\n  threads: 3\n"),
            "t.yaml:3:3: server.threads: duplicate key (first defined at line 2)");
  EXPECT_EQ(one_issue("egress: {}\nlogging: {}\negress: {}\n"),
            "t.yaml:3:1: egress: duplicate key (first defined at line 1)");
}

// Keys of features that do not exist (a storage "backend" switch, a RAG top_k default) are
// refused like any unknown key; storage.postgres_dsn is read like api keys:
// "${ENV}" must be set.
TEST(ConfigErrors, RemovedKeysAreUnknownKeys) {
  EXPECT_EQ(one_issue("storage:\n  backend: postgres\n"),
            "t.yaml:2:3: storage.backend: unknown key; expected one of: sqlite_path, postgres_dsn, "
            "audit_retention_months");
  EXPECT_EQ(one_issue("storage:\n  postgres_dsn: \"${AEGIS_PG_DSN_NEVER_SET}\"\n"),
            "t.yaml:2:17: storage.postgres_dsn: environment variable AEGIS_PG_DSN_NEVER_SET is not set");
  EXPECT_EQ(one_issue("rag:\n  top_k: 5\n"),
            "t.yaml:2:3: rag.top_k: unknown key; expected one of: chunk_tokens, chunk_overlap_tokens, max_top_k, "
            "max_document_bytes, cloud_embedding_model, hnsw_threshold, hnsw_m, hnsw_ef_construction, hnsw_ef_search, "
            "postgres_dsn, postgres_connections");
  EXPECT_EQ(one_issue("vectors:\n  top_k: 5\n"),
            "t.yaml:1:1: vectors: unknown key; expected one of: server, storage, providers, routing, resilience, "
            "egress, classification, pii, budgets, jobs, rag, responses, logging, limits, media, rate_limits, "
            "audit, response_cache, console, oidc");
}

TEST(ConfigErrors, MoreThanOneDocument) {
  EXPECT_EQ(one_issue("egress: {}\n---\negress: {}\n"), "t.yaml:3:1: expected a single YAML document, found 2");
}

TEST(ConfigErrors, SeveralErrorsAreReportedTogetherInFileOrder) {
  const std::string yaml =
      "logging:\n"
      "  level: loud\n"
      "server:\n"
      "  threads: -1\n"
      "  bogus: 1\n"
      "providers:\n"
      "  - name: p\n"
      "    type: nope\n"
      "    models: {haiku: m}\n"
      "routing:\n"
      "  fallback_chain: [q]\n";
  try {
    parse_config(yaml, "multi.yaml", &fake_env);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    ASSERT_EQ(e.issues().size(), 5u) << e.what();
    EXPECT_EQ(e.issues()[0].line, 2);
    EXPECT_EQ(e.issues()[1].line, 4);
    EXPECT_EQ(e.issues()[2].line, 5);
    EXPECT_EQ(e.issues()[3].line, 8);
    EXPECT_EQ(e.issues()[4].line, 11);
    EXPECT_EQ(e.issues()[4].column, 20);
    // what() is every issue, one per line, in the same order.
    std::string joined;
    for (const auto& i : e.issues()) joined += (joined.empty() ? "" : "\n") + i.to_string();
    EXPECT_EQ(std::string(e.what()), joined);
    EXPECT_THAT(e.what(), HasSubstr("multi.yaml:11:20: routing.fallback_chain[0]: unknown provider \"q\""));
  }
}

// --------------------------------------------------------------------------- environment

TEST(ConfigEnv, ReferencesAreSubstitutedEverywhere) {
  const Config c = parse_config(
      "server:\n  threads: ${THREADS}\nstorage:\n  sqlite_path: \"/var/${THREADS}/a-${EMPTY}b.db\"\n"
      "providers:\n  - name: a\n    type: anthropic\n    api_key: ${ANTHROPIC_API_KEY}\n    models: {opus: o}\n",
      "t.yaml", &fake_env);
  EXPECT_EQ(c.server.threads, 12u);
  EXPECT_EQ(c.storage.sqlite_path, "/var/12/a-b.db");
  EXPECT_EQ(c.providers.at(0).api_key, "sk-ant-test");
  EXPECT_EQ(c.providers.at(0).base_url, "https://api.anthropic.com");
}

TEST(ConfigEnv, DoubleDollarEscapesALiteralReference) {
  const Config c = parse_config("storage:\n  sqlite_path: \"$${HOME}/x$y$$z.db\"\n", "t.yaml", &no_env);
  EXPECT_EQ(c.storage.sqlite_path, "${HOME}/x$y$$z.db");
}

TEST(ConfigEnv, UnsetVariableIsAnIssueAtTheScalar) {
  EXPECT_EQ(one_issue("storage:\n  sqlite_path: \"${AEGIS_DB_DIR}/aegis.db\"\n"),
            "t.yaml:2:16: storage.sqlite_path: environment variable AEGIS_DB_DIR is not set");
  EXPECT_EQ(one_issue("server:\n  listen: \"${NOPE\"\n"),
            "t.yaml:2:11: server.listen: unterminated \"${\"; expected ${NAME} (write $${ for a literal ${)");
  EXPECT_THAT(one_issue("server:\n  listen: \"${1X}:80\"\n"),
              HasSubstr("t.yaml:2:11: server.listen: expected an environment variable name"));
}

TEST(ConfigEnv, ValuesFromTheEnvironmentAreValidatedToo) {
  // The message shows both the value and where it came from.
  EXPECT_EQ(one_issue("server:\n  threads: ${THREADS}00\n"),
            "t.yaml:2:12: server.threads: expected an integer in 0..256, got \"1200\" (from \"${THREADS}00\")");
}

// --------------------------------------------------------------------------- files

TEST(ConfigFile, UnreadableFileIsOneIssueNamingIt) {
  const std::string path = "/nonexistent/dir/aegis.yaml";
  try {
    load_config_file(path, &no_env);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    ASSERT_EQ(e.issues().size(), 1u);
    EXPECT_EQ(e.issues()[0].file, path);
    EXPECT_EQ(e.issues()[0].line, 0);
    EXPECT_EQ(e.issues()[0].to_string(), path + ": cannot read file: No such file or directory");
  }
}

TEST(ConfigFile, IssuesNameTheFileTheyCameFrom) {
  const auto path = std::filesystem::temp_directory_path() / "aegis_config_loader_test.yaml";
  {
    std::ofstream out(path);
    out << "# a comment\nserver:\n  threads: lots\n";
  }
  try {
    load_config_file(path.string(), &no_env);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    ASSERT_EQ(e.issues().size(), 1u);
    EXPECT_EQ(e.issues()[0].to_string(),
              path.string() + ":3:12: server.threads: expected an integer in 0..256, got \"lots\"");
  }
  std::filesystem::remove(path);
}

TEST(ConfigIssueFormat, FormatsWithAndWithoutPosition) {
  EXPECT_EQ((ConfigIssue{"a.yaml", 4, 10, "m"}).to_string(), "a.yaml:4:10: m");
  EXPECT_EQ((ConfigIssue{"a.yaml", 4, 0, "m"}).to_string(), "a.yaml:4: m");
  EXPECT_EQ((ConfigIssue{"a.yaml", 0, 0, "m"}).to_string(), "a.yaml: m");
}

TEST(ConfigLoader, JobsSectionSetsQueueLeaseAndConcurrency) {
  const Config c = parse_config(
      "jobs:\n  max_queue_depth: 5\n  queue_ttl_s: 60\n  retention_s: 0\n  lease_s: 10\n  max_attempts: 1\n"
      "  workers: 2\n  provider_concurrency: {default: 3, ollama: 1}\n  sync_every_commit: false\n",
      "j.yaml", &no_env);
  EXPECT_EQ(c.jobs.max_queue_depth, 5);
  EXPECT_EQ(c.jobs.queue_ttl, std::chrono::seconds(60));
  EXPECT_EQ(c.jobs.retention, std::chrono::seconds(0));
  EXPECT_EQ(c.jobs.lease, std::chrono::seconds(10));
  EXPECT_EQ(c.jobs.max_attempts, 1);
  EXPECT_EQ(c.jobs.workers, 2);
  EXPECT_EQ(c.jobs.provider_concurrency, 3);
  EXPECT_EQ(c.jobs.provider_concurrency_overrides.at("ollama"), 1);
  EXPECT_FALSE(c.jobs.sync_every_commit);
  const Config plain = parse_config("jobs: {provider_concurrency: 7}\n", "j.yaml", &no_env);
  EXPECT_EQ(plain.jobs.provider_concurrency, 7);
  EXPECT_TRUE(plain.jobs.provider_concurrency_overrides.empty());
}

TEST(ConfigLoader, JobsSectionRejectsOutOfRangeAndUnknownKeys) {
  EXPECT_NE(one_issue("jobs:\n  lease_s: 1\n").find("jobs.lease_s"), std::string::npos);
  EXPECT_NE(one_issue("jobs:\n  workers: 0\n").find("jobs.workers"), std::string::npos);
  EXPECT_NE(one_issue("jobs:\n  max_attempt: 3\n").find("max_attempt"), std::string::npos);
  EXPECT_NE(one_issue("jobs:\n  provider_concurrency: {ollama: 0}\n").find("provider_concurrency.ollama"),
            std::string::npos);
}

}  // namespace
}  // namespace aegis::config
