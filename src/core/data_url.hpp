#pragma once
// RFC 2397 data URLs as clients send inline files (OpenAI image_url.url and
// file.file_data, Responses input_image.image_url and input_file.file_data):
// data:<media type>[;<parameter>...];base64,<payload>. Only the base64 form:
// a percent-encoded data URL is not a way anyone sends an image.
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace aegis {

struct DataUrl {
  std::string media_type;  // lower-cased, without parameters
  std::string data;        // the decoded bytes
};

// invalid_request for anything but a well-formed base64 data URL with a
// media type and a non-empty payload; the message reads after a field name
// ("image_url.url: is not a data URL ...").
Result<DataUrl> parse_data_url(std::string_view url);

// data:<media_type>;base64,<standard base64 of bytes>
std::string to_data_url(std::string_view media_type, std::string_view bytes);

// The URL starts with http:// or https:// (any case): one the gateway may
// fetch, as opposed to a data URL or a scheme no provider reads.
bool is_http_url(std::string_view url) noexcept;

}  // namespace aegis
