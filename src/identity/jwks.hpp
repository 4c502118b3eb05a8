#pragma once
// JSON Web Keys (RFC 7517) as OpenSSL public keys: RSA (n, e), EC P-256
// (x, y) and OKP Ed25519 (x), the key types of the signature algorithms the
// gateway accepts (identity/jwt.hpp). Keys of other types, or meant for
// encryption (`use` other than "sig"), are skipped in a set rather than
// failing it: an identity provider may publish keys the gateway never uses.
#include <boost/json/object.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

using EVP_PKEY = struct evp_pkey_st;  // NOLINT(readability-identifier-naming): OpenSSL's own name

namespace aegis::identity {

// The JWS algorithms the gateway verifies. Anything else (`none`, the HMAC
// family, RS384, ...) is refused before a key is looked at.
enum class JwsAlg { RS256, PS256, ES256, EdDSA };
std::optional<JwsAlg> parse_jws_alg(std::string_view name) noexcept;
std::string_view to_string(JwsAlg alg) noexcept;

class Jwk {
 public:
  enum class Type { rsa, ec_p256, ed25519 };

  Jwk(std::string kid, Type type, std::optional<JwsAlg> alg, std::shared_ptr<EVP_PKEY> key)
      : kid_(std::move(kid)), type_(type), alg_(alg), key_(std::move(key)) {}

  const std::string& kid() const noexcept { return kid_; }
  Type type() const noexcept { return type_; }
  // The key's own `alg`, when it names one.
  std::optional<JwsAlg> alg() const noexcept { return alg_; }
  EVP_PKEY* key() const noexcept { return key_.get(); }

  // Whether a token signed with `alg` may be verified with this key: the
  // algorithm's key type (RS256/PS256: RSA, ES256: P-256, EdDSA: Ed25519) and,
  // when the key names an `alg`, that one exactly.
  bool accepts(JwsAlg alg) const noexcept;

 private:
  std::string kid_;
  Type type_;
  std::optional<JwsAlg> alg_;
  std::shared_ptr<EVP_PKEY> key_;
};

// One JWK object. Errors name what is wrong (for the log, never a client).
Result<Jwk> parse_jwk(const boost::json::object& jwk);

struct JwkSet {
  std::vector<Jwk> keys;

  // The key with this kid that accepts `alg`; without a kid, the only key
  // that accepts it (several: none, a token must then say which).
  const Jwk* find(const std::optional<std::string>& kid, JwsAlg alg) const;
  bool has_kid(const std::string& kid) const;
};

// A JWK Set document (`{"keys": [...]}`); usable keys are kept, the rest
// skipped. An error when the document is not a set at all.
Result<JwkSet> parse_jwk_set(std::string_view json);

}  // namespace aegis::identity
