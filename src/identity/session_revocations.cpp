#include "identity/session_revocations.hpp"

#include <chrono>
#include <string>

#include "core/digest.hpp"
#include "core/encoding.hpp"

namespace aegis::identity {

namespace {

std::string id_digest(const ConsoleSession& session) { return hex_encode(sha256(session.id)); }

}  // namespace

boost::asio::awaitable<Result<void>> SessionRevocations::revoke(const ConsoleSession& session) {
  const auto now = clock_.wall_ms();
  const std::string digest = id_digest(session);
  const std::int64_t expires_at_ms = session.expires_at_ms;
  auto record = [this, &digest, expires_at_ms, now] {
    return store_.revoke_console_session(digest, expires_at_ms, now);
  };
  co_return co_await db_.run(record);
}

boost::asio::awaitable<Result<bool>> SessionRevocations::revoked(const ConsoleSession& session) {
  const std::string digest = id_digest(session);
  auto look_up = [this, &digest] { return store_.console_session_revoked(digest); };
  co_return co_await db_.run(look_up);
}

}  // namespace aegis::identity
