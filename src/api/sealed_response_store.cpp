#include "api/sealed_response_store.hpp"

#include <stdexcept>
#include <string_view>
#include <utility>

#include "core/encoding.hpp"

namespace aegis::api {

namespace {

constexpr std::string_view kSealedPrefix = "sealed:";
constexpr std::string_view kConversationColumn = "conversation_json";
constexpr std::string_view kResponseColumn = "response_json";

Result<std::string> seal(const jobs::PayloadCipher& cipher, const std::string& id, std::string_view column,
                         const std::string& plaintext) {
  AEGIS_TRY(sealed, cipher.seal(id, column, plaintext));
  return std::string(kSealedPrefix) + base64_encode(sealed);
}

Result<std::string> open(const jobs::PayloadCipher& cipher, const std::string& id, std::string_view column,
                         const std::string& stored) {
  if (!std::string_view(stored).starts_with(kSealedPrefix)) return stored;
  auto sealed = base64_decode(std::string_view(stored).substr(kSealedPrefix.size()));
  if (!sealed) return make_error(ErrorCode::internal, "a stored response could not be read");
  return cipher.open(id, column, *sealed);
}

}  // namespace

SealedResponseStore::SealedResponseStore(store::ResponseStore& inner, std::shared_ptr<const jobs::PayloadCipher> cipher)
    : inner_(inner), cipher_(std::move(cipher)) {
  if (!cipher_) throw std::invalid_argument("stored responses need the content cipher");
}

Result<void> SealedResponseStore::put_response(const store::StoredResponse& response) {
  store::StoredResponse sealed = response;
  AEGIS_TRY(conversation, seal(*cipher_, response.id, kConversationColumn, response.conversation_json));
  AEGIS_TRY(body, seal(*cipher_, response.id, kResponseColumn, response.response_json));
  sealed.conversation_json = std::move(conversation);
  sealed.response_json = std::move(body);
  return inner_.put_response(sealed);
}

Result<store::StoredResponse> SealedResponseStore::get_response(const std::string& team, const std::string& id,
                                                                std::int64_t now_ms) {
  AEGIS_TRY(found, inner_.get_response(team, id, now_ms));
  AEGIS_TRY(conversation, open(*cipher_, found.id, kConversationColumn, found.conversation_json));
  AEGIS_TRY(body, open(*cipher_, found.id, kResponseColumn, found.response_json));
  found.conversation_json = std::move(conversation);
  found.response_json = std::move(body);
  return found;
}

Result<void> SealedResponseStore::delete_response(const std::string& team, const std::string& id) {
  return inner_.delete_response(team, id);
}

Result<std::int64_t> SealedResponseStore::purge_responses(std::int64_t now_ms) {
  return inner_.purge_responses(now_ms);
}

}  // namespace aegis::api
