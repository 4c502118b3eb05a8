// libFuzzer target: what a client puts after "Bearer " and what an identity
// provider answers for its JWK Set (identity/jwt.cpp, identity/jwks.cpp), on
// arbitrary bytes. Parsing either is total (a token or an error, never a
// crash or a hang), the same answer twice; a parsed token's signature check
// against a fixed Ed25519 key and its claim checks are total as well, and a
// token refused by parse_jwt is also refused by looks_like_jwt's caller path.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "identity/jwks.hpp"
#include "identity/jwt.hpp"

namespace {

using namespace aegis::identity;

[[noreturn]] void fail(const char* what, std::size_t size) {
  std::fprintf(stderr, "jwt_fuzz: %s (input %zu bytes)\n", what, size);
  std::abort();
}

// RFC 8037 A.2's public key.
const JwkSet& keys() {
  static const JwkSet set = [] {
    auto parsed = parse_jwk_set(
        R"({"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]})");
    if (!parsed.ok()) fail("the fixed key set does not parse", 0);
    return std::move(*parsed);
  }();
  return set;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto token = parse_jwt(input);
  auto again = parse_jwt(input);
  if (token.ok() != again.ok()) fail("parse_jwt answered differently twice", size);
  if (token.ok()) {
    if (!looks_like_jwt(input)) fail("a parsed token does not look like a JWT", size);
    for (const auto& key : keys().keys) {
      const bool first = verify_signature(*token, key).ok();
      if (first != verify_signature(*token, key).ok()) fail("verify_signature answered differently twice", size);
    }
    const ClaimRules rules{"https://idp.example.com", "aegis", std::chrono::seconds(60)};
    (void)check_claims(*token, rules, std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000)));
  }
  auto set = parse_jwk_set(input);
  if (set.ok() != parse_jwk_set(input).ok()) fail("parse_jwk_set answered differently twice", size);
  return 0;
}
