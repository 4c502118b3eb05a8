#include "telemetry/log.hpp"

#include <spdlog/async.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <mutex>

#include "core/json.hpp"

namespace aegis::telemetry {

namespace {
std::shared_ptr<spdlog::logger> g_logger;
std::once_flag g_once;

spdlog::level::level_enum to_spdlog(LogLevel level) {
  switch (level) {
    case LogLevel::trace: return spdlog::level::trace;
    case LogLevel::debug: return spdlog::level::debug;
    case LogLevel::info: return spdlog::level::info;
    case LogLevel::warn: return spdlog::level::warn;
    case LogLevel::error: return spdlog::level::err;
    case LogLevel::off: return spdlog::level::off;
  }
  return spdlog::level::info;
}

std::shared_ptr<spdlog::logger> logger() {
  std::call_once(g_once, [] {
    spdlog::init_thread_pool(16384, 1);
    // Under overload, drop the oldest lines rather than stall request threads.
    g_logger = spdlog::create_async_nb<spdlog::sinks::stderr_sink_mt>("aegis");
    g_logger->set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l",%v})", spdlog::pattern_time_type::utc);
    g_logger->flush_on(spdlog::level::warn);
  });
  return g_logger;
}
}  // namespace

bool init_logging(std::string_view level) {
  static const std::pair<std::string_view, LogLevel> kLevels[] = {
      {"trace", LogLevel::trace}, {"debug", LogLevel::debug}, {"info", LogLevel::info},
      {"warn", LogLevel::warn},   {"error", LogLevel::error}, {"off", LogLevel::off}};
  for (const auto& [name, value] : kLevels) {
    if (name == level) {
      logger()->set_level(to_spdlog(value));
      return true;
    }
  }
  return false;
}

void log(LogLevel level, std::string_view event, boost::json::object fields) {
  auto& sink = *logger();
  const auto spd_level = to_spdlog(level);
  if (!sink.should_log(spd_level)) return;
  std::string line = "\"event\":";
  append_json(line, boost::json::string(event));
  for (const auto& entry : fields) {
    line += ',';
    append_json(line, boost::json::string(entry.key()));
    line += ':';
    append_json(line, entry.value());
  }
  sink.log(spd_level, line);
}

void flush_logs() { logger()->flush(); }

}  // namespace aegis::telemetry
