#include "core/attachment_json.hpp"

#include "core/data_url.hpp"
#include "core/encoding.hpp"
#include "core/media_type.hpp"

namespace aegis {

namespace json = boost::json;

namespace {

Error invalid(std::string_view path, std::string_view field, std::string_view what) {
  std::string message(path);
  if (!field.empty()) {
    message += '.';
    message += field;
  }
  message += ' ';
  message += what;
  return make_error(ErrorCode::invalid_request, std::move(message));
}

}  // namespace

json::object attachment_json(const Attachment& a) {
  json::object out{{"type", a.kind == Attachment::Kind::image ? "image" : "document"}};
  if (!a.media_type.empty()) out["media_type"] = a.media_type;
  if (!a.data.empty()) out["data"] = base64_encode(a.data);
  if (!a.url.empty()) out["url"] = a.url;
  if (!a.filename.empty()) out["filename"] = a.filename;
  if (!a.detail.empty()) out["detail"] = a.detail;
  if (!a.cache_control.is_null()) out["cache_control"] = a.cache_control;
  return out;
}

Result<Attachment> parse_attachment_json(const json::value& value, std::string_view path) {
  if (!value.is_object()) return invalid(path, "", "must be an object");
  const auto& o = value.get_object();
  Attachment a;
  for (const auto& [key, v] : o) {
    if (key == "cache_control") {
      if (!v.is_object()) return invalid(path, key, "must be an object");
      // Out of whatever arena the request was parsed into.
      a.cache_control = json::value(v, json::storage_ptr());
      continue;
    }
    if (!v.is_string()) return invalid(path, key, "must be a string");
    const std::string_view text = v.get_string();
    if (key == "type") {
      if (text != "image" && text != "document") return invalid(path, key, "must be \"image\" or \"document\"");
      a.kind = text == "image" ? Attachment::Kind::image : Attachment::Kind::document;
    } else if (key == "media_type") {
      a.media_type = std::string(text);
    } else if (key == "data") {
      auto bytes = base64_decode(text);
      if (!bytes || bytes->empty()) return invalid(path, key, "must be non-empty standard base64");
      a.data = std::move(*bytes);
    } else if (key == "url") {
      if (!is_http_url(text)) return invalid(path, key, "must be an http(s) URL");
      a.url = std::string(text);
    } else if (key == "filename") {
      a.filename = std::string(text);
    } else if (key == "detail") {
      a.detail = std::string(text);
    } else {
      return invalid(path, key, "is not a field of an attachment");
    }
  }
  if (!o.contains("type")) return invalid(path, "type", "is required");
  if (a.data.empty() == a.url.empty()) return invalid(path, "", "must have either data or url");
  if (!a.media_type.empty() && a.data.empty() &&
      !(a.kind == Attachment::Kind::image ? is_supported_image_type(a.media_type)
                                          : is_supported_document_type(a.media_type))) {
    return invalid(path, "media_type", "is not a supported " + std::string(o.at("type").get_string()) + " type");
  }
  if (!a.data.empty()) {
    if (a.media_type.empty()) return invalid(path, "media_type", "is required with data");
    if (auto problem = check_attachment_data(a.kind, a.media_type, a.data)) {
      return invalid(path, problem->in_data ? "data:" : "media_type:", problem->message);
    }
  }
  return a;
}

}  // namespace aegis
