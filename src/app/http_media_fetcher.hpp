#pragma once
// media::Fetcher over the outbound HTTP client (media.fetch_urls): one GET,
// no redirects followed, bounded by media.fetch_max_bytes and short
// timeouts. Unless media.fetch_local allows it, the address actually
// connected to must be outside the local network (the egress guard's
// definition: loopback, RFC 1918, RFC 4193, link-local, egress.local_cidrs),
// checked after connecting and before a byte is sent, so a client cannot
// make the gateway read from its own network, DNS tricks included.
#include <cstddef>

#include "compliance/egress_guard.hpp"
#include "http/client.hpp"
#include "media/media_inspector.hpp"

namespace aegis::app {

class HttpMediaFetcher final : public media::Fetcher {
 public:
  HttpMediaFetcher(http::HttpClient& client, const compliance::EgressGuard& guard, std::size_t max_bytes,
                   bool allow_local)
      : client_(client), guard_(guard), max_bytes_(max_bytes), allow_local_(allow_local) {}

  boost::asio::awaitable<Result<std::string>> fetch(const std::string& url) override;

 private:
  http::HttpClient& client_;
  const compliance::EgressGuard& guard_;
  std::size_t max_bytes_;
  bool allow_local_;
};

}  // namespace aegis::app
