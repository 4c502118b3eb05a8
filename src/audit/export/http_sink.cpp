#include "audit/export/http_sink.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <utility>
#include <vector>

#include "audit/export/net_stream.hpp"

namespace aegis::audit::siem {

namespace {

// Epoch seconds with the milliseconds as a fraction, as HEC reads "time".
std::string epoch_seconds(std::int64_t time_ms) {
  std::string fraction = std::to_string(time_ms % 1000);
  fraction.insert(0, 3 - fraction.size(), '0');
  return std::to_string(time_ms / 1000) + "." + fraction;
}

// Printable ASCII only, bounded: an error body is shown in logs, where the
// receiver's arbitrary bytes have no place.
std::string excerpt(const std::string& body) {
  std::string out;
  for (const char c : body) {
    if (out.size() == 200) break;
    out += (c >= 32 && c < 127) ? c : ' ';
  }
  return out;
}

class HttpSink final : public ExportSink {
 public:
  HttpSink(HttpSinkOptions options, NetEndpoint endpoint, std::string target)
      : options_(std::move(options)), stream_(std::move(endpoint)), target_(std::move(target)) {}

  Result<void> send(const std::vector<ExportEvent>& batch) override {
    std::string body;
    for (const auto& event : batch) {
      body += hec_envelope(event, options_.hostname);
      body += '\n';
    }
    const std::vector<std::pair<std::string, std::string>> headers{{"Authorization", "Splunk " + options_.token},
                                                                   {"Content-Type", "application/json"}};
    auto answer = stream_.http_exchange("POST", target_, headers, body);
    if (!answer.ok()) return answer.error();
    if (answer->status < 200 || answer->status > 299) {
      stream_.close();
      return make_error(ErrorCode::upstream_error,
                        "HEC endpoint answered " + std::to_string(answer->status) + ": " + excerpt(answer->body));
    }
    return {};
  }

 private:
  HttpSinkOptions options_;
  NetStream stream_;
  std::string target_;
};

}  // namespace

std::string hec_envelope(const ExportEvent& event, const std::string& hostname) {
  std::string out = "{\"time\":" + epoch_seconds(event.time_ms) + ",\"host\":";
  out += boost::json::serialize(boost::json::string(hostname));
  out += ",\"source\":\"aegis\",\"sourcetype\":";
  out += event.kind == ExportEvent::Kind::checkpoint ? "\"aegis:checkpoint\"" : "\"aegis:audit\"";
  out += ",\"event\":";
  out += event.json;
  out += '}';
  return out;
}

Result<std::unique_ptr<ExportSink>> make_http_sink(HttpSinkOptions options) {
  const auto url = boost::urls::parse_uri(options.url);
  if (!url || (url->scheme() != "http" && url->scheme() != "https") || url->host().empty()) {
    return make_error(ErrorCode::invalid_request, "audit.export.url: expected an http:// or https:// URL");
  }
  NetEndpoint endpoint;
  endpoint.tls = url->scheme() == "https";
  endpoint.host = url->host_address();
  // An IPv6 literal is written in brackets in the URL, never when resolving.
  if (endpoint.host.size() > 2 && endpoint.host.front() == '[')
    endpoint.host = endpoint.host.substr(1, endpoint.host.size() - 2);
  endpoint.port = url->has_port() ? std::string(url->port()) : std::string(endpoint.tls ? "443" : "80");
  endpoint.ca_file = options.ca_file;
  endpoint.timeout = options.timeout;
  std::string target = std::string(url->encoded_path());
  if (target.empty()) target = "/";
  if (url->has_query()) target += "?" + std::string(url->encoded_query());
  std::unique_ptr<ExportSink> sink =
      std::make_unique<HttpSink>(std::move(options), std::move(endpoint), std::move(target));
  return sink;
}

}  // namespace aegis::audit::siem
