#pragma once
// The console's sign-in with an OIDC issuer (authorization-code flow with
// PKCE): what the /ui/auth/oidc routes need from an issuer, as an interface so
// the routes are tested without one. The PKCE verifier, state and nonce are
// the routes' (console_routes.cpp); the implementation talks to the issuer.
#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <string>

#include "core/result.hpp"

namespace aegis::console {

struct SignInRequest {
  std::size_t issuer = 0;  // index into the configured issuers that have a console client
  std::string redirect_uri;
  std::string state;
  std::string nonce;
  std::string code_challenge;  // base64url(SHA-256(verifier)), method S256
};

struct SignedInIdentity {
  std::string subject;  // "oidc:<16 hex>": a hash of issuer and subject, as its tokens' key_id
  std::string name;     // e-mail, name or preferred_username; the subject when none
  bool is_admin = false;
};

class OidcSignIn {
 public:
  virtual ~OidcSignIn() = default;
  // Issuers the console offers (those with a console_client_id), in config order.
  virtual std::size_t issuer_count() const = 0;
  // The issuer's authorization endpoint with the request's parameters.
  virtual boost::asio::awaitable<Result<std::string>> authorization_url(SignInRequest request) = 0;
  // Exchanges `code` at the token endpoint and verifies what comes back; an
  // identity that is not an admin is returned with is_admin false.
  virtual boost::asio::awaitable<Result<SignedInIdentity>> exchange(std::size_t issuer, std::string code,
                                                                    std::string redirect_uri, std::string code_verifier,
                                                                    std::string nonce) = 0;
};

}  // namespace aegis::console
