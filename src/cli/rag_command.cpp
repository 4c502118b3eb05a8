#include "cli/rag_command.hpp"

#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "cli/gateway_client.hpp"
#include "core/json.hpp"

namespace aegis::cli {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

std::string levels_text(const json::object& doc) {
  // The document's level is the most restrictive of its chunks'.
  static constexpr std::string_view kOrder[] = {"PUBLIC", "INTERNAL", "CONFIDENTIAL", "RESTRICTED"};
  int highest = -1;
  const auto* chunks = doc.if_contains("chunks");
  if (chunks && chunks->is_array()) {
    for (const auto& chunk : chunks->get_array()) {
      if (!chunk.is_object()) continue;
      const auto level = string_field(chunk.get_object(), "classification");
      for (int i = 0; i < 4; ++i) {
        if (level == kOrder[i] && i > highest) highest = i;
      }
    }
  }
  return highest < 0 ? std::string("-") : std::string(kOrder[highest]);
}

std::size_t chunk_count(const json::object& doc) {
  const auto* chunks = doc.if_contains("chunks");
  return chunks && chunks->is_array() ? chunks->get_array().size() : 0;
}

std::string number_text(const json::value* v) {
  if (v == nullptr || !v->is_number()) return "-";
  if (v->is_double()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4f", v->get_double());
    return buf;
  }
  return json::serialize(*v);
}

std::string joined(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

struct IngestFile {
  std::string source;
  std::string body;  // the request, ready to send
};

class Session {
 public:
  Session(GatewayClient& client, bool json) : client_(client), json_(json) {}

  asio::awaitable<int> ingest(std::vector<IngestFile> files) {
    int exit_code = kClientExitOk;
    std::vector<std::vector<std::string>> rows{{"DOCUMENT", "LEVEL", "CHUNKS", "SOURCE"}};
    for (auto& file : files) {
      auto op = client_.call("POST", "/v1/rag/documents", std::move(file.body));
      auto reply = co_await std::move(op);
      if (!reply.ok()) {
        std::cerr << file.source << ": ";
        exit_code = client_.transport_failure(reply.error());
        continue;
      }
      if (reply->status != 201) {
        std::cerr << file.source << ": ";
        exit_code = client_.api_failure(*reply);
        continue;
      }
      const auto* doc = reply->doc.if_object();
      if (doc == nullptr || string_field(*doc, "document_id").empty()) {
        exit_code = client_.malformed(*reply, "a created document");
        continue;
      }
      if (json_) {
        print_body(*reply);
      } else {
        rows.push_back({std::string(string_field(*doc, "document_id")), levels_text(*doc),
                        std::to_string(chunk_count(*doc)), file.source});
      }
    }
    if (!json_ && rows.size() > 1) print_columns(rows);
    co_return exit_code;
  }

  asio::awaitable<int> list(std::string collection) {
    auto op = client_.call("GET", "/v1/rag/documents?collection=" + percent_encode(collection), "");
    AEGIS_CO_TRY(reply, co_await std::move(op), failed_to_reach);
    if (reply.status != 200) co_return client_.api_failure(reply);
    const auto* body = reply.doc.if_object();
    const auto* data = body ? body->if_contains("data") : nullptr;
    if (data == nullptr || !data->is_array()) co_return client_.malformed(reply, "a list of documents");
    if (json_) {
      print_body(reply);
      co_return kClientExitOk;
    }
    if (data->get_array().empty()) {
      std::cout << "no documents in " << collection << "\n";
      co_return kClientExitOk;
    }
    std::vector<std::vector<std::string>> rows{{"DOCUMENT", "LEVEL", "CHUNKS", "SOURCE"}};
    for (const auto& item : data->get_array()) {
      if (!item.is_object()) continue;
      const auto& doc = item.get_object();
      const auto level = string_field(doc, "classification");
      rows.push_back({or_dash(string_field(doc, "document_id")), level.empty() ? levels_text(doc) : std::string(level),
                      std::to_string(chunk_count(doc)), or_dash(string_field(doc, "source"))});
    }
    print_columns(rows);
    co_return kClientExitOk;
  }

  asio::awaitable<int> get(std::string id) {
    auto op = client_.call("GET", "/v1/rag/documents/" + percent_encode(id), "");
    AEGIS_CO_TRY(reply, co_await std::move(op), failed_to_reach);
    if (reply.status != 200) co_return client_.api_failure(reply);
    const auto* doc = reply.doc.if_object();
    if (doc == nullptr) co_return client_.malformed(reply, "a document");
    if (json_) {
      print_body(reply);
      co_return kClientExitOk;
    }
    std::cout << or_dash(string_field(*doc, "document_id")) << "  " << or_dash(string_field(*doc, "classification"))
              << "  " << chunk_count(*doc) << " chunks  " << or_dash(string_field(*doc, "collection")) << "/"
              << or_dash(string_field(*doc, "source")) << "\n";
    co_return kClientExitOk;
  }

  asio::awaitable<int> query(std::string body) {
    auto op = client_.call("POST", "/v1/rag/query", std::move(body));
    AEGIS_CO_TRY(reply, co_await std::move(op), failed_to_reach);
    if (reply.status != 200) co_return client_.api_failure(reply);
    const auto* out = reply.doc.if_object();
    const auto* chunks = out ? out->if_contains("chunks") : nullptr;
    if (chunks == nullptr || !chunks->is_array()) co_return client_.malformed(reply, "a list of chunks");
    if (json_) {
      print_body(reply);
      co_return kClientExitOk;
    }
    if (chunks->get_array().empty()) std::cout << "no chunks found\n";
    for (const auto& item : chunks->get_array()) {
      if (!item.is_object()) continue;
      const auto& chunk = item.get_object();
      std::cout << number_text(chunk.if_contains("score")) << "  " << or_dash(string_field(chunk, "classification"))
                << "  " << or_dash(string_field(chunk, "source")) << "#" << number_text(chunk.if_contains("index"))
                << "  " << or_dash(string_field(chunk, "id")) << "\n";
      std::cout << "    " << string_field(chunk, "text") << "\n";
    }
    co_return kClientExitOk;
  }

  asio::awaitable<int> answer(std::string body) {
    auto op = client_.call("POST", "/v1/rag/answer", std::move(body));
    AEGIS_CO_TRY(reply, co_await std::move(op), failed_to_reach);
    if (reply.status != 200) co_return client_.api_failure(reply);
    const auto* out = reply.doc.if_object();
    if (out == nullptr || !out->contains("answer")) co_return client_.malformed(reply, "an answer");
    if (json_) {
      print_body(reply);
      co_return kClientExitOk;
    }
    const auto text = string_field(*out, "answer");
    std::cout << text << (text.empty() || text.back() != '\n' ? "\n" : "");
    std::string ids;
    if (const auto* list = out->if_contains("chunk_ids"); list && list->is_array()) {
      for (const auto& id : list->get_array()) {
        if (id.is_string()) ids += (ids.empty() ? "" : ",") + std::string(id.get_string());
      }
    }
    std::cout << "-- chunks: " << or_dash(ids) << "  route: " << or_dash(string_field(*out, "provider")) << "/"
              << or_dash(string_field(*out, "model")) << "\n";
    co_return kClientExitOk;
  }

  asio::awaitable<int> remove(std::vector<std::string> ids) {
    int exit_code = kClientExitOk;
    for (const auto& id : ids) {
      auto op = client_.call("DELETE", "/v1/rag/documents/" + percent_encode(id), "");
      auto reply = co_await std::move(op);
      if (!reply.ok()) {
        exit_code = client_.transport_failure(reply.error());
        continue;
      }
      if (reply->status != 200) {
        exit_code = client_.api_failure(*reply);
        continue;
      }
      const auto* out = reply->doc.if_object();
      if (json_) {
        print_body(*reply);
      } else {
        std::cout << "deleted " << id << " (" << number_text(out ? out->if_contains("chunks_deleted") : nullptr)
                  << " chunks)\n";
      }
    }
    co_return exit_code;
  }

 private:
  int failed_to_reach(const Error& error) const { return client_.transport_failure(error); }

  GatewayClient& client_;
  bool json_;
};

}  // namespace

RagCommand::RagCommand(CLI::App& app) {
  rag_ = app.add_subcommand("rag", "Ingest documents and retrieve by clearance on a running gateway (/v1/rag)");
  rag_->require_subcommand(1);
  rag_->footer(
      "The team's virtual key comes from $AEGIS_API_KEY (never a flag, so it stays out of ps and history);\n"
      "what it retrieves is limited by its clearance (the lower of its own and its team's).\n"
      "Exit codes: 0 ok; 1 the gateway answered with an error (its type and message on stderr) or could\n"
      "not be reached; 2 bad usage.");

  ingest_ = rag_->add_subcommand("ingest", "Ingest each FILE as one document; prints its id, level and chunks");
  list_ = rag_->add_subcommand("list", "List a collection's documents");
  get_ = rag_->add_subcommand("get", "Print one document's level, chunks and source");
  query_ = rag_->add_subcommand("query", "The chunks nearest to QUERY that the key may see, best first");
  answer_ = rag_->add_subcommand("answer", "Answer QUESTION from the collection through the gateway's pipeline");
  rm_ = rag_->add_subcommand("rm", "Erase documents: every chunk and vector (the right to erasure)");

  for (auto* sub : {ingest_, list_, get_, query_, answer_, rm_}) add_client_options(*sub, url_, json_);
  for (auto* sub : {ingest_, list_, query_, answer_}) {
    sub->add_option("--collection,-c", collection_, "the team's collection")->required();
  }
  ingest_->add_option("FILE", files_, "text files ('-': stdin)")->required();
  ingest_->add_option("--classification", classification_,
                      "floor for every chunk's level: PUBLIC | INTERNAL | CONFIDENTIAL | RESTRICTED");
  ingest_->add_option("--source", source_, "the source name stored with the document (default: the file's name)");
  ingest_->add_option("--metadata", metadata_, "KEY=VALUE, repeatable; stored with each document");
  for (auto* sub : {get_, rm_}) sub->add_option("ID", ids_, "document id")->required();
  query_->add_option("QUERY", words_, "what to look for")->required();
  answer_->add_option("QUESTION", words_, "the question")->required();
  for (auto* sub : {query_, answer_}) {
    sub->add_option("--top-k,-k", top_k_, "chunks to retrieve")
        ->capture_default_str()
        ->check(CLI::Range(std::int64_t{1}, std::int64_t{1000}));
  }
  answer_->add_option("--max-tokens", max_tokens_, "most output tokens; prices the budget reservation")
      ->capture_default_str()
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1'000'000}));
}

