#include "core/digest.hpp"

#include <openssl/evp.h>

#include <stdexcept>

namespace aegis {

Sha256 sha256(std::string_view bytes) {
  Sha256 digest{};
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1 ||
      length != digest.size()) {
    throw std::runtime_error("SHA-256 is unavailable");
  }
  return digest;
}

}  // namespace aegis
