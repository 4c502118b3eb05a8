#pragma once
// SIEM export (docs/ARCHITECTURE.md, "SIEM export"): the exporter
// (audit/export/exporter.hpp) reads each audit chain in seq order and hands
// batches of events to an ExportSink: a JSON Lines file, syslog over TCP/TLS
// or a Splunk HEC-compatible HTTP endpoint (audit/export/sink_factory.hpp).
#include <cstdint>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace aegis::audit::siem {

// One audit row or one checkpoint, already encoded (audit/export/event_json.hpp).
struct ExportEvent {
  enum class Kind { row, checkpoint };
  Kind kind = Kind::row;
  std::string chain_id;
  std::int64_t seq = 0;
  std::int64_t time_ms = 0;  // a row's time_ms; a checkpoint's sealed_at_ms
  std::string json;          // one JSON object, no newline
};

class ExportSink {
 public:
  virtual ~ExportSink() = default;
  // Delivers the events in order, on the exporter's thread (blocking, bounded
  // by the sink's timeout). ok only once the receiver has them: the file is
  // synced, the receiver's TCP acknowledged every byte, or the HTTP endpoint
  // answered 2xx. An error means the whole batch is sent again later, so a
  // receiver may see an event twice (at-least-once), never miss one.
  virtual Result<void> send(const std::vector<ExportEvent>& batch) = 0;
};

}  // namespace aegis::audit::siem
