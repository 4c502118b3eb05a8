#pragma once
// CIDR blocks ("10.0.0.0/8", "fc00::/7"), parsed by Asio's make_network_v4/v6.
// NO_PROXY entries, egress.local_cidrs and the egress guard's built-in local
// networks all go through parse_cidr.
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/network_v6.hpp>

#include <optional>
#include <string_view>

namespace aegis {

// One block over IPv6: an IPv4 block is kept IPv4-mapped (::ffff:a.b.c.d,
// prefix + 96), so 10.0.0.0/8 and ::ffff:10.0.0.0/104 are the same block
// and each contains both spellings of 10.1.2.3.
struct Cidr {
  boost::asio::ip::network_v6 network;  // canonical: no bits set past the prefix

  bool contains(const boost::asio::ip::address& address) const noexcept;
};

// An address, '/', and a prefix length in decimal digits within the
// address's family (32 or 128). Bits past the prefix may be set
// ("10.1.2.3/8" is 10.0.0.0/8). nullopt when malformed. The config loader's
// egress.local_cidrs check can call this too, so that what it accepts is
// exactly what the egress guard parses.
std::optional<Cidr> parse_cidr(std::string_view text);

}  // namespace aegis
