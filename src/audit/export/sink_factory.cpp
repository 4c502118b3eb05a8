#include "audit/export/sink_factory.hpp"

#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <map>
#include <string>

#include "audit/export/http_sink.hpp"
#include "audit/export/jsonl_sink.hpp"
#include "audit/export/syslog_sink.hpp"

namespace aegis::audit::siem {

namespace {

using Maker = std::function<Result<std::unique_ptr<ExportSink>>(const config::AuditExportConfig&, EnvLookup)>;

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0) return {};
  return name;
}

const std::map<std::string, Maker, std::less<>>& makers() {
  static const std::map<std::string, Maker, std::less<>> table{
      {"jsonl",
       [](const config::AuditExportConfig& c, EnvLookup) -> Result<std::unique_ptr<ExportSink>> {
         return make_jsonl_sink(JsonlSinkOptions{c.path, c.rotate_bytes, c.keep_files});
       }},
      {"syslog",
       [](const config::AuditExportConfig& c, EnvLookup) -> Result<std::unique_ptr<ExportSink>> {
         SyslogSinkOptions options;
         options.endpoint = NetEndpoint{c.host, std::to_string(c.port), c.tls, c.ca_file, c.timeout};
         options.app_name = c.app_name;
         options.facility = c.facility;
         options.hostname = host_name();
         options.process_id = ::getpid();
         return make_syslog_sink(std::move(options));
       }},
      {"http",
       [](const config::AuditExportConfig& c, EnvLookup getenv_fn) -> Result<std::unique_ptr<ExportSink>> {
         const char* token = getenv_fn(c.token_env.c_str());
         if (token == nullptr || *token == '\0') {
           return make_error(ErrorCode::invalid_request,
                             "audit.export.token_env: environment variable " + c.token_env + " is not set");
         }
         return make_http_sink(HttpSinkOptions{c.url, token, c.ca_file, host_name(), c.timeout});
       }},
  };
  return table;
}

}  // namespace

std::vector<std::string_view> export_sink_types() {
  std::vector<std::string_view> names;
  for (const auto& entry : makers()) names.push_back(entry.first);
  return names;
}

Result<std::unique_ptr<ExportSink>> make_export_sink(const config::AuditExportConfig& config, EnvLookup getenv_fn) {
  const auto it = makers().find(config.type);
  if (it == makers().end()) {
    return make_error(ErrorCode::invalid_request, "audit.export.type: no sink of type \"" + config.type + "\"");
  }
  // NOLINTNEXTLINE(concurrency-mt-unsafe): config load and start-up, before threads that set variables
  const EnvLookup process_env = [](const char* name) -> const char* { return std::getenv(name); };
  return it->second(config, getenv_fn != nullptr ? getenv_fn : process_env);
}

}  // namespace aegis::audit::siem