bool RagCommand::parsed() const { return rag_->parsed(); }

int RagCommand::run() {
  const std::string command = ingest_->parsed()  ? "ingest"
                              : list_->parsed()  ? "list"
                              : get_->parsed()   ? "get"
                              : query_->parsed() ? "query"
                                                 : (answer_->parsed() ? "answer" : "rm");
  const std::string prefix = "aegis rag " + command;
  const auto usage = [&prefix](const std::string& message) {
    std::cerr << prefix << ": " << message << "\n";
    return kClientExitUsage;
  };
  auto target = resolve_gateway(url_);
  if (!target.ok()) return usage(target.error().message);
  if (get_->parsed() && ids_.size() != 1) return usage("give one document ID");

  std::vector<IngestFile> files;
  if (ingest_->parsed()) {
    if (!source_.empty() && files_.size() > 1) return usage("--source names one document; give one FILE with it");
    auto flags = metadata_flags(metadata_);
    if (!flags.ok()) return usage(flags.error().message);
    const json::object& metadata = *flags;
    // Every file is read before the first is sent, so a typo fails before anything is stored.
    for (const auto& path : files_) {
      auto text = read_file(path);
      if (!text) return usage("cannot read '" + path + "'");
      std::string source = !source_.empty()
                               ? source_
                               : (path == "-" ? std::string("stdin") : std::filesystem::path(path).filename().string());
      json::object body{{"collection", collection_}, {"text", std::move(*text)}, {"source", source}};
      if (!classification_.empty()) body["classification"] = classification_;
      if (!metadata.empty()) body["metadata"] = metadata;
      files.push_back(IngestFile{std::move(source), to_json(body)});
    }
  }
  std::string body;
  if (query_->parsed()) {
    body = to_json(json::object{{"collection", collection_}, {"query", joined(words_)}, {"top_k", top_k_}});
  } else if (answer_->parsed()) {
    body = to_json(json::object{
        {"collection", collection_}, {"question", joined(words_)}, {"top_k", top_k_}, {"max_tokens", max_tokens_}});
  }

  return run_client(prefix, *target, [&](GatewayClient& client) -> asio::awaitable<int> {
    Session session(client, json_);
    // The operation is built in a statement of its own: GCC 12 destroys a
    // temporary argument twice when it is made inside a co_await expression.
    asio::awaitable<int> work = ingest_->parsed()   ? session.ingest(std::move(files))
                                : list_->parsed()   ? session.list(collection_)
                                : get_->parsed()    ? session.get(ids_.front())
                                : query_->parsed()  ? session.query(std::move(body))
                                : answer_->parsed() ? session.answer(std::move(body))
                                                    : session.remove(ids_);
    co_return co_await std::move(work);
  });
}

}  // namespace aegis::cli
