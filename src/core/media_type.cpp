#include "core/media_type.hpp"

namespace aegis {

namespace {

bool starts_with_bytes(std::string_view bytes, std::string_view magic, std::size_t at = 0) noexcept {
  return bytes.size() >= at + magic.size() && bytes.substr(at, magic.size()) == magic;
}

}  // namespace

std::optional<std::string_view> sniff_media_type(std::string_view bytes) noexcept {
  using namespace std::string_view_literals;
  if (starts_with_bytes(bytes, "\x89PNG\r\n\x1a\n"sv)) return "image/png"sv;
  if (starts_with_bytes(bytes, "\xff\xd8\xff"sv)) return "image/jpeg"sv;
  // RIFF, a 4-byte little-endian size, then the form type.
  if (starts_with_bytes(bytes, "RIFF"sv) && starts_with_bytes(bytes, "WEBP"sv, 8)) return "image/webp"sv;
  if (starts_with_bytes(bytes, "GIF87a"sv) || starts_with_bytes(bytes, "GIF89a"sv)) return "image/gif"sv;
  if (starts_with_bytes(bytes, "%PDF-"sv)) return "application/pdf"sv;
  return std::nullopt;
}

bool is_supported_image_type(std::string_view media_type) noexcept {
  return media_type == "image/png" || media_type == "image/jpeg" || media_type == "image/webp" ||
         media_type == "image/gif";
}

bool is_supported_document_type(std::string_view media_type) noexcept { return media_type == "application/pdf"; }

std::optional<MediaProblem> check_attachment_data(Attachment::Kind kind, std::string_view media_type,
                                                  std::string_view bytes) {
  const bool image = kind == Attachment::Kind::image;
  if (image && !is_supported_image_type(media_type)) {
    return MediaProblem{false, "unsupported image media type '" + std::string(media_type) +
                                   "' (supported: image/png, image/jpeg, image/webp, image/gif)"};
  }
  if (!image && !is_supported_document_type(media_type)) {
    return MediaProblem{
        false, "unsupported document media type '" + std::string(media_type) + "' (only application/pdf is supported)"};
  }
  const auto sniffed = sniff_media_type(bytes);
  if (!sniffed || (image && !is_supported_image_type(*sniffed)) || (!image && *sniffed != "application/pdf")) {
    return MediaProblem{true,
                        image ? "the data is not a PNG, JPEG, WebP or GIF image" : "the data is not a PDF document"};
  }
  if (*sniffed != media_type) {
    return MediaProblem{false, "declared as " + std::string(media_type) + " but the data is " + std::string(*sniffed)};
  }
  return std::nullopt;
}

}  // namespace aegis
