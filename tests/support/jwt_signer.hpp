#pragma once
// Test keys that sign JWTs with OpenSSL (RS256, PS256, ES256, EdDSA) and
// publish themselves as JWKs, so the identity tests need no fixture files.
#include <boost/json.hpp>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/encoding.hpp"
#include "core/json.hpp"

namespace aegis::testing {

class TestKey {
 public:
  enum class Kind { rsa, ec, ed25519 };

  TestKey(Kind kind, std::string kid) : kind_(kind), kid_(std::move(kid)) {
    EVP_PKEY* key = nullptr;
    switch (kind) {
      case Kind::rsa: key = EVP_RSA_gen(2048); break;
      case Kind::ec: key = EVP_EC_gen("P-256"); break;
      case Kind::ed25519: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"); break;
    }
    if (key == nullptr) throw std::runtime_error("test key generation failed");
    key_.reset(key, EVP_PKEY_free);
  }

  const std::string& kid() const { return kid_; }
  EVP_PKEY* pkey() const { return key_.get(); }

  // The public JWK (with `alg` when given).
  boost::json::object jwk(const std::string& alg = "") const {
    boost::json::object out;
    if (!kid_.empty()) out["kid"] = kid_;
    if (!alg.empty()) out["alg"] = alg;
    out["use"] = "sig";
    switch (kind_) {
      case Kind::rsa:
        out["kty"] = "RSA";
        out["n"] = b64(bn_param(OSSL_PKEY_PARAM_RSA_N));
        out["e"] = b64(bn_param(OSSL_PKEY_PARAM_RSA_E));
        break;
      case Kind::ec: {
        out["kty"] = "EC";
        out["crv"] = "P-256";
        std::string point(65, '\0');
        std::size_t n = 0;
        EVP_PKEY_set_utf8_string_param(key_.get(), OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "uncompressed");
        EVP_PKEY_get_octet_string_param(key_.get(), OSSL_PKEY_PARAM_PUB_KEY,
                                        reinterpret_cast<unsigned char*>(point.data()), point.size(), &n);
        out["x"] = b64(point.substr(1, 32));
        out["y"] = b64(point.substr(33, 32));
        break;
      }
      case Kind::ed25519: {
        out["kty"] = "OKP";
        out["crv"] = "Ed25519";
        std::string raw(32, '\0');
        std::size_t n = raw.size();
        EVP_PKEY_get_raw_public_key(key_.get(), reinterpret_cast<unsigned char*>(raw.data()), &n);
        out["x"] = b64(raw);
        break;
      }
    }
    return out;
  }

  // header.payload.signature with this key; alg one of RS256, PS256, ES256, EdDSA.
  std::string sign(const std::string& alg, const boost::json::object& claims,
                   boost::json::object header_extra = {}) const {
    boost::json::object header = std::move(header_extra);
    if (!header.contains("alg")) header["alg"] = alg;
    if (!header.contains("kid") && !kid_.empty()) header["kid"] = kid_;
    const std::string input = b64(serialize(header)) + "." + b64(serialize(claims));
    return input + "." + b64(raw_signature(alg, input));
  }

  std::string raw_signature(const std::string& alg, const std::string& input) const {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    EVP_PKEY_CTX* pctx = nullptr;
    const EVP_MD* md = alg == "EdDSA" ? nullptr : EVP_sha256();
    if (EVP_DigestSignInit(ctx.get(), &pctx, md, nullptr, key_.get()) != 1) throw std::runtime_error("sign init");
    if (alg == "PS256") {
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
      EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
    }
    std::size_t n = 0;
    const auto* data = reinterpret_cast<const unsigned char*>(input.data());
    EVP_DigestSign(ctx.get(), nullptr, &n, data, input.size());
    std::string sig(n, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &n, data, input.size()) != 1) {
      throw std::runtime_error("sign");
    }
    sig.resize(n);
    if (alg != "ES256") return sig;
    // DER -> JOSE r || s.
    const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    std::string jose(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(es), reinterpret_cast<unsigned char*>(jose.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(es), reinterpret_cast<unsigned char*>(jose.data()) + 32, 32);
    ECDSA_SIG_free(es);
    return jose;
  }

  static std::string b64(const std::string& bytes) {
    return base64url_encode(std::span(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()));
  }
  static std::string serialize(const boost::json::object& o) { return boost::json::serialize(o); }

 private:
  std::string bn_param(const char* name) const {
    BIGNUM* bn = nullptr;
    EVP_PKEY_get_bn_param(key_.get(), name, &bn);
    std::string out(static_cast<std::size_t>(BN_num_bytes(bn)), '\0');
    BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
    BN_free(bn);
    return out;
  }

  Kind kind_;
  std::string kid_;
  std::shared_ptr<EVP_PKEY> key_;
};

inline std::string jwk_set(const std::vector<boost::json::object>& keys) {
  boost::json::array array;
  for (const auto& k : keys) array.push_back(k);
  return boost::json::serialize(boost::json::object{{"keys", std::move(array)}});
}

}  // namespace aegis::testing
