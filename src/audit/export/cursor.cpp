#include "audit/export/cursor.hpp"

#include <boost/json.hpp>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/process_env.hpp"

namespace aegis::audit::siem {

namespace json = boost::json;

namespace {

Error cursor_error(const std::string& path, const std::string& what) {
  return make_error(ErrorCode::internal, "export cursor " + path + ": " + what);
}

std::string errno_text() { return core::errno_text(errno); }

// fsync of a file or directory by path.
bool sync_path(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

Result<ExportCursor> ExportCursor::load(const std::string& path) {
  ExportCursor cursor;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return cursor;
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) return cursor_error(path, "cannot read it");
  boost::system::error_code parse_error;
  const json::value doc = json::parse(text.str(), parse_error);
  const json::object* top = doc.if_object();
  const json::value* chains = top != nullptr ? top->if_contains("chains") : nullptr;
  if (parse_error || chains == nullptr || !chains->is_object()) {
    return cursor_error(path,
                        "not an export cursor (expected {\"chains\": {...}}); move it away to export everything "
                        "again");
  }
  for (const auto& [chain_id, value] : chains->as_object()) {
    const json::object* entry = value.if_object();
    const json::value* row_seq = entry != nullptr ? entry->if_contains("row_seq") : nullptr;
    const json::value* checkpoint_seq = entry != nullptr ? entry->if_contains("checkpoint_seq") : nullptr;
    if (row_seq == nullptr || !row_seq->is_int64() || checkpoint_seq == nullptr || !checkpoint_seq->is_int64()) {
      return cursor_error(path, "chain " + std::string(chain_id) + " has no integer row_seq and checkpoint_seq");
    }
    cursor.chains_[std::string(chain_id)] = ChainPosition{row_seq->as_int64(), checkpoint_seq->as_int64()};
  }
  return cursor;
}

Result<void> ExportCursor::save(const std::string& path) const {
  json::object chains;
  for (const auto& [chain_id, position] : chains_) {
    chains[chain_id] = json::object{{"row_seq", position.row_seq}, {"checkpoint_seq", position.checkpoint_seq}};
  }
  const std::string text = json::serialize(json::object{{"version", 1}, {"chains", std::move(chains)}}) + "\n";
  const std::string temp = path + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return cursor_error(path, "cannot create " + temp + ": " + errno_text());
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = errno_text();
      ::close(fd);
      return cursor_error(path, std::string("cannot write ").append(temp).append(": ").append(why));
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const std::string why = errno_text();
    ::close(fd);
    return cursor_error(path, "cannot sync " + temp + ": " + why);
  }
  ::close(fd);
  if (::rename(temp.c_str(), path.c_str()) != 0)
    return cursor_error(path, "cannot rename " + temp + ": " + errno_text());
  // The rename itself is durable only once the directory is.
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  if (!sync_path(dir, O_RDONLY | O_DIRECTORY)) return cursor_error(path, "cannot sync its directory: " + errno_text());
  return {};
}

ChainPosition ExportCursor::position(const std::string& chain_id) const {
  const auto it = chains_.find(chain_id);
  return it == chains_.end() ? ChainPosition{} : it->second;
}

}  // namespace aegis::audit::siem
