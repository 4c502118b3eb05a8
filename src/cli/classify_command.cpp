#include "cli/classify_command.hpp"

#include <boost/json.hpp>

#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "classify/classifier.hpp"
#include "cli/classifier_loader.hpp"
#include "config/loader.hpp"
#include "core/json.hpp"

namespace aegis::cli {

namespace json = boost::json;

namespace {

struct Timed {
  classify::Classification result;
  double duration_us = 0;
};

Timed timed_classify(const classify::Classifier& classifier, std::string_view text, const classify::Marking& marking) {
  const auto t0 = std::chrono::steady_clock::now();
  Timed out{classifier.classify(text, marking), 0};
  const auto t1 = std::chrono::steady_clock::now();
  out.duration_us = static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count()) / 1000.0;
  return out;
}

std::string to_json_line(const Timed& t) {
  json::array findings;
  for (const auto& f : t.result.findings) {
    findings.push_back(json::object{
        {"type", f.entity_type}, {"level", to_string(f.level)}, {"start", f.start}, {"end", f.end}, {"rule", f.rule}});
  }
  // Round to nanoseconds so the number reads well.
  const double us = static_cast<double>(std::llround(t.duration_us * 1000.0)) / 1000.0;
  return to_json(
      json::object{{"level", to_string(t.result.level)}, {"findings", std::move(findings)}, {"duration_us", us}});
}

void print_human(const Timed& t, std::ostream& out) {
  out << "level: " << to_string(t.result.level) << "\n";
  for (const auto& f : t.result.findings) {
    out << f.entity_type << "\t" << to_string(f.level) << "\t[" << f.start << ", " << f.end << ")\t" << f.rule << "\n";
  }
}

}  // namespace

ClassifyCommand::ClassifyCommand(CLI::App& app) {
  classify_ =
      app.add_subcommand("classify", "Classify a text: level and findings (types, offsets, rules; never values)");
  classify_->add_flag("--json", json_,
                      R"(Print {"level","findings":[{"type","level","start","end","rule"}],"duration_us"})");
  classify_->add_flag("--jsonl", jsonl_, "Read one JSON string per input line; print one JSON result per line");
  classify_->add_option("--config", config_path_,
                        "YAML config file (classification.internal_domains, custom_recognizers)");
  classify_
      ->add_option("--internal-domain", internal_domains_,
                   "An internal e-mail domain (repeatable; subdomains included)")
      ->allow_extra_args(false);
  classify_->add_flag("--public", marked_public_, "The content is marked public (like x-aegis-classification: public)");
  classify_->add_option("FILE", input_, "Input file, or - for standard input")->capture_default_str();
}

bool ClassifyCommand::parsed() const { return classify_->parsed(); }

int ClassifyCommand::run() {
  auto classifier = load_classifier(config_path_, internal_domains_, "classify");
  if (!classifier) return 2;

  std::ifstream file;
  std::istream* in = &std::cin;
  if (input_ != "-") {
    file.open(input_, std::ios::binary);
    if (!file) {
      std::cerr << "aegis classify: cannot read " << input_ << "\n";
      return 2;
    }
    in = &file;
  }
  const classify::Marking marking{marked_public_};

  if (jsonl_) {
    int rc = 0;
    std::string line;
    std::size_t line_no = 0;
    while (std::getline(*in, line)) {
      ++line_no;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.find_first_not_of(" \t") == std::string::npos) continue;
      boost::system::error_code ec;
      const json::value v = json::parse(line, ec);
      if (ec || !v.is_string()) {
        std::cerr << "aegis classify: line " << line_no << ": expected a JSON string\n";
        std::cout << to_json(json::object{{"error", "line " + std::to_string(line_no) + ": expected a JSON string"}})
                  << "\n";
        rc = 2;
        continue;
      }
      const auto& s = v.get_string();
      std::cout << to_json_line(timed_classify(*classifier, std::string_view(s.data(), s.size()), marking)) << "\n";
    }
    std::cout.flush();
    return rc;
  }

  const std::string text((std::istreambuf_iterator<char>(*in)), std::istreambuf_iterator<char>());
  const Timed t = timed_classify(*classifier, text, marking);
  if (json_)
    std::cout << to_json_line(t) << "\n";
  else
    print_human(t, std::cout);
  std::cout.flush();
  return 0;
}

}  // namespace aegis::cli
