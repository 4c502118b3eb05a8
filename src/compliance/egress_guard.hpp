#pragma once
// The last line of the compliance invariant (layer 3 in docs/ARCHITECTURE.md): every
// outbound provider send passes through check() once the connection is up
// and before a byte of the request is written (http::ClientRequest::before_send).
//
// A destination is local only when the provider is declared `local` AND the
// peer address actually connected to is loopback, private (RFC 1918 / RFC
// 4193 fc00::/7, IPv4-mapped forms included) or inside egress.local_cidrs.
// Every other send is cloud-bound: its body is re-classified and a
// RESTRICTED finding blocks it with 500 egress_blocked, counting
// aegis_pipeda_blocked_total{provider}.
#include <string_view>

#include "config/config.hpp"
#include "core/result.hpp"

namespace aegis::compliance {

class EgressGuard {
 public:
  virtual ~EgressGuard() = default;
  // declared: the provider's configured locality. Ok to send, or egress_blocked.
  virtual Result<void> check(std::string_view provider, config::Locality declared, std::string_view remote_ip,
                             std::string_view body) = 0;
  // True when `remote_ip` is in a local network (loopback, RFC 1918, fc00::/7, configured CIDRs).
  virtual bool is_local_address(std::string_view remote_ip) const = 0;
};

}  // namespace aegis::compliance
