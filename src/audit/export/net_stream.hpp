#pragma once
// A blocking TCP or TLS connection for the network sinks, used from the
// exporter's own thread (never an I/O thread). Every call is bounded by the
// endpoint's timeout: the operations run on a private io_context, and one
// that outlives the timeout is cancelled by closing the connection.
// TLS verifies the peer's certificate chain (ca_file, or the system trust
// store) and its host name, with SNI for host names.
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"

namespace aegis::audit::siem {

struct NetEndpoint {
  std::string host;
  std::string port;
  bool tls = false;
  std::string ca_file;  // empty: the system's trust store
  std::chrono::milliseconds timeout{10'000};
};

struct HttpAnswer {
  int status = 0;
  std::string body;
};

class NetStream {
 public:
  // Throws when the TLS trust store cannot be loaded (a start-up error).
  explicit NetStream(NetEndpoint endpoint);
  ~NetStream();
  NetStream(const NetStream&) = delete;
  NetStream& operator=(const NetStream&) = delete;

  const NetEndpoint& endpoint() const noexcept;

  // Connects unless a connection is open and the peer has not closed it (or
  // sent anything: none of the receivers speaks first or between answers).
  Result<void> ensure_connected();
  void close();

  // Writes every byte, then waits until the peer's TCP has acknowledged them
  // all (the socket's send queue is empty): for syslog, which has no answer,
  // that is the acknowledgement of the batch.
  Result<void> write_acknowledged(std::string_view data);

  // One HTTP/1.1 exchange on the connection (kept alive when the server allows).
  Result<HttpAnswer> http_exchange(const std::string& method, const std::string& target,
                                   const std::vector<std::pair<std::string, std::string>>& headers,
                                   const std::string& body);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aegis::audit::siem
