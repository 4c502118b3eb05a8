#include "rag/answer_events.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace aegis::rag {

namespace json = boost::json;

namespace {

std::string sse(std::string_view name, std::string_view data) {
  std::string out;
  out.reserve(name.size() + data.size() + 16);
  out += "event: ";
  out += name;
  out += "\ndata: ";
  out += data;
  out += "\n\n";
  return out;
}

json::array ids_json(const std::vector<std::string>& ids) {
  json::array out;
  for (const auto& id : ids) out.emplace_back(id);
  return out;
}

}  // namespace

std::string AnswerEvents::encode(const StreamEvent& event, const gateway::Route& route) {
  if (done_) return {};
  std::string out;
  if (!started_) {
    started_ = true;
    out += sse("chunks", json::serialize(json::object{{"chunk_ids", ids_json(chunk_ids_)}}));
  }
  switch (event.kind) {
    case StreamEvent::Kind::start:
      model_ = event.model;
      start_usage_ = event.usage;
      break;
    case StreamEvent::Kind::text:
      if (!event.text.empty()) out += sse("delta", json::serialize(json::object{{"text", event.text}}));
      break;
    case StreamEvent::Kind::tool_call_start:
    case StreamEvent::Kind::tool_call_delta: break;  // the answer's prompt offers no tools
    case StreamEvent::Kind::finish: {
      done_ = true;
      const std::int64_t input = event.usage.input_tokens > 0 ? event.usage.input_tokens : start_usage_.input_tokens;
      json::object done{{"chunk_ids", ids_json(chunk_ids_)},
                        {"model", model_.empty() ? route.model : model_},
                        {"provider", route.provider},
                        {"usage", json::object{{"input_tokens", input}, {"output_tokens", event.usage.output_tokens}}}};
      out += sse("done", json::serialize(done));
      break;
    }
  }
  return out;
}

std::string AnswerEvents::error(std::string_view error_json) {
  if (done_) return {};
  done_ = true;
  std::string out;
  if (!started_) {
    started_ = true;
    out += sse("chunks", json::serialize(json::object{{"chunk_ids", ids_json(chunk_ids_)}}));
  }
  out += sse("error", error_json);
  return out;
}

}  // namespace aegis::rag
