#pragma once
// Structured JSON logs, one object per line on stderr, written by a
// background thread so that I/O threads never block on the terminal.
// Never pass secrets or request/response content here.
#include <boost/json/object.hpp>

#include <string_view>

namespace aegis::telemetry {

enum class LogLevel { trace, debug, info, warn, error, off };

// Idempotent; `level` is trace|debug|info|warn|error|off. Returns false on an unknown level.
bool init_logging(std::string_view level);
void log(LogLevel level, std::string_view event, boost::json::object fields = {});
void flush_logs();

}  // namespace aegis::telemetry
