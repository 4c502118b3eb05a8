#include "identity/jwks.hpp"

#include <boost/json/parse.hpp>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "core/encoding.hpp"

namespace aegis::identity {

namespace {

struct ParamBldFree {
  void operator()(OSSL_PARAM_BLD* b) const noexcept { OSSL_PARAM_BLD_free(b); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const noexcept { OSSL_PARAM_free(p); }
};
struct CtxFree {
  void operator()(EVP_PKEY_CTX* c) const noexcept { EVP_PKEY_CTX_free(c); }
};
struct BnFree {
  void operator()(BIGNUM* b) const noexcept { BN_free(b); }
};

std::shared_ptr<EVP_PKEY> own(EVP_PKEY* key) { return {key, EVP_PKEY_free}; }

Error bad(std::string what) { return make_error(ErrorCode::unauthorized, "JWK: " + std::move(what)); }

// A base64url member's bytes; nullopt when it is missing or malformed.
std::optional<std::string> member_bytes(const boost::json::object& jwk, std::string_view name) {
  const auto* v = jwk.if_contains(name);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return base64url_decode(v->as_string());
}

std::string member_text(const boost::json::object& jwk, std::string_view name) {
  const auto* v = jwk.if_contains(name);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

// OSSL params -> an EVP_PKEY of `type` ("RSA", "EC").
Result<std::shared_ptr<EVP_PKEY>> from_params(const char* type, OSSL_PARAM_BLD* bld) {
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld));
  std::unique_ptr<EVP_PKEY_CTX, CtxFree> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* key = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0 || key == nullptr) {
    return bad(std::string("not a valid ") + type + " public key");
  }
  return own(key);
}

Result<std::shared_ptr<EVP_PKEY>> rsa_key(const boost::json::object& jwk) {
  const auto n = member_bytes(jwk, "n");
  const auto e = member_bytes(jwk, "e");
  if (!n || !e || n->empty() || e->empty()) return bad("RSA key without valid n and e");
  // 2048 bits at least (RFC 7518 §3.3); 16384 bounds the work a key can cost.
  const std::size_t bits = n->size() * 8;
  if (bits < 2048 || bits > 16384) return bad("RSA modulus of an unsupported size");
  std::unique_ptr<BIGNUM, BnFree> bn_n(
      BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()), static_cast<int>(n->size()), nullptr));
  std::unique_ptr<BIGNUM, BnFree> bn_e(
      BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()), static_cast<int>(e->size()), nullptr));
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  if (!bn_n || !bn_e || !bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    return bad("cannot build the RSA key");
  }
  return from_params("RSA", bld.get());
}

Result<std::shared_ptr<EVP_PKEY>> ec_key(const boost::json::object& jwk) {
  if (member_text(jwk, "crv") != "P-256") return bad("EC key on an unsupported curve");
  const auto x = member_bytes(jwk, "x");
  const auto y = member_bytes(jwk, "y");
  if (!x || !y || x->size() != 32 || y->size() != 32) return bad("P-256 key without 32-byte x and y");
  // The uncompressed point: 0x04 || x || y (SEC 1 §2.3.3).
  std::string point = "\x04" + *x + *y;
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  char group[] = "prime256v1";
  if (!bld || OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1) {
    return bad("cannot build the EC key");
  }
  // EVP_PKEY_fromdata checks that the point is on the curve.
  return from_params("EC", bld.get());
}

Result<std::shared_ptr<EVP_PKEY>> ed25519_key(const boost::json::object& jwk) {
  if (member_text(jwk, "crv") != "Ed25519") return bad("OKP key on an unsupported curve");
  const auto x = member_bytes(jwk, "x");
  if (!x || x->size() != 32) return bad("Ed25519 key without a 32-byte x");
  EVP_PKEY* key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                              reinterpret_cast<const unsigned char*>(x->data()), x->size());
  if (key == nullptr) return bad("not a valid Ed25519 public key");
  return own(key);
}

}  // namespace

std::optional<JwsAlg> parse_jws_alg(std::string_view name) noexcept {
  if (name == "RS256") return JwsAlg::RS256;
  if (name == "PS256") return JwsAlg::PS256;
  if (name == "ES256") return JwsAlg::ES256;
  if (name == "EdDSA") return JwsAlg::EdDSA;
  return std::nullopt;
}

std::string_view to_string(JwsAlg alg) noexcept {
  switch (alg) {
    case JwsAlg::RS256: return "RS256";
    case JwsAlg::PS256: return "PS256";
    case JwsAlg::ES256: return "ES256";
    case JwsAlg::EdDSA: return "EdDSA";
  }
  return "?";
}

bool Jwk::accepts(JwsAlg alg) const noexcept {
  if (alg_ && *alg_ != alg) return false;
  switch (alg) {
    case JwsAlg::RS256:
    case JwsAlg::PS256: return type_ == Type::rsa;
    case JwsAlg::ES256: return type_ == Type::ec_p256;
    case JwsAlg::EdDSA: return type_ == Type::ed25519;
  }
  return false;
}

Result<Jwk> parse_jwk(const boost::json::object& jwk) {
  const std::string kty = member_text(jwk, "kty");
  const std::string kid = member_text(jwk, "kid");
  if (const auto* use = jwk.if_contains("use"); use != nullptr && (!use->is_string() || use->as_string() != "sig")) {
    return bad("key not meant for signatures");
  }
  std::optional<JwsAlg> alg;
  if (const auto* a = jwk.if_contains("alg"); a != nullptr) {
    // A key that names an algorithm the gateway does not verify is of no use to it.
    if (!a->is_string() || !(alg = parse_jws_alg(a->as_string()))) return bad("key for an unsupported algorithm");
  }
  Result<std::shared_ptr<EVP_PKEY>> key = bad("unsupported key type");
  Jwk::Type type = Jwk::Type::rsa;
  if (kty == "RSA") {
    key = rsa_key(jwk);
  } else if (kty == "EC") {
    type = Jwk::Type::ec_p256;
    key = ec_key(jwk);
  } else if (kty == "OKP") {
    type = Jwk::Type::ed25519;
    key = ed25519_key(jwk);
  }
  if (!key.ok()) return std::move(key).error();
  Jwk out(kid, type, alg, std::move(key).value());
  if (alg && !out.accepts(*alg)) return bad("key whose alg does not fit its type");
  return out;
}

const Jwk* JwkSet::find(const std::optional<std::string>& kid, JwsAlg alg) const {
  const Jwk* found = nullptr;
  for (const auto& key : keys) {
    if (kid && key.kid() != *kid) continue;
    if (!key.accepts(alg)) continue;
    if (kid) return &key;
    if (found != nullptr) return nullptr;  // ambiguous without a kid
    found = &key;
  }
  return found;
}

bool JwkSet::has_kid(const std::string& kid) const {
  return std::ranges::any_of(keys, [&](const Jwk& k) { return k.kid() == kid; });
}

Result<JwkSet> parse_jwk_set(std::string_view json) {
  boost::system::error_code ec;
  const auto doc = boost::json::parse(json, ec);
  if (ec || !doc.is_object()) return bad("the key set is not a JSON object");
  const auto* keys = doc.as_object().if_contains("keys");
  if (keys == nullptr || !keys->is_array()) return bad("the key set has no keys array");
  JwkSet out;
  for (const auto& item : keys->as_array()) {
    if (!item.is_object()) continue;
    auto key = parse_jwk(item.as_object());
    if (key.ok()) out.keys.push_back(std::move(key).value());
  }
  return out;
}

}  // namespace aegis::identity
