#include "audit/checkpoint_file.hpp"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

namespace aegis::audit {

namespace {

std::optional<Checkpoint> parse_line(std::string_view line) {
  boost::system::error_code ec;
  auto value = boost::json::parse(line, ec);
  if (ec || !value.is_object()) return std::nullopt;
  const auto& o = value.as_object();
  Checkpoint c;
  const auto* id = o.if_contains("id");
  const auto* chain_id = o.if_contains("chain_id");
  const auto* seq = o.if_contains("seq");
  const auto* head_hash = o.if_contains("head_hash");
  const auto* sealed_at = o.if_contains("sealed_at_ms");
  const auto* key_id = o.if_contains("key_id");
  const auto* signature = o.if_contains("signature");
  if (id == nullptr || !id->is_int64() || chain_id == nullptr || !chain_id->is_string() || seq == nullptr ||
      !seq->is_int64() || head_hash == nullptr || !head_hash->is_string() || sealed_at == nullptr ||
      !sealed_at->is_int64() || key_id == nullptr || !key_id->is_string() || signature == nullptr ||
      !signature->is_string()) {
    return std::nullopt;
  }
  c.id = id->as_int64();
  c.chain_id = std::string(chain_id->as_string());
  c.seq = seq->as_int64();
  c.head_hash = std::string(head_hash->as_string());
  c.sealed_at_ms = sealed_at->as_int64();
  c.key_id = std::string(key_id->as_string());
  c.signature = std::string(signature->as_string());
  return c;
}

}  // namespace

std::string checkpoint_line(const Checkpoint& c) {
  const boost::json::object line{{"id", c.id},
                                 {"chain_id", c.chain_id},
                                 {"seq", c.seq},
                                 {"head_hash", c.head_hash},
                                 {"sealed_at_ms", c.sealed_at_ms},
                                 {"key_id", c.key_id},
                                 {"signature", c.signature}};
  return boost::json::serialize(line) + "\n";
}

Result<std::vector<Checkpoint>> read_checkpoint_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::invalid_request, "cannot read the checkpoint file " + path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  std::vector<Checkpoint> checkpoints;
  std::size_t start = 0;
  int number = 0;
  while (start < text.size()) {
    ++number;
    const auto end = text.find('\n', start);
    const bool complete = end != std::string::npos;
    const std::string_view line(text.data() + start, (complete ? end : text.size()) - start);
    start = complete ? end + 1 : text.size();
    if (line.empty()) continue;
    auto checkpoint = parse_line(line);
    if (!checkpoint) {
      if (!complete) break;  // the last write was cut short
      return make_error(ErrorCode::invalid_request,
                        "the checkpoint file " + path + ": line " + std::to_string(number) + " is not a checkpoint");
    }
    checkpoints.push_back(std::move(*checkpoint));
  }
  return checkpoints;
}

Result<std::vector<Checkpoint>> read_configured_checkpoint_file(const std::string& path) {
  std::error_code ec;
  if (path.empty() || !std::filesystem::exists(path, ec)) return std::vector<Checkpoint>{};
  return read_checkpoint_file(path);
}

}  // namespace aegis::audit
