#pragma once
// The events of a streamed answer (POST /v1/rag/answer with "stream": true;
// docs/ARCHITECTURE.md, "Retrieval"), as server-sent events:
//
//   event: chunks  data: {"chunk_ids": [...]}                       once, first
//   event: delta   data: {"text": "..."}                            the answer as it arrives
//   event: done    data: {"chunk_ids", "model", "provider",
//                         "usage": {"input_tokens", "output_tokens"}} once, last
//   event: error   data: {"error": {"type", "message", "request_id"}}  instead of done
//
// Each data line is one JSON object (newlines in text are escaped).
#include <string>
#include <string_view>
#include <vector>

#include "core/chat.hpp"
#include "gateway/gateway.hpp"

namespace aegis::rag {

class AnswerEvents {
 public:
  // The chunks given to the model, best first (RagService's AnswerSink::on_retrieved).
  void set_chunks(std::vector<std::string> chunk_ids) { chunk_ids_ = std::move(chunk_ids); }

  // The text to send for one event of the governed stream ("" when it shows
  // nothing: the provider's start, tool calls, empty text, anything after
  // done). The first call's text begins with the `chunks` event. `route` is
  // the call's (gateway::CallContext::route), which names the provider.
  std::string encode(const StreamEvent& event, const gateway::Route& route);

  // `event: error` with `error_json` (the gateway's usual error body) as its
  // data; "" once done was sent.
  std::string error(std::string_view error_json);

  bool started() const { return started_; }
  bool done() const { return done_; }

 private:
  std::vector<std::string> chunk_ids_;
  std::string model_;  // as the provider's start event named it
  Usage start_usage_;  // input tokens as the start event reported them (Anthropic)
  bool started_ = false;
  bool done_ = false;
};

}  // namespace aegis::rag
