#pragma once
// Compact JWS tokens (RFC 7515/7519) as OIDC access and ID tokens: parsing,
// signature verification with OpenSSL EVP and the time and audience claims.
//
// Every failure is an Error whose message starts with a reason from a fixed
// list (token_failure_reason), then detail for the server's log. Neither is
// for a client: the gateway answers every bad token alike (api/access.cpp).
#include <boost/json/object.hpp>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "identity/jwks.hpp"

namespace aegis::identity {

// Larger tokens are refused unread: a gateway need not parse and hash
// whatever a client puts in a header.
inline constexpr std::size_t kMaxTokenBytes = std::size_t{8} * 1024;

// Why a token was refused; the reasons are a fixed list, used as a metric label.
enum class TokenFailure {
  malformed,         // not three base64url segments of JSON objects, or over kMaxTokenBytes
  unsupported_alg,   // none, HS*, anything but RS256/PS256/ES256/EdDSA
  unknown_issuer,    // `iss` names no configured issuer
  unknown_key,       // no key of the issuer's set has the kid (after a refetch, when allowed)
  bad_signature,     // the key does not verify it
  expired,           // exp passed (beyond the skew), or missing
  not_yet_valid,     // nbf in the future
  issued_in_future,  // iat in the future
  wrong_audience,    // aud lacks the configured audience
  bad_claims,        // sub missing, a time claim of the wrong type
  keys_unavailable,  // the issuer's keys could not be fetched
};
std::string_view to_string(TokenFailure reason) noexcept;
Error token_error(TokenFailure reason, std::string_view detail);
// The reason a token_error carries ("other" for any other error).
std::string_view token_failure_reason(const Error& error) noexcept;

// Three base64url segments: what a bearer that is a JWT looks like (an API
// key never does). Cheap; says nothing about validity.
bool looks_like_jwt(std::string_view token) noexcept;

struct Jwt {
  JwsAlg alg = JwsAlg::RS256;
  std::optional<std::string> kid;
  boost::json::object header;
  boost::json::object claims;
  std::string signing_input;  // header "." payload, as sent
  std::string signature;      // decoded
};

// Structure, size, base64url (canonical), JSON objects, the algorithm (with
// no `crit` extension, which the gateway implements none of). Nothing here is
// trusted until verify_signature.
Result<Jwt> parse_jwt(std::string_view token);

// Whether `key` signed the token: the key must accept the token's alg
// (Jwk::accepts), then EVP verifies. ES256's JOSE signature (r || s, 32 bytes
// each) is converted to the DER form OpenSSL reads; PS256 is RSA-PSS with
// SHA-256, MGF1-SHA-256 and a salt as long as the digest.
Result<void> verify_signature(const Jwt& token, const Jwk& key);

struct ClaimRules {
  std::string issuer;
  std::string audience;
  std::chrono::seconds clock_skew{60};
};

// iss exactly, aud (a string, or an array that holds it), exp required and
// in the future, nbf and iat (when present) not in the future, each with
// clock_skew of leeway; sub a non-empty string.
Result<void> check_claims(const Jwt& token, const ClaimRules& rules, std::chrono::system_clock::time_point now);

// A claim that is a string or an array of strings, as its values; anything
// else (or missing): none.
std::vector<std::string> string_values(const boost::json::object& claims, std::string_view name);

}  // namespace aegis::identity
