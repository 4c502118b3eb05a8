#include "api/responses.hpp"

#include <boost/json/parse.hpp>
#include <openssl/rand.h>

#include <array>
#include <chrono>
#include <memory>
#include <stdexcept>

#include "api/access.hpp"
#include "api/chat_stream.hpp"
#include "api/sealed_response_store.hpp"
#include "core/encoding.hpp"
#include "core/json.hpp"
#include "http/json_response.hpp"
#include "telemetry/log.hpp"
#include "wire/responses.hpp"

namespace aegis::api {

namespace json = boost::json;
using http::HttpRequest;
using http::HttpResponse;
using Awaitable = boost::asio::awaitable<HttpResponse>;

namespace {

HttpResponse responses_error(const Error& error, const std::string& request_id) {
  return http::error_response(error, request_id);
}

std::string new_response_id() {
  std::array<unsigned char, 24> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    throw std::runtime_error("the system random number generator failed");
  }
  return "resp_" + hex_encode(bytes);
}

// What keeping one answer needs: the turns before it (history and this
// request's input, as the client wrote them) and where it goes.
struct Keeper {
  store::ResponseStore* store = nullptr;
  store::DbExecutor* db = nullptr;
  std::string team;
  std::string request_id;
  std::int64_t created_at_ms = 0;
  std::int64_t expires_at_ms = 0;
  std::vector<Message> turns;
};

// Stores the conversation up to `completion` (the restored answer) and the
// response object; false when the store failed (the client is then told
// "store": false, and the answer is still given).
boost::asio::awaitable<bool> keep(const Keeper& keeper, const std::string& id, const Completion& completion,
                                  const json::object& response) {
  std::vector<Message> turns = keeper.turns;
  Message answer;
  answer.role = Role::assistant;
  answer.text = completion.text;
  answer.tool_calls = completion.tool_calls;
  turns.push_back(std::move(answer));
  store::StoredResponse row;
  row.id = id;
  row.team = keeper.team;
  row.created_at_ms = keeper.created_at_ms;
  row.expires_at_ms = keeper.expires_at_ms;
  row.conversation_json = to_json(wire::responses::write_messages(turns));
  row.response_json = to_json(response);
  store::ResponseStore& target = *keeper.store;
  auto work = [&target, &row]() { return target.put_response(row); };
  auto stored = co_await keeper.db->run(work);
  if (!stored.ok()) {
    // Never the content: the request, the team and the store's value-free error.
    telemetry::log(telemetry::LogLevel::warn, "response_store_failed",
                   json::object{{"request_id", keeper.request_id},
                                {"team", keeper.team},
                                {"error", std::string(error_type(stored.error().code))}});
    co_return false;
  }
  co_return true;
}

class ResponsesEncoder final : public EventEncoder {
 public:
  ResponsesEncoder(wire::responses::ResponseMeta meta, std::optional<Keeper> keeper)
      : encoder_(std::move(meta)), keeper_(std::move(keeper)) {}
  std::string encode(const StreamEvent& event) override { return encoder_.encode(event); }
  std::string encode_error(const Error& error) override { return encoder_.encode_error(error); }
  std::string content_type() const override { return "text/event-stream"; }

  boost::asio::awaitable<void> before_finish(const StreamEvent& finish) override {
    if (!keeper_) co_return;
    Completion answer = encoder_.completion();
    answer.stop_reason = finish.stop_reason;
    answer.usage = finish.usage;
    const json::object response = wire::responses::write_response(answer, encoder_.meta());
    const bool kept = co_await keep(*keeper_, encoder_.meta().id, answer, response);
    // The final event says what happened; the client's earlier events said store: true.
    if (!kept) encoder_.set_store(false);
  }

