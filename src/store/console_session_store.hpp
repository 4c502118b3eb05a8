#pragma once
// Console sign-outs that every replica honours (identity/session_revocations.hpp):
// a session cookie is signed and stateless, so signing out is recorded here,
// keyed by the SHA-256 of the session id (never the id itself), until the
// session would have expired anyway.
#include <cstdint>
#include <string>

#include "core/result.hpp"

namespace aegis::store {

class ConsoleSessionStore {
 public:
  virtual ~ConsoleSessionStore() = default;
  // Records the sign-out (once; again is no change) until `expires_at_ms`,
  // and deletes the records of sessions expired at `now_ms`.
  virtual Result<void> revoke_console_session(const std::string& id_digest, std::int64_t expires_at_ms,
                                              std::int64_t now_ms) = 0;
  // Whether the session was signed out, on any replica.
  virtual Result<bool> console_session_revoked(const std::string& id_digest) = 0;
};

}  // namespace aegis::store
