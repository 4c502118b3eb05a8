#pragma once
// Builds the sink audit.export.type names (docs/CONFIG.md, audit.export):
// one maker per type, keyed by the type's name.
#include <memory>
#include <string_view>
#include <vector>

#include "audit/export/export_sink.hpp"
#include "config/config.hpp"
#include "core/result.hpp"

namespace aegis::audit::siem {

using EnvLookup = const char* (*)(const char*);

// The type names a sink can be made for: "jsonl", "syslog", "http".
std::vector<std::string_view> export_sink_types();

// An error for an unknown type, an http token variable that is not set or a
// malformed URL; throws when a TLS trust store cannot be loaded.
Result<std::unique_ptr<ExportSink>> make_export_sink(const config::AuditExportConfig& config,
                                                     EnvLookup getenv_fn = nullptr);

}  // namespace aegis::audit::siem
