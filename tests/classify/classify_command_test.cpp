// `aegis classify`, driven in-process: output formats, options and exit codes.
#include "cli/classify_command.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace aegis::cli {
namespace {

namespace fs = std::filesystem;

struct Run {
  int code = -1;
  std::string out;
  std::string err;
};

Run run_classify(std::vector<std::string> args) {
  CLI::App app{"aegis"};
  app.require_subcommand(1);
  ClassifyCommand command(app);
  args.insert(args.begin(), "aegis");
  std::vector<const char*> argv;
  argv.reserve(args.size());
  for (const auto& a : args) argv.push_back(a.c_str());
  std::ostringstream out, err;
  auto* old_out = std::cout.rdbuf(out.rdbuf());
  auto* old_err = std::cerr.rdbuf(err.rdbuf());
  Run r;
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
    r.code = command.parsed() ? command.run() : -1;
  } catch (const CLI::ParseError& e) {
    r.code = app.exit(e);
  }
  std::cout.rdbuf(old_out);
  std::cerr.rdbuf(old_err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

class ClassifyCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("aegis-classify-cli-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string write(const std::string& name, const std::string& content) {
    const auto path = dir_ / name;
    std::ofstream(path, std::ios::binary) << content;
    return path.string();
  }
  fs::path dir_;
};

TEST_F(ClassifyCli, HumanOutputNamesTypesAndOffsetsButNeverValues) {
  const auto file = write("in.txt", "card 4111 1111 1111 1111, mail a@example-corp.com\n");
  const auto r = run_classify({"classify", "--internal-domain", "example-corp.com", file});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "level: RESTRICTED\n"
            "CREDIT_CARD\tRESTRICTED\t[5, 24)\tcard.luhn\n"
            "EMAIL_ADDRESS\tCONFIDENTIAL\t[31, 49)\temail.internal\n");
  EXPECT_EQ(r.out.find("4111"), std::string::npos);
  EXPECT_EQ(r.out.find("a@example"), std::string::npos);
}

TEST_F(ClassifyCli, JsonHasExactlyTheDocumentedShape) {
  const auto file = write("in.txt", "SIN 046 454 286");
  const auto r = run_classify({"classify", "--json", file});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto v = boost::json::parse(r.out).as_object();
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v.at("level").as_string(), "RESTRICTED");
  EXPECT_GE(v.at("duration_us").to_number<double>(), 0.0);
  const auto& findings = v.at("findings").as_array();
  ASSERT_EQ(findings.size(), 1u);
  const auto& f = findings[0].as_object();
  EXPECT_EQ(f.size(), 5u);
  EXPECT_EQ(f.at("type").as_string(), "CA_SIN");
  EXPECT_EQ(f.at("level").as_string(), "RESTRICTED");
  EXPECT_EQ(f.at("start").to_number<int>(), 4);
  EXPECT_EQ(f.at("end").to_number<int>(), 15);
  EXPECT_EQ(f.at("rule").as_string(), "sin.context");
}

TEST_F(ClassifyCli, JsonlClassifiesOneStringPerLine) {
  const auto file = write("in.jsonl",
                          "\"card 4111111111111111\"\n"
                          "\"nothing here\"\n"
                          "\n"
                          "{\"not\": \"a string\"}\n"
                          "\"[PUBLIC]\\nhello\"\n");
  const auto r = run_classify({"classify", "--jsonl", file});
  EXPECT_EQ(r.code, 2);  // one malformed line
  std::istringstream lines(r.out);
  std::vector<boost::json::object> results;
  std::string line;
  while (std::getline(lines, line)) results.push_back(boost::json::parse(line).as_object());
  ASSERT_EQ(results.size(), 4u);
  EXPECT_EQ(results[0].at("level").as_string(), "RESTRICTED");
  EXPECT_EQ(results[1].at("level").as_string(), "INTERNAL");
  EXPECT_TRUE(results[2].contains("error"));
  EXPECT_EQ(results[3].at("level").as_string(), "PUBLIC");
}

TEST_F(ClassifyCli, ConfigSuppliesDomainsAndCustomRecognizers) {
  const auto config = write("aegis.yaml",
                            "classification:\n"
                            "  internal_domains: [corp.example.org]\n"
                            "  custom_recognizers:\n"
                            "    - name: employee_id\n"
                            "      pattern: 'EMP-[0-9]{6}'\n"
                            "      entity_type: EMPLOYEE_ID\n"
                            "      level: confidential\n");
  const auto file = write("in.txt", "EMP-004211 wrote from x@corp.example.org");
  const auto r = run_classify({"classify", "--config", config, "--json", file});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto v = boost::json::parse(r.out).as_object();
  const auto& findings = v.at("findings").as_array();
  ASSERT_EQ(findings.size(), 2u);
  EXPECT_EQ(findings[0].as_object().at("type").as_string(), "EMPLOYEE_ID");
  EXPECT_EQ(findings[0].as_object().at("rule").as_string(), "custom:employee_id");
  EXPECT_EQ(findings[1].as_object().at("level").as_string(), "CONFIDENTIAL");
}

TEST_F(ClassifyCli, BadConfigurationAndInputExitWithTwo) {
  const auto bad_regex = write("bad.yaml",
                               "classification:\n"
                               "  custom_recognizers:\n"
                               "    - {name: broken_id, pattern: 'EMP-([0-9]+', entity_type: BROKEN}\n");
  const auto file = write("in.txt", "hello");
  auto r = run_classify({"classify", "--config", bad_regex, file});
  EXPECT_EQ(r.code, 2);
  // Refused while the config is loaded, at the pattern, as `aegis serve` and `aegis config check` refuse it.
  EXPECT_NE(r.err.find("bad.yaml:3:34: classification.custom_recognizers[0].pattern: invalid pattern"),
            std::string::npos)
      << r.err;

  r = run_classify({"classify", "--config", (dir_ / "missing.yaml").string(), file});
  EXPECT_EQ(r.code, 2);
  r = run_classify({"classify", (dir_ / "missing.txt").string()});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("cannot read"), std::string::npos);
}

}  // namespace
}  // namespace aegis::cli
