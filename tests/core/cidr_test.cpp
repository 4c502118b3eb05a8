#include "core/cidr.hpp"

#include <gtest/gtest.h>

#include <string>

namespace aegis {
namespace {

bool contains(std::string_view cidr, const std::string& address) {
  const auto block = parse_cidr(cidr);
  EXPECT_TRUE(block.has_value()) << cidr;
  return block && block->contains(boost::asio::ip::make_address(address));
}

TEST(Cidr, ContainsTheAddressesOfItsBlock) {
  EXPECT_TRUE(contains("10.0.0.0/8", "10.255.1.2"));
  EXPECT_FALSE(contains("10.0.0.0/8", "11.0.0.0"));
  EXPECT_TRUE(contains("100.64.0.0/10", "100.127.255.255"));  // ends mid-byte
  EXPECT_FALSE(contains("100.64.0.0/10", "100.128.0.0"));
  EXPECT_TRUE(contains("203.0.113.7/32", "203.0.113.7"));
  EXPECT_FALSE(contains("203.0.113.7/32", "203.0.113.8"));
  EXPECT_TRUE(contains("0.0.0.0/0", "8.8.8.8"));
  EXPECT_TRUE(contains("fc00::/7", "fdff::1"));
  EXPECT_FALSE(contains("fc00::/7", "fe00::1"));
  EXPECT_TRUE(contains("::1/128", "::1"));
  EXPECT_TRUE(contains("::/0", "2001:db8::1"));
}

TEST(Cidr, BitsPastThePrefixAreIgnored) {
  EXPECT_TRUE(contains("10.1.2.3/8", "10.9.9.9"));
  EXPECT_TRUE(contains("fd12::1/16", "fd12:ffff::"));
  EXPECT_EQ(parse_cidr("10.1.2.3/8")->network, parse_cidr("10.0.0.0/8")->network);
}

TEST(Cidr, Ipv4AndItsMappedFormAreOneBlock) {
  EXPECT_TRUE(contains("10.0.0.0/8", "::ffff:10.1.2.3"));
  EXPECT_TRUE(contains("::ffff:10.0.0.0/104", "10.1.2.3"));
  EXPECT_EQ(parse_cidr("::ffff:10.0.0.0/104")->network, parse_cidr("10.0.0.0/8")->network);
  // An IPv4 block never covers native IPv6, even /0.
  EXPECT_FALSE(contains("0.0.0.0/0", "2001:4860:4860::8888"));
  EXPECT_FALSE(contains("0.0.0.0/0", "::1"));
}

TEST(Cidr, RefusesMalformedBlocks) {
  for (const char* bad : {"",
                          "/",
                          "10.0.0.0",
                          "10.0.0.0/",
                          "/8",
                          "10.0.0.0/33",
                          "::/129",
                          "10.0.0.0/-1",
                          "10.0.0.0/+8",
                          "10.0.0.0/8 ",
                          " 10.0.0.0/8",
                          "10.0.0/8",
                          "999.0.0.0/8",
                          "10.0.0.0/8/8",
                          "10.0.0.0/0x8",
                          "10.0.0.0/4294967304",
                          "10.0.0.0/99999999999999999999",
                          "example.com/8",
                          "[::1]/128",
                          "fc00::/7x"}) {
    EXPECT_FALSE(parse_cidr(bad).has_value()) << "'" << bad << "'";
  }
  // Leading zeros are still a prefix length.
  EXPECT_EQ(parse_cidr("10.0.0.0/0008")->network, parse_cidr("10.0.0.0/8")->network);
}

}  // namespace
}  // namespace aegis
