#include "audit/export/syslog_sink.hpp"

#include "core/time_format.hpp"

namespace aegis::audit::siem {

namespace {

// RFC 5424 section 6.2: PRINTUSASCII, at most `limit` characters, "-" when empty.
std::string header_field(const std::string& value, std::size_t limit) {
  std::string out;
  for (const char c : value) {
    if (out.size() == limit) break;
    if (c > 32 && c < 127) out += c;
  }
  return out.empty() ? std::string("-") : out;
}

// RFC 5424 section 6.3.3: '"', '\' and ']' are escaped in a PARAM-VALUE.
std::string param_value(const std::string& value) {
  std::string out;
  for (const char c : value) {
    if (c == '"' || c == '\\' || c == ']') out += '\\';
    out += c;
  }
  return out;
}

// 32473 is the private enterprise number reserved for examples (RFC 5612):
// the SD-ID names the fields as Aegis's without claiming a registered number.
constexpr const char* kStructuredDataId = "aegis@32473";

class SyslogSink final : public ExportSink {
 public:
  explicit SyslogSink(SyslogSinkOptions options) : options_(std::move(options)), stream_(options_.endpoint) {}

  Result<void> send(const std::vector<ExportEvent>& batch) override {
    std::string frames;
    for (const auto& event : batch) frames += syslog_frame(event, options_);
    auto sent = stream_.write_acknowledged(frames);
    if (!sent.ok()) stream_.close();
    return sent;
  }

 private:
  SyslogSinkOptions options_;
  NetStream stream_;
};

}  // namespace

std::string syslog_frame(const ExportEvent& event, const SyslogSinkOptions& options) {
  const bool checkpoint = event.kind == ExportEvent::Kind::checkpoint;
  const int severity = checkpoint ? 5 : 6;
  std::string message = "<" + std::to_string(options.facility * 8 + severity) + ">1 ";
  message += format_rfc3339_ms(event.time_ms);
  message += ' ';
  message += header_field(options.hostname, 255);
  message += ' ';
  message += header_field(options.app_name, 48);
  message += ' ';
  message += options.process_id > 0 ? std::to_string(options.process_id) : std::string("-");
  message += checkpoint ? " checkpoint " : " audit ";
  message += "[";
  message += kStructuredDataId;
  message += " chain_id=\"" + param_value(event.chain_id) + "\" seq=\"" + std::to_string(event.seq) + "\"] ";
  message += event.json;
  return std::to_string(message.size()) + " " + message;
}

std::unique_ptr<ExportSink> make_syslog_sink(SyslogSinkOptions options) {
  return std::make_unique<SyslogSink>(std::move(options));
}

}  // namespace aegis::audit::siem
