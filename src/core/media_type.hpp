#pragma once
// What a client's image or document bytes are, told by their first bytes.
// The gateway never decodes an image: the codecs check that the declared
// media type is one the providers take and that the bytes agree with it, so
// a mislabelled file is the client's 400 rather than a provider's.
#include <optional>
#include <string>
#include <string_view>

#include "core/chat.hpp"

namespace aegis {

// image/png, image/jpeg, image/webp, image/gif or application/pdf by magic
// bytes; nullopt for anything else.
std::optional<std::string_view> sniff_media_type(std::string_view bytes) noexcept;

// image/png, image/jpeg, image/webp, image/gif: what every provider takes.
bool is_supported_image_type(std::string_view media_type) noexcept;
// application/pdf, the one document type.
bool is_supported_document_type(std::string_view media_type) noexcept;

// Why `bytes` declared as `media_type` cannot be an attachment of `kind`.
// `in_data` says which field is at fault: the bytes (no supported format),
// or the declared type (not supported for the kind, or not what the bytes are).
struct MediaProblem {
  bool in_data = false;
  std::string message;
};
std::optional<MediaProblem> check_attachment_data(Attachment::Kind kind, std::string_view media_type,
                                                  std::string_view bytes);

}  // namespace aegis
