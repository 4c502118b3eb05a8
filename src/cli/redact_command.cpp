#include "cli/redact_command.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <iterator>
#include <set>

#include "cli/classifier_loader.hpp"
#include "core/json.hpp"
#include "core/media_type.hpp"
#include "media/ocr_shapes.hpp"
#include "media/tesseract_extractor.hpp"
#include "privacy/mask.hpp"
#include "privacy/person.hpp"

namespace aegis::cli {

namespace json = boost::json;

namespace {

// The page (0-based) a byte of the extraction's text was read from.
std::size_t page_at(const media::Extraction& extraction, std::size_t offset) {
  std::size_t entry = extraction.words.empty() ? 0 : extraction.words.back().page;
  for (const auto& word : extraction.words) {
    if (offset < word.end) {
      entry = word.page;
      break;
    }
  }
  return entry < extraction.pages.size() ? extraction.pages[entry].source : 0;
}

}  // namespace

RedactCommand::RedactCommand(CLI::App& app) {
  redact_ = app.add_subcommand(
      "redact",
      "Redact an image or a PDF as the gateway would for a cloud provider: OCR, classify, hide what it finds");
  redact_->add_option("FILE", input_, "The image (PNG, JPEG, WebP, GIF) or PDF to read")->required();
  redact_->add_option("-o,--output", output_, "Where to write the redacted copy (PNG for an image, PDF for a PDF)")
      ->required();
  redact_->add_flag(
      "--json", json_,
      R"(Print {"level","complete","incomplete_reason","pages","findings":[{"type","level","placeholder","page"}],"cloud","output"})");
  redact_->add_option("--config", config_path_,
                      "YAML config file (classification.internal_domains, custom_recognizers)");
  redact_->add_option("--internal-domain", internal_domains_, "An internal e-mail domain (repeatable)")
      ->allow_extra_args(false);
  redact_->add_option("--timeout-ms", timeout_ms_, "Time budget for reading the file")->capture_default_str();
}

bool RedactCommand::parsed() const { return redact_->parsed(); }

int RedactCommand::run() {
  auto classifier = load_classifier(config_path_, internal_domains_, "redact");
  if (!classifier) return 2;
  std::ifstream file(input_, std::ios::binary);
  if (!file) {
    std::cerr << "aegis redact: cannot read " << input_ << "\n";
    return 2;
  }
  Attachment attachment;
  attachment.data.assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
  // What the bytes are decides how they are read; anything else is left to
  // the decoder, which reports it unreadable (and so RESTRICTED).
  const auto sniffed = sniff_media_type(attachment.data);
  attachment.media_type = std::string(sniffed.value_or("application/octet-stream"));
  attachment.kind =
      is_supported_document_type(attachment.media_type) ? Attachment::Kind::document : Attachment::Kind::image;

  media::Limits limits;
  const media::TesseractExtractor extractor(limits);
  const auto extraction =
      extractor.extract(attachment, std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms_));
  auto classification = classifier->classify(extraction.text, classify::Marking{false});
  const auto persons = privacy::detect_persons(extraction.text, classification.findings);
  privacy::Vault vault;
  const auto masked = privacy::mask(extraction.text, classification.findings, persons, vault);

  Level level = classification.level;
  if (!extraction.complete) level = Level::RESTRICTED;  // as the gateway treats it
  media::Ranges ranges;
  json::array findings;
  std::set<std::string> restricted_types;
  for (const auto& entity : masked.entities) {
    ranges.emplace_back(entity.start, entity.end);
    Level entity_level = Level::CONFIDENTIAL;
    for (const auto& f : classification.findings) {
      if (f.start < entity.end && entity.start < f.end) entity_level = std::max(entity_level, f.level);
    }
    if (entity_level == Level::RESTRICTED) restricted_types.insert(entity.type);
    findings.push_back(json::object{{"type", entity.type},
                                    {"level", to_string(entity_level)},
                                    {"placeholder", entity.placeholder},
                                    {"page", page_at(extraction, entity.start) + 1}});
  }

  // As the gateway does: in OCR text the shape of a SIN or card number is
  // RESTRICTED whatever its checksum (media/ocr_shapes.hpp).
  for (const auto& hit : media::restricted_shapes(extraction.text)) {
    const bool known = std::any_of(masked.entities.begin(), masked.entities.end(), [&](const auto& e) {
      return e.type == hit.entity_type && e.start < hit.end && hit.start < e.end;
    });
    if (known) continue;
    level = Level::RESTRICTED;
    restricted_types.insert(hit.entity_type);
    ranges.emplace_back(hit.start, hit.end);
    findings.push_back(json::object{{"type", hit.entity_type},
                                    {"level", "RESTRICTED"},
                                    {"placeholder", ""},
                                    {"page", page_at(extraction, hit.start) + 1}});
  }

  std::string written;
  if (extraction.complete || !extraction.pages.empty()) {
    auto redacted = extractor.redact(attachment, extraction, ranges);
    if (!redacted.ok()) {
      std::cerr << "aegis redact: " << redacted.error().message << "\n";
      return 2;
    }
    std::ofstream out(output_, std::ios::binary | std::ios::trunc);
    out.write(redacted->data.data(), static_cast<std::streamsize>(redacted->data.size()));
    if (!out) {
      std::cerr << "aegis redact: cannot write " << output_ << "\n";
      return 2;
    }
    written = output_;
  }
  // What a cloud provider would be sent: nothing of RESTRICTED data (the
  // request runs locally), else the redacted copy, else the file as it is.
  const std::string cloud = level == Level::RESTRICTED ? "never" : (ranges.empty() ? "as_is" : "redacted");

  if (json_) {
    std::cout << to_json(json::object{{"level", to_string(level)},
                                      {"complete", extraction.complete},
                                      {"incomplete_reason", extraction.incomplete_reason},
                                      {"pages", media::pages_read(extraction)},
                                      {"words", extraction.words.size()},
                                      {"findings", std::move(findings)},
                                      {"cloud", cloud},
                                      {"output", written}})
              << "\n";
    return 0;
  }
  std::cout << "level: " << to_string(level) << "\n";
  if (!extraction.complete) std::cout << "not read in full: " << extraction.incomplete_reason << "\n";
  for (const auto& f : findings) {
    const auto& o = f.as_object();
    std::cout << std::string_view(o.at("type").as_string()) << "\t" << std::string_view(o.at("level").as_string())
              << "\t" << std::string_view(o.at("placeholder").as_string()) << "\tpage "
              << o.at("page").to_number<std::int64_t>() << "\n";
  }
  if (cloud == "never") {
    std::cout << "a cloud provider would not be sent this file: it runs on a local provider";
    if (!restricted_types.empty()) {
      std::cout << " (RESTRICTED:";
      for (const auto& type : restricted_types) std::cout << " " << type;
      std::cout << ")";
    }
    std::cout << "\n";
  } else if (cloud == "redacted") {
    std::cout << "a cloud provider would be sent the redacted copy: " << written << "\n";
  } else {
    std::cout << "nothing to hide: a cloud provider would be sent the file as it is\n";
  }
  if (!written.empty() && cloud == "never") std::cout << "every finding is hidden in " << written << "\n";
  return 0;
}

}  // namespace aegis::cli
