#pragma once
// How identity/ reads an identity provider's documents (the discovery
// document, the JWK Set) without depending on the HTTP client: the
// composition root hands it an implementation over http/ (app/), tests a fake.
#include <boost/asio/awaitable.hpp>

#include <string>

#include "core/result.hpp"

namespace aegis::identity {

class DocumentFetcher {
 public:
  virtual ~DocumentFetcher() = default;
  // The body of a 200 answer to GET `url`; any other outcome is an error
  // (for the log: it may name the status, never the token being verified).
  virtual boost::asio::awaitable<Result<std::string>> fetch(std::string url) = 0;
};

}  // namespace aegis::identity
