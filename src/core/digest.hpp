#pragma once
// SHA-256 of bytes (OpenSSL's EVP_Digest): the one place it is computed in
// one shot, for API key hashes, response-cache keys and the media cache.
#include <array>
#include <string_view>

namespace aegis {

using Sha256 = std::array<unsigned char, 32>;

// Throws std::runtime_error when OpenSSL has no SHA-256 (an installation
// without its default provider): nothing that hashes can work then.
Sha256 sha256(std::string_view bytes);

}  // namespace aegis
