#pragma once
// What every SQLite-backed store shares: owning handles, a scoped use of a
// cached prepared statement, and error values that never carry stored data.
#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace aegis::store::sqlite {

struct DbCloser {
  void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* st) const noexcept { sqlite3_finalize(st); }
};
using DbPtr = std::unique_ptr<sqlite3, DbCloser>;
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

// How bound text is held. `copied` is always safe; `borrowed` (SQLITE_STATIC)
// saves a copy of large values such as prompts, and is right only when every
// bound value outlives the Use object (no temporaries passed to bind()).
enum class TextLifetime { copied, borrowed };

// A cached statement in use: reset and unbound on every exit path, so no bound
// value outlives the call and the statement can be reused.
class Use {
 public:
  explicit Use(sqlite3_stmt* st, TextLifetime lifetime = TextLifetime::copied) noexcept
      : st_(st), destructor_(lifetime == TextLifetime::borrowed ? SQLITE_STATIC : SQLITE_TRANSIENT) {}
  ~Use() {
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
  }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;
  sqlite3_stmt* get() const noexcept { return st_; }
  int step() noexcept { return sqlite3_step(st_); }

  void bind(int i, std::string_view text) {
    sqlite3_bind_text(st_, i, text.data(), static_cast<int>(text.size()), destructor_);
  }
  void bind(int i, std::int64_t v) { sqlite3_bind_int64(st_, i, v); }
  void bind_null(int i) { sqlite3_bind_null(st_, i); }
  void bind_blob(int i, std::string_view bytes) {
    sqlite3_bind_blob(st_, i, bytes.data(), static_cast<int>(bytes.size()), destructor_);
  }

  std::string text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st_, col));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(st_, col))) : std::string();
  }
  std::int64_t int64(int col) const { return sqlite3_column_int64(st_, col); }
  bool is_null(int col) const { return sqlite3_column_type(st_, col) == SQLITE_NULL; }
  bool is_blob(int col) const { return sqlite3_column_type(st_, col) == SQLITE_BLOB; }
  std::string blob(int col) const {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(st_, col));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(st_, col))) : std::string();
  }

 private:
  sqlite3_stmt* st_;
  sqlite3_destructor_type destructor_;
};

// Messages never carry data values: only the store's name, the operation and SQLite's generic text.
// `store`: "storage" or e.g. "job storage".
inline Error db_error(std::string_view store, std::string_view op, int rc) {
  const int primary = rc & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
    Error e = make_error(ErrorCode::unavailable, std::string(store) + " is busy (" + std::string(op) + ")");
    e.retry_after_seconds = 1;
    return e;
  }
  return make_error(ErrorCode::internal,
                    std::string(store) + " error in " + std::string(op) + ": " + sqlite3_errstr(rc));
}

inline Error corrupt_row(std::string_view store, std::string_view op) {
  return make_error(ErrorCode::internal,
                    std::string(store) + " error in " + std::string(op) + ": unexpected stored value");
}

// ":memory:", "" and "file:" URIs have no directory to create (and no WAL file).
inline bool is_memory_path(const std::string& path) {
  return path.empty() || path == ":memory:" || path.rfind("file:", 0) == 0;
}

// Start-up only (throws): creates the file's directory, opens it with
// `mutex_flag` (SQLITE_OPEN_FULLMUTEX, or NOMUTEX when the caller serialises),
// turns on extended result codes and the busy timeout. `purpose` names the
// store in error messages ("" or " for jobs").
inline DbPtr open_database(const std::string& path, int mutex_flag, std::chrono::milliseconds busy_timeout,
                           std::string_view purpose = {}) {
  if (!is_memory_path(path)) {
    const auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(parent, ec);
      if (ec) {
        throw std::runtime_error("cannot create the directory '" + parent.string() +
                                 "' for the SQLite database: " + ec.message());
      }
    }
  }
  sqlite3* raw = nullptr;
  const int flags =
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | mutex_flag | (path.rfind("file:", 0) == 0 ? SQLITE_OPEN_URI : 0);
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  DbPtr db(raw);  // closes even a half-open handle
  if (rc != SQLITE_OK) {
    throw std::runtime_error("cannot open the SQLite database '" + path + "'" + std::string(purpose) + ": " +
                             (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, static_cast<int>(busy_timeout.count()));
  return db;
}

}  // namespace aegis::store::sqlite
