#pragma once
// Console sign-outs shared by every replica on one database: a session cookie
// is signed and stateless, so a sign-out on one replica is recorded in the
// store (store/console_session_store.hpp, keyed by the SHA-256 of the session
// id) and every replica's admin routes refuse that session from then on.
#include <boost/asio/awaitable.hpp>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "identity/console_session.hpp"
#include "store/console_session_store.hpp"
#include "store/db_executor.hpp"

namespace aegis::identity {

class SessionRevocations {
 public:
  // All three outlive this object.
  SessionRevocations(store::ConsoleSessionStore& store, store::DbExecutor& db, const Clock& clock)
      : store_(store), db_(db), clock_(clock) {}

  // Records the sign-out, on the database thread.
  boost::asio::awaitable<Result<void>> revoke(const ConsoleSession& session);
  // Whether any replica recorded the sign-out of `session`.
  boost::asio::awaitable<Result<bool>> revoked(const ConsoleSession& session);

 private:
  store::ConsoleSessionStore& store_;
  store::DbExecutor& db_;
  const Clock& clock_;
};

}  // namespace aegis::identity
