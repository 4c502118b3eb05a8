// Incremental Server-Sent Events and NDJSON parsers (declared in client.hpp).
// Both keep only the unfinished line (and, for SSE, the event being built),
// so a stream of any length is parsed in bounded memory per event.
#include <string>
#include <string_view>
#include <vector>

#include "http/client.hpp"

namespace aegis::http {

// The SSE line rules of the WHATWG HTML spec (section 9.2.6): lines end with
// CRLF, LF or CR; a CRLF pair may be split across two chunks, which is what
// skip_lf_ remembers.
std::vector<SseParser::Event> SseParser::feed(std::string_view chunk) {
  std::vector<Event> out;
  std::size_t pos = 0;
  if (skip_lf_ && !chunk.empty()) {
    skip_lf_ = false;
    if (chunk.front() == '\n') pos = 1;
  }
  while (pos < chunk.size()) {
    const std::size_t end = chunk.find_first_of("\r\n", pos);
    if (end == std::string_view::npos) {
      line_.append(chunk.substr(pos));
      break;
    }
    const std::string_view piece = chunk.substr(pos, end - pos);
    if (line_.empty()) {
      take_line(piece, out);
    } else {
      line_.append(piece);
      const std::string line = std::move(line_);
      line_.clear();
      take_line(line, out);
    }
    pos = end + 1;
    if (chunk[end] == '\r') {
      if (pos < chunk.size()) {
        if (chunk[pos] == '\n') ++pos;
      } else {
        skip_lf_ = true;  // the '\n' of a CRLF may start the next chunk
      }
    }
  }
  return out;
}

void SseParser::take_line(std::string_view line, std::vector<Event>& out) {
  if (line.empty()) {
    // Blank line: dispatch the event being built, if it has any data.
    if (has_data_) out.push_back(Event{event_.empty() ? std::string("message") : std::move(event_), std::move(data_), id_});
    event_.clear();
    data_.clear();
    has_data_ = false;
    return;
  }
  if (line.front() == ':') return;  // comment (often a keep-alive)
  std::string_view field = line;
  std::string_view value;
  if (const auto colon = line.find(':'); colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) data_.push_back('\n');
    data_.append(value);
    has_data_ = true;
  } else if (field == "event") {
    event_.assign(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) id_.assign(value);
  }
  // "retry" and unknown fields are ignored.
}

namespace {
bool blank(std::string_view line) noexcept {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}
std::string_view strip_cr(std::string_view line) noexcept {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}
}  // namespace

std::vector<std::string> NdjsonParser::feed(std::string_view chunk) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < chunk.size()) {
    const std::size_t end = chunk.find('\n', pos);
    if (end == std::string_view::npos) {
      partial_.append(chunk.substr(pos));
      break;
    }
    const std::string_view piece = chunk.substr(pos, end - pos);
    if (partial_.empty()) {
      if (!blank(piece)) out.emplace_back(strip_cr(piece));
    } else {
      partial_.append(piece);
      std::string line = std::exchange(partial_, std::string());
      if (!blank(line)) {
        if (line.back() == '\r') line.pop_back();
        out.push_back(std::move(line));
      }
    }
    pos = end + 1;
  }
  return out;
}

}  // namespace aegis::http
