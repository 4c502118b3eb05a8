#include "identity/jwt.hpp"

#include <boost/json/parse.hpp>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <memory>

#include "core/encoding.hpp"

namespace aegis::identity {

namespace {

constexpr std::array<std::string_view, 11> kReasons = {
    "malformed",     "unsupported_alg",  "unknown_issuer", "unknown_key", "bad_signature",    "expired",
    "not_yet_valid", "issued_in_future", "wrong_audience", "bad_claims",  "keys_unavailable",
};

bool is_base64url_letter(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

std::optional<boost::json::object> json_object(std::string_view segment) {
  const auto bytes = base64url_decode(segment);
  if (!bytes) return std::nullopt;
  boost::system::error_code ec;
  // A duplicate member keeps its last value (Boost.JSON's rule, RFC 7515 §5.2's "lexically last").
  auto value = boost::json::parse(*bytes, ec);
  if (ec || !value.is_object()) return std::nullopt;
  return std::move(value.as_object());
}

struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};
struct EcdsaSigFree {
  void operator()(ECDSA_SIG* s) const noexcept { ECDSA_SIG_free(s); }
};

// JOSE's r || s (RFC 7518 §3.4) as the DER SEQUENCE OpenSSL verifies.
std::optional<std::string> es256_der(const std::string& jose) {
  if (jose.size() != 64) return std::nullopt;
  const auto* bytes = reinterpret_cast<const unsigned char*>(jose.data());
  std::unique_ptr<ECDSA_SIG, EcdsaSigFree> sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(bytes, 32, nullptr);
  BIGNUM* s = BN_bin2bn(bytes + 32, 32, nullptr);
  if (!sig || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return std::nullopt;
  }
  unsigned char* der = nullptr;
  const int n = i2d_ECDSA_SIG(sig.get(), &der);
  if (n <= 0) return std::nullopt;
  std::string out(reinterpret_cast<const char*>(der), static_cast<std::size_t>(n));
  OPENSSL_free(der);
  return out;
}

// A NumericDate claim as whole seconds; nullopt when absent, an error when not a number.
Result<std::optional<std::int64_t>> numeric_date(const boost::json::object& claims, std::string_view name) {
  const auto* v = claims.if_contains(name);
  if (v == nullptr) return std::optional<std::int64_t>{};
  if (v->is_int64()) return std::optional<std::int64_t>{v->as_int64()};
  if (v->is_uint64()) {
    return std::optional<std::int64_t>{static_cast<std::int64_t>(std::min<std::uint64_t>(v->as_uint64(), INT64_MAX))};
  }
  if (v->is_double() && std::isfinite(v->as_double()) && std::abs(v->as_double()) < 1e15) {
    return std::optional<std::int64_t>{static_cast<std::int64_t>(std::floor(v->as_double()))};
  }
  return token_error(TokenFailure::bad_claims, std::string(name) + " is not a number");
}

}  // namespace

std::string_view to_string(TokenFailure reason) noexcept { return kReasons.at(static_cast<std::size_t>(reason)); }

Error token_error(TokenFailure reason, std::string_view detail) {
  return make_error(ErrorCode::unauthorized, std::string(to_string(reason)) + ": " + std::string(detail));
}

std::string_view token_failure_reason(const Error& error) noexcept {
  const std::string_view message = error.message;
  const auto colon = message.find(':');
  if (colon != std::string_view::npos) {
    const auto head = message.substr(0, colon);
    for (const auto reason : kReasons) {
      if (reason == head) return reason;
    }
  }
  return "other";
}

bool looks_like_jwt(std::string_view token) noexcept {
  if (std::ranges::count(token, '.') != 2) return false;
  return std::ranges::all_of(token, [](char c) { return c == '.' || is_base64url_letter(c); });
}

Result<Jwt> parse_jwt(std::string_view token) {
  if (token.size() > kMaxTokenBytes) return token_error(TokenFailure::malformed, "over 8 KiB");
  const auto first = token.find('.');
  const auto second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return token_error(TokenFailure::malformed, "not three segments");
  }
  const auto header_text = token.substr(0, first);
  const auto payload_text = token.substr(first + 1, second - first - 1);
  const auto signature_text = token.substr(second + 1);
  if (header_text.empty() || payload_text.empty()) return token_error(TokenFailure::malformed, "an empty segment");