 private:
  wire::responses::StreamEncoder encoder_;
  std::optional<Keeper> keeper_;
};

// The request's turns behind a previous response: its stored conversation, then this input.
Result<std::vector<Message>> continue_conversation(const store::StoredResponse& previous, std::vector<Message> input,
                                                   const RequestLimits& limits) {
  boost::system::error_code ec;
  const json::value stored = json::parse(previous.conversation_json, ec);
  if (ec) return make_error(ErrorCode::internal, "a stored response could not be read");
  AEGIS_TRY(turns, wire::responses::read_messages(stored));
  AEGIS_TRY_VOID(check_item_limit("input", turns.size() + input.size(), limits.max_messages, "max_messages"));
  TextTally tally(limits.max_text_bytes);
  for (const auto& m : turns) {
    AEGIS_TRY_VOID(tally.add(m.text.size()));
    for (const auto& c : m.tool_calls) AEGIS_TRY_VOID(tally.add(c.name.size() + c.arguments_json.size()));
  }
  for (const auto& m : input) {
    AEGIS_TRY_VOID(tally.add(m.text.size()));
    for (const auto& c : m.tool_calls) AEGIS_TRY_VOID(tally.add(c.name.size() + c.arguments_json.size()));
  }
  for (auto& m : input) turns.push_back(std::move(m));
  return turns;
}

const std::string& team_of(const identity::Principal* principal) {
  static const std::string none;
  return principal != nullptr ? principal->team : none;
}

}  // namespace

