#include "core/cidr.hpp"

#include <boost/asio/ip/network_v4.hpp>

#include <charconv>
#include <string>

namespace aegis {

namespace ip = boost::asio::ip;

namespace {

ip::address_v6 as_v6(const ip::address& address) {
  return address.is_v4() ? ip::make_address_v6(ip::v4_mapped, address.to_v4()) : address.to_v6();
}

}  // namespace

bool Cidr::contains(const ip::address& address) const noexcept {
  return ip::network_v6(as_v6(address), network.prefix_length()).network().to_bytes() == network.network().to_bytes();
}

std::optional<Cidr> parse_cidr(std::string_view text) {
  // make_network_v4/v6 read the prefix with atoi, which overflows silently
  // ("/4294967304" would read as 8): refuse a prefix past 128 first.
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const std::string_view prefix = text.substr(slash + 1);
  unsigned bits = 0;
  const auto [end, err] = std::from_chars(prefix.data(), prefix.data() + prefix.size(), bits);
  if (err != std::errc{} || end != prefix.data() + prefix.size() || bits > 128) return std::nullopt;
  const std::string s(text);
  boost::system::error_code ec;
  if (text.find(':') == std::string_view::npos) {
    const auto v4 = ip::make_network_v4(s, ec);
    if (ec) return std::nullopt;
    const auto mapped = ip::make_address_v6(ip::v4_mapped, v4.network());
    return Cidr{ip::network_v6(mapped, static_cast<unsigned short>(v4.prefix_length() + 96))};
  }
  const auto v6 = ip::make_network_v6(s, ec);
  if (ec) return std::nullopt;
  return Cidr{v6.canonical()};
}

}  // namespace aegis