  Jwt out;
  auto header = json_object(header_text);
  if (!header) return token_error(TokenFailure::malformed, "the header is not base64url JSON");
  out.header = std::move(*header);
  const auto* alg = out.header.if_contains("alg");
  if (alg == nullptr || !alg->is_string()) return token_error(TokenFailure::malformed, "no alg");
  const auto parsed = parse_jws_alg(alg->as_string());
  if (!parsed) return token_error(TokenFailure::unsupported_alg, "alg not accepted");
  out.alg = *parsed;
  if (out.header.contains("crit")) return token_error(TokenFailure::malformed, "a crit header");
  if (const auto* kid = out.header.if_contains("kid"); kid != nullptr) {
    if (!kid->is_string()) return token_error(TokenFailure::malformed, "kid is not a string");
    out.kid = std::string(kid->as_string());
  }
  if (signature_text.empty()) return token_error(TokenFailure::malformed, "no signature");
  auto signature = base64url_decode(signature_text);
  if (!signature) return token_error(TokenFailure::malformed, "the signature is not base64url");
  out.signature = std::move(*signature);
  auto claims = json_object(payload_text);
  if (!claims) return token_error(TokenFailure::malformed, "the payload is not base64url JSON");
  out.claims = std::move(*claims);
  out.signing_input = std::string(token.substr(0, second));
  return out;
}

Result<void> verify_signature(const Jwt& token, const Jwk& key) {
  if (!key.accepts(token.alg)) return token_error(TokenFailure::unknown_key, "the key does not fit the alg");
  std::string der;
  const std::string* signature = &token.signature;
  if (token.alg == JwsAlg::ES256) {
    auto converted = es256_der(token.signature);
    if (!converted) return token_error(TokenFailure::bad_signature, "not a 64-byte ES256 signature");
    der = std::move(*converted);
    signature = &der;
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx) return make_error(ErrorCode::internal, "out of memory");
  EVP_PKEY_CTX* pctx = nullptr;
  const EVP_MD* md = token.alg == JwsAlg::EdDSA ? nullptr : EVP_sha256();  // Ed25519 hashes by itself
  if (EVP_DigestVerifyInit(ctx.get(), &pctx, md, nullptr, key.key()) != 1) {
    return token_error(TokenFailure::bad_signature, "the key cannot verify");
  }
  if (token.alg == JwsAlg::PS256 && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
                                     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
                                     EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) != 1)) {
    return token_error(TokenFailure::bad_signature, "cannot set up PSS");
  }
  const int verified =
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature->data()), signature->size(),
                       reinterpret_cast<const unsigned char*>(token.signing_input.data()), token.signing_input.size());
  if (verified != 1) return token_error(TokenFailure::bad_signature, "the signature does not verify");
  return {};
}

Result<void> check_claims(const Jwt& token, const ClaimRules& rules, std::chrono::system_clock::time_point now) {
  const auto& claims = token.claims;
  const std::int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  const std::int64_t skew = rules.clock_skew.count();

  const auto* iss = claims.if_contains("iss");
  if (iss == nullptr || !iss->is_string() || iss->as_string() != rules.issuer) {
    return token_error(TokenFailure::unknown_issuer, "iss differs");
  }
  bool audience = false;
  if (const auto* aud = claims.if_contains("aud"); aud != nullptr) {
    if (aud->is_string()) {
      audience = aud->as_string() == rules.audience;
    } else if (aud->is_array()) {
      audience = std::ranges::any_of(aud->as_array(), [&](const boost::json::value& v) {
        return v.is_string() && v.as_string() == rules.audience;
      });
    }
  }
  if (!audience) return token_error(TokenFailure::wrong_audience, "aud lacks the audience");

  AEGIS_TRY(exp, numeric_date(claims, "exp"));
  if (!exp) return token_error(TokenFailure::expired, "no exp");
  if (now_s >= *exp + skew) return token_error(TokenFailure::expired, "exp passed");
  AEGIS_TRY(nbf, numeric_date(claims, "nbf"));
  if (nbf && now_s + skew < *nbf) return token_error(TokenFailure::not_yet_valid, "nbf in the future");
  AEGIS_TRY(iat, numeric_date(claims, "iat"));
  if (iat && now_s + skew < *iat) return token_error(TokenFailure::issued_in_future, "iat in the future");

  const auto* sub = claims.if_contains("sub");
  if (sub == nullptr || !sub->is_string() || sub->as_string().empty()) {
    return token_error(TokenFailure::bad_claims, "no sub");
  }
  return {};
}

std::vector<std::string> string_values(const boost::json::object& claims, std::string_view name) {
  std::vector<std::string> out;
  const auto* v = claims.if_contains(name);
  if (v == nullptr) return out;
  if (v->is_string()) {
    out.emplace_back(v->as_string());
  } else if (v->is_array()) {
    for (const auto& item : v->as_array()) {
      if (item.is_string()) out.emplace_back(item.as_string());
    }
  }
  return out;
}

}  // namespace aegis::identity