void register_responses_routes(http::Router& router, const ResponsesRoutes& routes) {
  // Every route reads and writes through the sealing store: nothing stored is plaintext.
  auto sealed = std::make_shared<SealedResponseStore>(routes.store, routes.cipher);
  const ResponsesRoutes through_sealed{routes.gateway, *sealed,      routes.db,    routes.config,
                                       routes.limits,  routes.clock, routes.cipher};
  router.add("POST", "/v1/responses", http::Credential::api_key,
             [routes = through_sealed, sealed](HttpRequest& request, const http::Caller& caller) -> Awaitable {
               const RequestLimits& limits = routes.limits;
               auto decode = [&limits](const json::object& body) {
                 return wire::responses::parse_request(body, limits);
               };
               AEGIS_CO_TRY(parsed, http::decode_json_object(request, decode), responses_error, request.request_id);
               const identity::Principal* principal = principal_of(caller);
               const std::string team = team_of(principal);
               const bool team_stores = principal != nullptr && routes.config.stores_for(team);
               const std::int64_t now_ms = routes.clock.wall_ms();

               if (parsed.previous_response_id) {
                 if (!team_stores) {
                   co_return responses_error(
                       make_error(ErrorCode::invalid_request,
                                  "previous_response_id: this gateway keeps no responses for team '" + team +
                                      "' (config responses.store); send the whole conversation in input"),
                       request.request_id);
                 }
                 store::ResponseStore& source = routes.store;
                 const std::string& previous_id = *parsed.previous_response_id;
                 auto work = [&source, &team, &previous_id, now_ms]() {
                   return source.get_response(team, previous_id, now_ms);
                 };
                 auto previous = co_await routes.db.run(work);
                 if (!previous.ok()) {
                   Error error = previous.error();
                   if (error.code == ErrorCode::not_found)
                     error.message = "previous_response_id: response '" + previous_id + "' not found (or expired)";
                   co_return responses_error(error, request.request_id);
                 }
                 auto turns = continue_conversation(*previous, std::move(parsed.chat.messages), limits);
                 if (!turns.ok()) co_return responses_error(turns.error(), request.request_id);
                 parsed.chat.messages = std::move(*turns);
               }

               wire::responses::ResponseMeta meta;
               meta.id = new_response_id();
               meta.created_at = now_ms / 1000;
               meta.store = team_stores && parsed.store;
               meta.previous_response_id = parsed.previous_response_id;
               meta.echo = std::move(parsed.echo);
               std::optional<Keeper> keeper;
               if (meta.store) {
                 keeper.emplace();
                 keeper->store = &routes.store;
                 keeper->db = &routes.db;
                 keeper->team = team;
                 keeper->request_id = request.request_id;
                 keeper->created_at_ms = now_ms;
                 keeper->expires_at_ms =
                     now_ms + std::chrono::duration_cast<std::chrono::milliseconds>(routes.config.retention).count();
                 keeper->turns = parsed.chat.messages;
               }

               if (parsed.chat.stream) {
                 auto encoder = std::make_unique<ResponsesEncoder>(std::move(meta), std::move(keeper));
                 // Built before co_return: clang's analyzer evaluates a co_return operand twice.
                 auto response = streamed_chat(routes.gateway, request, principal, std::move(parsed.chat),
                                               std::move(encoder), responses_error);
                 co_return response;
               }
               auto answered = std::make_shared<std::optional<Completion>>();
               // Named, not built inside the co_await expression (GCC 12 coroutine bug).
               CompletionWriter write_body = [meta, answered](const Completion& completion) {
                 *answered = completion;
                 return wire::responses::write_response(completion, meta);
               };
               ErrorWriter write_error = responses_error;
               auto response = co_await completed_chat(routes.gateway, request, principal, std::move(parsed.chat),
                                                       std::move(write_body), std::move(write_error));
               if (response.status != 200 || !keeper || !answered->has_value()) co_return response;
               const json::object body = wire::responses::write_response(**answered, meta);
               const bool kept = co_await keep(*keeper, meta.id, **answered, body);
               if (!kept) {
                 wire::responses::ResponseMeta unkept = meta;
                 unkept.store = false;
                 response.body = to_json(wire::responses::write_response(**answered, unkept));
               }
               co_return response;
             });

  router.add("GET", "/v1/responses/{id}", http::Credential::api_key,
             [routes = through_sealed, sealed](HttpRequest& request, const http::Caller& caller) -> Awaitable {
               const std::string id(*request.path_param("id"));
               const identity::Principal* principal = principal_of(caller);
               const std::string team = team_of(principal);
               const Error absent = make_error(ErrorCode::not_found, "response '" + id + "' not found (or expired)");
               if (principal == nullptr || !routes.config.stores_for(team))
                 co_return responses_error(absent, request.request_id);
               const std::int64_t now_ms = routes.clock.wall_ms();
               store::ResponseStore& source = routes.store;
               auto work = [&source, &team, &id, now_ms]() { return source.get_response(team, id, now_ms); };
               auto found = co_await routes.db.run(work);
               if (!found.ok()) {
                 co_return responses_error(found.error().code == ErrorCode::not_found ? absent : found.error(),
                                           request.request_id);
               }
               boost::system::error_code ec;
               const json::value body = json::parse(found->response_json, ec);
               if (ec || !body.is_object()) {
                 co_return responses_error(make_error(ErrorCode::internal, "a stored response could not be read"),
                                           request.request_id);
               }
               co_return http::json_response(200, body);
             });

  router.add("DELETE", "/v1/responses/{id}", http::Credential::api_key,
             [routes = through_sealed, sealed](HttpRequest& request, const http::Caller& caller) -> Awaitable {
               const std::string id(*request.path_param("id"));
               const identity::Principal* principal = principal_of(caller);
               const std::string team = team_of(principal);
               const Error absent = make_error(ErrorCode::not_found, "response '" + id + "' not found (or expired)");
               if (principal == nullptr || !routes.config.stores_for(team))
                 co_return responses_error(absent, request.request_id);
               store::ResponseStore& target = routes.store;
               auto work = [&target, &team, &id]() { return target.delete_response(team, id); };
               auto erased = co_await routes.db.run(work);
               if (!erased.ok()) {
                 co_return responses_error(erased.error().code == ErrorCode::not_found ? absent : erased.error(),
                                           request.request_id);
               }
               co_return http::json_response(200, json::object{{"id", id}, {"object", "response"}, {"deleted", true}});
             });
}

}  // namespace aegis::api
