#pragma once
// Stored Responses API conversations at rest: the turns and the response
// object are raw request content, so they are sealed with the job store's
// content keys (jobs/payload_cipher.hpp, AES-256-GCM bound to the response id
// and the column) before they reach SQLite or PostgreSQL, exactly like job
// content. A sealed value is stored as "sealed:" + base64 of the cipher's
// output; a value without that prefix (written unsealed) is read as it is.
#include <memory>
#include <string>

#include "jobs/payload_cipher.hpp"
#include "store/response_store.hpp"

namespace aegis::api {

class SealedResponseStore final : public store::ResponseStore {
 public:
  // `inner` must outlive this; `cipher` must not be null.
  SealedResponseStore(store::ResponseStore& inner, std::shared_ptr<const jobs::PayloadCipher> cipher);

  Result<void> put_response(const store::StoredResponse& response) override;
  Result<store::StoredResponse> get_response(const std::string& team, const std::string& id,
                                             std::int64_t now_ms) override;
  Result<void> delete_response(const std::string& team, const std::string& id) override;
  Result<std::int64_t> purge_responses(std::int64_t now_ms) override;

 private:
  store::ResponseStore& inner_;
  std::shared_ptr<const jobs::PayloadCipher> cipher_;
};

}  // namespace aegis::api
