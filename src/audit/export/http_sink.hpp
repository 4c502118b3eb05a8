#pragma once
// audit.export type http: Splunk HTTP Event Collector-compatible JSON. A
// batch is one POST whose body is the events' envelopes one after another:
//   {"time": <epoch seconds, ms precision>, "host": "...", "source": "aegis",
//    "sourcetype": "aegis:audit" | "aegis:checkpoint", "event": {...}}
// with `Authorization: Splunk <token>`. A 2xx answer acknowledges the batch;
// anything else (or no answer in time) fails it, and it is sent again.
#include <chrono>
#include <memory>
#include <string>

#include "audit/export/export_sink.hpp"
#include "core/result.hpp"

namespace aegis::audit::siem {

struct HttpSinkOptions {
  std::string url;    // http:// or https://
  std::string token;  // never logged, never part of an error message
  std::string ca_file;
  std::string hostname;  // the envelopes' "host"
  std::chrono::milliseconds timeout{10'000};
};

// One event's envelope.
std::string hec_envelope(const ExportEvent& event, const std::string& hostname);

// An error when the URL is not an http(s) URL with a host.
Result<std::unique_ptr<ExportSink>> make_http_sink(HttpSinkOptions options);

}  // namespace aegis::audit::siem
