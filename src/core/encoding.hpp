#pragma once
// Bytes as text: base64 (OpenSSL's EVP_EncodeBlock/EVP_DecodeBlock) and hex.
// The one place these are written; API keys, job ids, content keys, proxy
// credentials and base64 embeddings all use it.
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace aegis {

// Standard base64 (RFC 4648 §4: '+', '/', '=' padding).
std::string base64_encode(std::span<const unsigned char> bytes);
std::string base64_encode(std::string_view bytes);

// URL-safe base64 (RFC 4648 §5: '-', '_'), without padding.
std::string base64url_encode(std::span<const unsigned char> bytes);
std::string base64url_encode(std::string_view bytes);

// URL-safe base64 without padding, as JOSE writes it (RFC 7515 §2): only
// letters of that alphabet, no '=', and canonical (the unused low bits of the
// last character zero), so that every byte string has exactly one spelling
// and a token cannot be altered without altering what it decodes to. nullopt
// when malformed.
std::optional<std::string> base64url_decode(std::string_view text);

// Standard base64 with its padding, and nothing else: no whitespace, no
// URL-safe letters, '=' only as the last one or two characters. Bits past the
// last whole byte are ignored. nullopt when malformed.
std::optional<std::string> base64_decode(std::string_view text);

// A float vector's little-endian float32 bytes in standard base64
// (OpenAI's encoding_format "base64").
std::string base64_floats(std::span<const float> values);

// Lower-case hex, two digits a byte.
std::string hex_encode(std::span<const unsigned char> bytes);

// Hex digits (either case), two a byte; nullopt on an odd count or a non-hex character.
std::optional<std::string> hex_decode(std::string_view text);

}  // namespace aegis
