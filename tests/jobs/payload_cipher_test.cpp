#include "jobs/payload_cipher.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "core/secret_key.hpp"

namespace aegis::jobs {
namespace {

ContentKey key(std::string id, std::uint8_t fill) {
  ContentKey k;
  k.id = std::move(id);
  k.bytes.fill(fill);
  return k;
}

const std::string kRow = "job_018bcfe568000123456789abcdef0123456789abcdef";
const std::string kPrompt = R"({"prompt":"SIN 046 454 286, jennifer.walsh@acme-mail.com","max_tokens":64})";

TEST(SecretKey, ParsesHexAndBase64AndNothingElse) {
  const std::string hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
  auto k = parse_key256(hex + "\n");
  ASSERT_TRUE(k);
  EXPECT_EQ((*k)[0], 0);
  EXPECT_EQ((*k)[31], 0x1f);
  EXPECT_EQ(key256_to_hex(*k), hex);
  auto upper = parse_key256("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F");
  ASSERT_TRUE(upper);
  EXPECT_EQ(*upper, *k);
  // base64 of the same 32 bytes.
  auto b64 = parse_key256("  AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n");
  ASSERT_TRUE(b64);
  EXPECT_EQ(*b64, *k);
  EXPECT_FALSE(parse_key256(""));
  EXPECT_FALSE(parse_key256(hex.substr(2)));                                  // 31 bytes
  EXPECT_FALSE(parse_key256(hex + "00"));                                     // 33 bytes
  EXPECT_FALSE(parse_key256("zz" + hex.substr(2)));                           // not hex
  EXPECT_FALSE(parse_key256("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg=="));  // 31 bytes of base64
  EXPECT_FALSE(parse_key256("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdH!8="));  // not base64
  EXPECT_FALSE(parse_key256("correct horse battery staple"));
}

TEST(PayloadCipher, RoundTripsAndHidesThePlaintext) {
  PayloadCipher cipher({key("k1", 7)}, "k1");
  EXPECT_EQ(cipher.active_key_id(), "k1");
  auto sealed = cipher.seal(kRow, "request_json", kPrompt);
  ASSERT_TRUE(sealed.ok()) << sealed.error().message;
  EXPECT_EQ(sealed->find("046 454 286"), std::string::npos);
  EXPECT_EQ(sealed->find("jennifer"), std::string::npos);
  EXPECT_EQ(sealed->size(), 1 + 1 + 2 + 12 + kPrompt.size() + 16);
  EXPECT_EQ(PayloadCipher::key_id_of(*sealed), std::optional<std::string>("k1"));
  auto opened = cipher.open(kRow, "request_json", *sealed);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(*opened, kPrompt);

  // Empty values and binary values round-trip too.
  auto empty = cipher.seal(kRow, "vault_json", "");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*cipher.open(kRow, "vault_json", *empty), "");
  const std::string binary("\0\x01\xff\x80 text", 9);
  EXPECT_EQ(*cipher.open(kRow, "result_text", *cipher.seal(kRow, "result_text", binary)), binary);
}

TEST(PayloadCipher, EveryValueGetsAFreshNonce) {
  PayloadCipher cipher({key("k1", 7)}, "k1");
  auto a = cipher.seal(kRow, "request_json", kPrompt);
  auto b = cipher.seal(kRow, "request_json", kPrompt);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_NE(a->substr(4, 12), b->substr(4, 12));  // the nonces themselves differ
}

TEST(PayloadCipher, DetectsTamperingWithCiphertextTagNonceAndHeader) {
  PayloadCipher cipher({key("k1", 7), key("k2", 9)}, "k1");
  const std::string sealed = *cipher.seal(kRow, "request_json", kPrompt);
  const std::size_t header = 2 + 2;
  const std::size_t nonce = header;
  const std::size_t body = nonce + 12;
  for (std::size_t at : {nonce, nonce + 11, body, body + kPrompt.size() / 2, sealed.size() - 16, sealed.size() - 1}) {
    std::string bad = sealed;
    bad[at] = static_cast<char>(bad[at] ^ 0x01);
    auto opened = cipher.open(kRow, "request_json", bad);
    ASSERT_FALSE(opened.ok()) << "flipped byte " << at;
    EXPECT_EQ(opened.error().code, ErrorCode::internal);
    EXPECT_EQ(opened.error().message.find("046"), std::string::npos);
  }
  // Relabelling the value with another configured key id is caught as well.
  std::string relabelled = sealed;
  relabelled[3] = '2';
  EXPECT_FALSE(cipher.open(kRow, "request_json", relabelled).ok());
  // Truncated values and other formats are errors, not crashes.
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{3}, std::size_t{20}, sealed.size() - 1}) {
    EXPECT_FALSE(cipher.open(kRow, "request_json", sealed.substr(0, n)).ok()) << n;
  }
  std::string other_format = sealed;
  other_format[0] = 0x02;
  EXPECT_FALSE(cipher.open(kRow, "request_json", other_format).ok());
}

