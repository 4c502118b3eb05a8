#include "http/json_response.hpp"

#include <boost/json/parse.hpp>
#include <boost/url/parse_query.hpp>

#include <algorithm>

#include "core/json.hpp"

namespace aegis::http {

HttpResponse json_response(int status, const boost::json::value& body) {
  HttpResponse response;
  response.status = status;
  response.body = to_json(body);
  response.set_header("content-type", "application/json");
  return response;
}

HttpResponse error_response(const Error& error, std::string_view request_id) {
  boost::json::object inner;
  inner["type"] = error_type(error.code);
  inner["message"] = error.message;
  inner["request_id"] = request_id;
  boost::json::object outer;
  outer["error"] = std::move(inner);
  HttpResponse response = json_response(http_status(error.code), outer);
  if (error.retry_after_seconds > 0) response.set_header("retry-after", std::to_string(error.retry_after_seconds));
  if (error.code == ErrorCode::unauthorized) response.set_header("www-authenticate", "Bearer");
  return response;
}

Result<boost::json::object> parse_json_object(const HttpRequest& request, boost::json::storage_ptr storage) {
  auto content_type = request.header("content-type");
  if (!content_type) {
    return make_error(ErrorCode::unsupported_media_type, "Content-Type must be application/json");
  }
  std::string_view media = content_type->substr(0, content_type->find(';'));
  while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
  if (!iequals(media, "application/json")) {
    return make_error(ErrorCode::unsupported_media_type, "Content-Type must be application/json");
  }
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(request.body, ec, std::move(storage));
  if (ec) {
    return make_error(ErrorCode::invalid_json, "request body is not valid JSON (" + ec.message() + ")");
  }
  if (!value.is_object()) return make_error(ErrorCode::invalid_request, "request body must be a JSON object");
  return std::move(value.as_object());
}

Result<void> reject_unknown_fields(const boost::json::object& object, std::initializer_list<std::string_view> allowed) {
  for (const auto& entry : object) {
    if (std::find(allowed.begin(), allowed.end(), entry.key()) == allowed.end()) {
      std::string names;
      for (auto name : allowed) names += (names.empty() ? "" : ", ") + std::string(name);
      return make_error(ErrorCode::invalid_request,
                        "unknown field '" + std::string(entry.key()) + "' (allowed: " + names + ")");
    }
  }
  return {};
}

Result<std::map<std::string, std::string>> query_params(const HttpRequest& request,
                                                        std::initializer_list<std::string_view> allowed) {
  std::map<std::string, std::string> out;
  if (request.query.empty()) return out;
  auto params = boost::urls::parse_query(request.query);
  if (!params) return make_error(ErrorCode::invalid_request, "malformed query string");
  for (auto param : *params) {
    // parse_query yields the encoded text. Decoded without space_as_plus, so
    // a raw "+01:00" offset in `since` survives.
    std::string key = param.key.decode();
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string names;
      for (auto name : allowed) names += (names.empty() ? "" : ", ") + std::string(name);
      if (names.empty()) names = "none";
      std::string message = "unknown query parameter '" + key + "' (allowed: ";
      message += names;
      message += ")";
      return make_error(ErrorCode::invalid_request, std::move(message));
    }
    if (out.contains(key)) {
      return make_error(ErrorCode::invalid_request, "query parameter '" + key + "' is given more than once");
    }
    out.emplace(std::move(key), param.has_value ? param.value.decode() : std::string());
  }
  return out;
}

}  // namespace aegis::http
