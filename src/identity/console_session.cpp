#include "identity/console_session.hpp"

#include <boost/json.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <array>
#include <stdexcept>

#include "core/encoding.hpp"
#include "identity/api_key.hpp"

namespace aegis::identity {

namespace {

namespace json = boost::json;

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    throw std::runtime_error("the system random number generator failed");
  }
  return out;
}

Error invalid_session() { return make_error(ErrorCode::unauthorized, "not signed in"); }

}  // namespace

ConsoleSessions::ConsoleSessions(std::string secret, std::chrono::seconds ttl, const Clock& clock)
    : secret_(std::move(secret)), ttl_(ttl), clock_(clock) {
  if (secret_.empty()) {
    secret_ = random_bytes(kMinSecretBytes);
  } else if (secret_.size() < kMinSecretBytes) {
    throw std::runtime_error("console.session_secret must be at least 32 bytes");
  }
}

std::int64_t ConsoleSessions::now_ms() const { return clock_.wall_ms(); }

std::string ConsoleSessions::mac(std::string_view purpose, std::string_view payload) const {
  // The purpose keeps a value signed for one use (a session) from passing as another (a CSRF token).
  std::string message;
  message.reserve(purpose.size() + 1 + payload.size());
  message.append(purpose).push_back('\n');
  message.append(payload);
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest.data(), &length) == nullptr) {
    return {};
  }
  return base64url_encode(std::span<const unsigned char>(digest.data(), length));
}

std::pair<ConsoleSession, std::string> ConsoleSessions::issue(std::string subject, std::string name,
                                                              std::string method) {
  ConsoleSession session;
  const auto id = random_bytes(16);
  session.id = hex_encode(std::span(reinterpret_cast<const unsigned char*>(id.data()), id.size()));
  session.subject = std::move(subject);
  session.name = std::move(name);
  session.method = std::move(method);
  session.expires_at_ms = now_ms() + std::chrono::duration_cast<std::chrono::milliseconds>(ttl_).count();
  const std::string payload = json::serialize(json::object{{"sid", session.id},
                                                           {"sub", session.subject},
                                                           {"name", session.name},
                                                           {"method", session.method},
                                                           {"exp", session.expires_at_ms}});
  // Hex keeps the cookie inside the characters a cookie value may hold.
  const std::string encoded =
      hex_encode(std::span(reinterpret_cast<const unsigned char*>(payload.data()), payload.size()));
  return {std::move(session), encoded + "." + mac("session", encoded)};
}

Result<ConsoleSession> ConsoleSessions::verify(std::string_view cookie) const {
  constexpr std::size_t kMaxCookie = 4096;
  const auto dot = cookie.find('.');
  if (cookie.size() > kMaxCookie || dot == std::string_view::npos) return invalid_session();
  const auto encoded = cookie.substr(0, dot);
  if (!constant_time_equal(mac("session", encoded), cookie.substr(dot + 1))) return invalid_session();
  auto payload = hex_decode(encoded);
  if (!payload) return invalid_session();
  boost::system::error_code ec;
  auto value = json::parse(*payload, ec);
  if (ec || !value.is_object()) return invalid_session();
  const auto& object = value.get_object();
  const auto* sid = object.if_contains("sid");
  const auto* sub = object.if_contains("sub");
  const auto* name = object.if_contains("name");
  const auto* method = object.if_contains("method");
  const auto* exp = object.if_contains("exp");
  if (sid == nullptr || !sid->is_string() || sub == nullptr || !sub->is_string() || name == nullptr ||
      !name->is_string() || method == nullptr || !method->is_string() || exp == nullptr || !exp->is_int64()) {
    return invalid_session();
  }
  ConsoleSession session{std::string(sid->get_string()), std::string(sub->get_string()),
                         std::string(name->get_string()), std::string(method->get_string()), exp->get_int64()};
  const auto now = now_ms();
  if (now >= session.expires_at_ms) return invalid_session();
  std::lock_guard lock(mu_);
  if (revoked_.contains(session.id)) return invalid_session();
  return session;
}

std::string ConsoleSessions::csrf_token(const ConsoleSession& session) const { return mac("csrf", session.id); }

bool ConsoleSessions::csrf_matches(const ConsoleSession& session, std::string_view presented) const {
  return !presented.empty() && constant_time_equal(csrf_token(session), presented);
}

void ConsoleSessions::revoke(const ConsoleSession& session) {
  const auto now = now_ms();
  std::lock_guard lock(mu_);
  // Entries past their session's expiry are no longer needed: the signature's expiry refuses them.
  std::erase_if(revoked_, [now](const auto& entry) { return entry.second <= now; });
  revoked_.emplace(session.id, session.expires_at_ms);
}

std::string ConsoleSessions::seal(std::string_view payload) const {
  return std::string(payload) + "." + mac("seal", payload);
}

Result<std::string> ConsoleSessions::unseal(std::string_view sealed) const {
  const auto dot = sealed.rfind('.');
  if (dot == std::string_view::npos) return invalid_session();
  const auto payload = sealed.substr(0, dot);
  if (!constant_time_equal(mac("seal", payload), sealed.substr(dot + 1))) return invalid_session();
  return std::string(payload);
}

std::optional<std::string_view> cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const auto end = header.find(';');
    auto pair = header.substr(0, end);
    header = end == std::string_view::npos ? std::string_view{} : header.substr(end + 1);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    while (!pair.empty() && pair.back() == ' ') pair.remove_suffix(1);
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos || pair.substr(0, eq) != name) continue;
    auto value = pair.substr(eq + 1);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    return value;
  }
  return std::nullopt;
}

}  // namespace aegis::identity
