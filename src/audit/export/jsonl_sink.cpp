#include "audit/export/jsonl_sink.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>

#include "core/process_env.hpp"

namespace aegis::audit::siem {

namespace {

class JsonlSink final : public ExportSink {
 public:
  explicit JsonlSink(JsonlSinkOptions options) : options_(std::move(options)) {}
  ~JsonlSink() override { close_file(); }
  JsonlSink(const JsonlSink&) = delete;
  JsonlSink& operator=(const JsonlSink&) = delete;

  Result<void> send(const std::vector<ExportEvent>& batch) override {
    if (fd_ < 0) {
      if (auto opened = open_file(); !opened.ok()) return opened;
    }
    // A failed batch is cut off again, so a retry never follows half a line.
    // Lines already rotated away stay there (complete, synced): at-least-once.
    std::int64_t keep = size_;
    for (const auto& event : batch) {
      const auto line_size = static_cast<std::int64_t>(event.json.size() + 1);
      if (options_.rotate_bytes > 0 && size_ > 0 && size_ + line_size > options_.rotate_bytes) {
        if (auto rotated = rotate(); !rotated.ok()) return undo(keep, rotated.error());
        keep = 0;
      }
      std::string line = event.json;
      line += '\n';
      if (auto written = write_all(line); !written.ok()) return undo(keep, written.error());
    }
    if (::fdatasync(fd_) != 0) return undo(keep, failure("cannot sync"));
    return {};
  }

 private:
  Error failure(const std::string& what) const {
    return make_error(ErrorCode::unavailable,
                      "jsonl export " + options_.path + ": " + what + ": " + core::errno_text(errno));
  }

  Result<void> open_file() {
    fd_ = ::open(options_.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd_ < 0) return failure("cannot open");
    struct stat st {};
    if (::fstat(fd_, &st) != 0) {
      const Error e = failure("cannot stat");
      close_file();
      return e;
    }
    size_ = st.st_size;
    return {};
  }

  void close_file() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    size_ = 0;
  }

  Result<void> write_all(const std::string& data) {
    std::size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = ::write(fd_, data.data() + done, data.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return failure("cannot write");
      done += static_cast<std::size_t>(n);
      size_ += n;
    }
    return {};
  }

  // Drops what a failed batch appended (best effort: a file that cannot be
  // truncated is reopened and the retry appends after the partial line).
  Result<void> undo(std::int64_t keep_size, Error error) {
    if (fd_ >= 0 && ::ftruncate(fd_, keep_size) == 0) {
      size_ = keep_size;
    } else {
      close_file();
    }
    return error;
  }

  std::string rotated_name(int n) const { return options_.path + "." + std::to_string(n); }

  Result<void> rotate() {
    if (::fdatasync(fd_) != 0) return failure("cannot sync before rotating");
    close_file();
    std::error_code ec;
    std::filesystem::remove(rotated_name(options_.keep_files), ec);
    for (int n = options_.keep_files - 1; n >= 1; --n) {
      if (std::filesystem::exists(rotated_name(n), ec)) {
        std::filesystem::rename(rotated_name(n), rotated_name(n + 1), ec);
        if (ec)
          return make_error(ErrorCode::unavailable,
                            "jsonl export: cannot rotate " + rotated_name(n) + ": " + ec.message());
      }
    }
    std::filesystem::rename(options_.path, rotated_name(1), ec);
    if (ec)
      return make_error(ErrorCode::unavailable, "jsonl export: cannot rotate " + options_.path + ": " + ec.message());
    std::string dir = std::filesystem::path(options_.path).parent_path().string();
    if (dir.empty()) dir = ".";
    if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
    return open_file();
  }

  JsonlSinkOptions options_;
  int fd_ = -1;
  std::int64_t size_ = 0;
};

}  // namespace

std::unique_ptr<ExportSink> make_jsonl_sink(JsonlSinkOptions options) {
  return std::make_unique<JsonlSink>(std::move(options));
}

}  // namespace aegis::audit::siem
