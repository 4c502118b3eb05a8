#pragma once
// audit.export type jsonl: one event a line appended to a file, synced after
// each batch. Past rotate_bytes the file becomes path.1 (path.1 becomes
// path.2, ...; the oldest beyond keep_files is deleted) before a new one is
// begun, so a line is never split across files.
#include <cstdint>
#include <memory>
#include <string>

#include "audit/export/export_sink.hpp"

namespace aegis::audit::siem {

struct JsonlSinkOptions {
  std::string path;
  std::int64_t rotate_bytes = 0;  // 0: never rotate
  int keep_files = 5;
};

std::unique_ptr<ExportSink> make_jsonl_sink(JsonlSinkOptions options);

}  // namespace aegis::audit::siem
