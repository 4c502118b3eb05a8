#pragma once
// Shared by the wire codec tests: fixtures, readable dumps of canonical
// values, SSE feeding through the real parser, event builders.
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "core/chat.hpp"
#include "core/json.hpp"
#include "core/result.hpp"
#include "http/client.hpp"

namespace aegis::wire {
namespace json = boost::json;

inline std::string fixture(const std::string& name) {
  std::ifstream in(std::string(AEGIS_SOURCE_DIR) + "/tests/fixtures/wire/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << "missing fixture " << name;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline json::value fixture_json(const std::string& name) { return json::parse(fixture(name)); }

// ---- Canonical values as JSON, so a mismatch prints readably -----------------

inline json::value dump(const std::vector<ToolCall>& calls) {
  json::array out;
  for (const auto& c : calls) out.push_back(json::object{{"id", c.id}, {"name", c.name}, {"args", c.arguments_json}});
  return out;
}

inline json::value dump(const ChatRequest& r) {
  json::array messages;
  for (const auto& m : r.messages) {
    messages.push_back(json::object{{"role", static_cast<int>(m.role)},
                                    {"text", m.text},
                                    {"calls", dump(m.tool_calls)},
                                    {"tool_call_id", m.tool_call_id},
                                    {"tool_error", m.tool_error}});
  }
  json::array tools;
  for (const auto& t : r.tools) {
    tools.push_back(json::object{{"name", t.name}, {"description", t.description}, {"schema", t.input_schema}});
  }
  json::array stop;
  for (const auto& s : r.stop) stop.emplace_back(s);
  return json::object{{"model", r.model},
                      {"system", r.system},
                      {"messages", messages},
                      {"max_tokens", r.max_tokens ? json::value(*r.max_tokens) : json::value(nullptr)},
                      {"temperature", r.temperature ? json::value(*r.temperature) : json::value(nullptr)},
                      {"top_p", r.top_p ? json::value(*r.top_p) : json::value(nullptr)},
                      {"stop", stop},
                      {"tools", tools},
                      {"tool_choice", r.tool_choice},
                      {"stream", r.stream},
                      {"include_usage", r.stream_include_usage},
                      {"origin", static_cast<int>(r.origin)},
                      {"passthrough", r.passthrough}};
}

inline json::value dump(const Completion& c) {
  return json::object{{"id", c.id},
                      {"model", c.model},
                      {"text", c.text},
                      {"calls", dump(c.tool_calls)},
                      {"stop", static_cast<int>(c.stop_reason)},
                      {"stop_sequence", c.stop_sequence ? json::value(*c.stop_sequence) : json::value(nullptr)},
                      {"in", c.usage.input_tokens},
                      {"out", c.usage.output_tokens}};
}

inline json::value dump(const StreamEvent& e) {
  static constexpr const char* kinds[] = {"start", "text", "tool_call_start", "tool_call_delta", "finish"};
  json::object o{{"kind", kinds[static_cast<int>(e.kind)]}};
  switch (e.kind) {
    case StreamEvent::Kind::start:
      o["id"] = e.id;
      o["model"] = e.model;
      o["in"] = e.usage.input_tokens;
      o["out"] = e.usage.output_tokens;
      break;
    case StreamEvent::Kind::text: o["text"] = e.text; break;
    case StreamEvent::Kind::tool_call_start:
      o["index"] = e.index;
      o["id"] = e.tool_call.id;
      o["name"] = e.tool_call.name;
      break;
    case StreamEvent::Kind::tool_call_delta:
      o["index"] = e.index;
      o["text"] = e.text;
      break;
    case StreamEvent::Kind::finish:
      o["stop"] = static_cast<int>(e.stop_reason);
      o["stop_sequence"] = e.stop_sequence ? json::value(*e.stop_sequence) : json::value(nullptr);
      o["in"] = e.usage.input_tokens;
      o["out"] = e.usage.output_tokens;
      break;
  }
  return o;
}

inline std::string dump_events(const std::vector<StreamEvent>& events) {
  json::array a;
  for (const auto& e : events) a.push_back(dump(e));
  return to_json(a);
}

// Feeds bytes through the real SSE parser in small pieces, as a socket would.
inline std::vector<http::SseParser::Event> sse(std::string_view bytes, std::size_t piece = 7) {
  http::SseParser parser;
  std::vector<http::SseParser::Event> out;
  for (std::size_t i = 0; i < bytes.size(); i += piece) {
    for (auto& e : parser.feed(bytes.substr(i, piece))) out.push_back(std::move(e));
  }
  return out;
}

struct Decoded {
  std::vector<StreamEvent> events;
  std::optional<Error> error;
  bool finished = false;
};
template <class Decoder>
Decoded decode_sse(std::string_view bytes) {
  Decoded d;
  Decoder decoder;
  for (const auto& e : sse(bytes)) {
    auto r = decoder.feed(e);
    if (!r) {
      d.error = r.error();
      break;
    }
    for (auto& ev : *r) d.events.push_back(std::move(ev));
  }
  d.finished = decoder.finished();
  return d;
}

inline StreamEvent ev_start(std::string id, std::string model) {
  StreamEvent e;
  e.kind = StreamEvent::Kind::start;
  e.id = std::move(id);
  e.model = std::move(model);
  return e;
}

inline StreamEvent ev_text(std::string text) {
  StreamEvent e;
  e.kind = StreamEvent::Kind::text;
  e.text = std::move(text);
  return e;
}

inline StreamEvent ev_tool(std::size_t index, std::string id, std::string name) {
  StreamEvent e;
  e.kind = StreamEvent::Kind::tool_call_start;
  e.index = index;
  e.tool_call.id = std::move(id);
  e.tool_call.name = std::move(name);
  return e;
}

inline StreamEvent ev_args(std::size_t index, std::string text) {
  StreamEvent e;
  e.kind = StreamEvent::Kind::tool_call_delta;
  e.index = index;
  e.text = std::move(text);
  return e;
}

inline StreamEvent ev_finish(StopReason reason, std::int64_t in, std::int64_t out) {
  StreamEvent e;
  e.kind = StreamEvent::Kind::finish;
  e.stop_reason = reason;
  e.usage.input_tokens = in;
  e.usage.output_tokens = out;
  return e;
}

}  // namespace aegis::wire
