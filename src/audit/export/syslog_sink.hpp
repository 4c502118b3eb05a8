#pragma once
// audit.export type syslog: each event is one RFC 5424 message, framed by
// octet counting (RFC 6587 section 3.4.1: "LEN SP MSG") over TCP, or TLS
// (RFC 5425). Syslog has no application-level acknowledgement: a batch
// counts as delivered once the receiver's TCP acknowledged every byte of it
// (audit/export/net_stream.hpp), so a receiver that dies holding bytes it
// had not yet read can lose them; the http type acknowledges end to end.
#include <cstdint>
#include <memory>
#include <string>

#include "audit/export/export_sink.hpp"
#include "audit/export/net_stream.hpp"

namespace aegis::audit::siem {

struct SyslogSinkOptions {
  NetEndpoint endpoint;
  std::string app_name = "aegis";
  int facility = 13;     // log audit
  std::string hostname;  // HOSTNAME field; empty: "-"
  std::int64_t process_id = 0;
};

// One framed message:
//   "<LEN> <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [aegis@32473 chain_id=".." seq=".."] JSON"
// PRI is facility * 8 + severity (6, informational, for rows; 5, notice, for
// checkpoints); MSGID is "audit" or "checkpoint"; the MSG is the event's JSON.
std::string syslog_frame(const ExportEvent& event, const SyslogSinkOptions& options);

// Throws when the TLS trust store cannot be loaded.
std::unique_ptr<ExportSink> make_syslog_sink(SyslogSinkOptions options);

}  // namespace aegis::audit::siem