TEST(PayloadCipher, AssociatedDataBindsTheValueToItsRowAndColumn) {
  PayloadCipher cipher({key("k1", 7)}, "k1");
  const std::string sealed = *cipher.seal(kRow, "request_json", kPrompt);
  EXPECT_FALSE(cipher.open(kRow, "vault_json", sealed).ok());
  EXPECT_FALSE(cipher.open(kRow, "result_text", sealed).ok());
  EXPECT_FALSE(cipher.open(kRow + "0", "request_json", sealed).ok());
  EXPECT_FALSE(cipher.open("job_other", "request_json", sealed).ok());
  // Length-prefixed parts: moving a character between row id and column does not collide.
  const std::string a = *cipher.seal("ab", "c", "x");
  EXPECT_FALSE(cipher.open("a", "bc", a).ok());
  EXPECT_TRUE(cipher.open(kRow, "request_json", sealed).ok());
}

TEST(PayloadCipher, RotationReadsOldRowsAndWritesWithTheActiveKey) {
  PayloadCipher before({key("k1", 1)}, "k1");
  const std::string old_row = *before.seal(kRow, "request_json", kPrompt);

  PayloadCipher after({key("k2", 2), key("k1", 1)}, "k2");
  auto opened = after.open(kRow, "request_json", old_row);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(*opened, kPrompt);
  const std::string new_row = *after.seal(kRow, "request_json", kPrompt);
  EXPECT_EQ(PayloadCipher::key_id_of(new_row), std::optional<std::string>("k2"));
  EXPECT_FALSE(before.open(kRow, "request_json", new_row).ok());  // k1 alone cannot read k2's rows
}

TEST(PayloadCipher, UnknownKeyIdAndWrongKeyBytesAreClearErrorsNamingNoSecret) {
  PayloadCipher writer({key("k1", 1)}, "k1");
  const std::string sealed = *writer.seal(kRow, "request_json", kPrompt);

  PayloadCipher other({key("k2", 2)}, "k2");
  auto unknown = other.open(kRow, "request_json", sealed);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ErrorCode::internal);
  EXPECT_NE(unknown.error().message.find("'k1'"), std::string::npos) << unknown.error().message;
  EXPECT_NE(unknown.error().message.find("not configured"), std::string::npos);

  PayloadCipher impostor({key("k1", 3)}, "k1");  // same id, different bytes
  auto wrong = impostor.open(kRow, "request_json", sealed);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message.find("authentication"), std::string::npos) << wrong.error().message;
  for (const auto& message : {unknown.error().message, wrong.error().message}) {
    EXPECT_EQ(message.find("046"), std::string::npos);
    EXPECT_EQ(message.find("0101"), std::string::npos);
  }
}

TEST(PayloadCipher, RejectsBadKeyRings) {
  EXPECT_THROW(PayloadCipher({}, "k1"), std::invalid_argument);
  EXPECT_THROW(PayloadCipher({key("k1", 1)}, "k2"), std::invalid_argument);
  EXPECT_THROW(PayloadCipher({key("k1", 1), key("k1", 2)}, "k1"), std::invalid_argument);
  EXPECT_THROW(PayloadCipher({key("bad id", 1)}, "bad id"), std::invalid_argument);
  EXPECT_THROW(PayloadCipher({key(std::string(65, 'k'), 1)}, std::string(65, 'k')), std::invalid_argument);
  EXPECT_NO_THROW(PayloadCipher({key(std::string(64, 'k'), 1)}, std::string(64, 'k')));
}

}  // namespace
}  // namespace aegis::jobs
