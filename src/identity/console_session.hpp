#pragma once
// Signed-in sessions of the admin console (/ui).
//
// A session is a cookie the gateway signs (HMAC-SHA256 over its payload) and
// keeps nothing about, so any replica that shares `console.session_secret`
// accepts it; a replica with a secret of its own (generated at start-up when
// none is configured) accepts only the sessions it issued. The cookie holds
// who signed in and when it expires, never the admin key or a token.
//
// Writes made with a session need a CSRF token besides the cookie: an HMAC of
// the session id under the same secret, handed to the console's own scripts
// (GET /ui/session) and sent back in `x-csrf-token`. A cross-site page can
// make the browser send the cookie (it cannot: SameSite=Strict, but a browser
// bug or a same-site subdomain could) and still never learns the token.
//
// Signing out revokes the session id on this replica until the session would
// have expired anyway (the cookie is also cleared); identity/
// session_revocations.hpp records it for every replica on the database.
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/clock.hpp"
#include "core/result.hpp"

namespace aegis::identity {

struct ConsoleSession {
  std::string id;       // 128 random bits, hex
  std::string subject;  // "admin-key", or the OIDC subject
  std::string name;     // what the console shows: an e-mail or name claim, or "Admin key"
  std::string method;   // "admin_key" | "oidc"
  std::int64_t expires_at_ms = 0;
};

class ConsoleSessions {
 public:
  static constexpr std::string_view kCookieName = "aegis_session";
  static constexpr std::size_t kMinSecretBytes = 32;

  // `secret`: at least kMinSecretBytes bytes (start-up error otherwise);
  // empty: 32 random bytes of this process.
  ConsoleSessions(std::string secret, std::chrono::seconds ttl, const Clock& clock);
  ConsoleSessions(const ConsoleSessions&) = delete;
  ConsoleSessions& operator=(const ConsoleSessions&) = delete;

  // A new session for `subject` and its cookie value.
  std::pair<ConsoleSession, std::string> issue(std::string subject, std::string name, std::string method);

  // The session a cookie value names, if its signature holds, it has not
  // expired and it was not revoked: unauthorized otherwise (one message).
  Result<ConsoleSession> verify(std::string_view cookie_value) const;

  std::string csrf_token(const ConsoleSession& session) const;
  bool csrf_matches(const ConsoleSession& session, std::string_view presented) const;

  void revoke(const ConsoleSession& session);

  // Signed values of the sign-in flow (the OIDC state cookie): `payload` is
  // printable ASCII without ';', ',' or spaces.
  std::string seal(std::string_view payload) const;
  Result<std::string> unseal(std::string_view sealed) const;

  std::chrono::seconds ttl() const { return ttl_; }

 private:
  std::string mac(std::string_view purpose, std::string_view payload) const;
  std::int64_t now_ms() const;

  std::string secret_;
  std::chrono::seconds ttl_;
  const Clock& clock_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::int64_t> revoked_;  // session id -> its expiry (ms)
};

// The value of cookie `name` in a Cookie header ("a=1; b=2"), if present.
std::optional<std::string_view> cookie_value(std::string_view cookie_header, std::string_view name);

}  // namespace aegis::identity
